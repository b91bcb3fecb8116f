package dataset

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/chorus-data/chorus/internal/blockhash"
	"github.com/chorus-data/chorus/overlay"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// MaxBlockSize is the largest block (chunk or manifest) Chorus stores.
const MaxBlockSize = 8 << 20

// nameKeyPrefix is prepended to a dataset name before hashing it into a
// ring key, so that name keys cannot collide with block keys by design.
const nameKeyPrefix = "chorus/name/v1\x00"

// digestSize is the length of the digest inside every block CID Chorus
// accepts: 32 bytes for both sha2-256 and blake3.
const digestSize = blockhash.Size

var (
	// ErrHashMismatch is wrapped by VerifyBlock when data does not hash to
	// the CID.
	ErrHashMismatch = errors.New("block hash mismatch")
	// ErrUnsupportedCID is wrapped when a CID is not one Chorus uses:
	// CIDv1, raw codec, and a blake3 or sha2-256 multihash with a 32-byte
	// digest.
	ErrUnsupportedCID = errors.New("unsupported CID")
	// ErrBlockTooLarge is wrapped when a block exceeds MaxBlockSize.
	ErrBlockTooLarge = errors.New("block too large")
)

// BlockCID returns the CID of a block: CIDv1, raw codec (0x55), blake3
// multihash (0x1e) with a 32-byte digest of data. Blocks written before
// Chorus switched to blake3 carry sha2-256 CIDs; CheckCID and VerifyBlock
// accept both.
func BlockCID(data []byte) cid.Cid {
	sum, _ := blockhash.Sum(mh.BLAKE3, data)
	h, err := mh.Encode(sum[:], mh.BLAKE3)
	if err != nil {
		// mh.Encode fails only for unknown codes; BLAKE3 is known.
		panic(fmt.Sprintf("dataset: multihash encode: %v", err))
	}
	return cid.NewCidV1(cid.Raw, h)
}

// CheckCID returns nil if c is a CID Chorus accepts (CIDv1, raw codec,
// blake3 or sha2-256 with a 32-byte digest) and an error wrapping
// ErrUnsupportedCID that names the offending property otherwise.
func CheckCID(c cid.Cid) error {
	_, _, err := cidDigest(c)
	return err
}

// cidDigest checks c like CheckCID and returns its multihash code and its
// 32-byte digest.
func cidDigest(c cid.Cid) (uint64, []byte, error) {
	if !c.Defined() {
		return 0, nil, fmt.Errorf("%w: undefined CID", ErrUnsupportedCID)
	}
	if v := c.Version(); v != 1 {
		return 0, nil, fmt.Errorf("%w: %s is CIDv%d, want CIDv1", ErrUnsupportedCID, c, v)
	}
	if t := c.Type(); t != cid.Raw {
		return 0, nil, fmt.Errorf("%w: %s has codec 0x%x, want raw (0x55)", ErrUnsupportedCID, c, t)
	}
	dm, err := mh.Decode(c.Hash())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: bad multihash: %w", ErrUnsupportedCID, c, err)
	}
	if dm.Code != mh.BLAKE3 && dm.Code != mh.SHA2_256 {
		return 0, nil, fmt.Errorf("%w: %s has hash function 0x%x, want blake3 (0x1e) or sha2-256 (0x12)", ErrUnsupportedCID, c, dm.Code)
	}
	if len(dm.Digest) != digestSize {
		return 0, nil, fmt.Errorf("%w: %s has a %d-byte digest, want %d for blake3 and sha2-256", ErrUnsupportedCID, c, len(dm.Digest), digestSize)
	}
	return dm.Code, dm.Digest, nil
}

// VerifyBlock checks that data is the block named by c, hashing it with
// the function c names (blake3 or sha2-256). It returns an error wrapping
// ErrUnsupportedCID if c is not a CID Chorus uses, ErrBlockTooLarge if
// data exceeds MaxBlockSize, and ErrHashMismatch if data does not hash to
// c's digest.
func VerifyBlock(c cid.Cid, data []byte) error {
	code, digest, err := cidDigest(c)
	if err != nil {
		return err
	}
	if len(data) > MaxBlockSize {
		return fmt.Errorf("%w: %d bytes for %s (max %d)", ErrBlockTooLarge, len(data), c, MaxBlockSize)
	}
	sum, _ := blockhash.Sum(code, data) // cidDigest let only its codes through
	if !bytes.Equal(sum[:], digest) {
		return fmt.Errorf("%w: %d bytes do not hash to %s", ErrHashMismatch, len(data), c)
	}
	return nil
}

// KeyOf returns the ring key of the block named by c: the 32-byte digest
// of c's multihash. For a CID that CheckCID rejects (which Chorus never
// stores) it returns SHA-256 of the CID's bytes, so the result is still a
// well-spread key.
func KeyOf(c cid.Cid) overlay.ID {
	var id overlay.ID
	_, digest, err := cidDigest(c)
	if err != nil {
		return overlay.ID(sha256.Sum256(c.Bytes()))
	}
	copy(id[:], digest)
	return id
}

// NameKey returns the ring key of a dataset name:
// SHA-256("chorus/name/v1\x00" + name).
func NameKey(name string) overlay.ID {
	h := sha256.New()
	h.Write([]byte(nameKeyPrefix))
	h.Write([]byte(name))
	var id overlay.ID
	h.Sum(id[:0])
	return id
}
