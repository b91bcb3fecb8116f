package replica

import (
	"bytes"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/chorus-data/chorus/internal/blockhash"
)

// BlockKeySize is the length in bytes of a block's ring key.
const BlockKeySize = 32

// VerifyBlock checks that data hashes to c, recomputing the multihash with
// the hash function and digest length that c itself names. The two kinds
// Chorus writes, blake3 and sha2-256 with 32-byte digests, are hashed
// directly; any other function go-multihash knows goes through
// multihash.Sum. It returns an error wrapping ErrCorrupt when the bytes do
// not match.
func VerifyBlock(c cid.Cid, data []byte) error {
	if !c.Defined() {
		return fmt.Errorf("verify block: undefined CID")
	}
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		return fmt.Errorf("verify block %s: %w", c, err)
	}
	var match bool
	if sum, ok := blockhash.Sum(dec.Code, data); ok && dec.Length == blockhash.Size {
		match = bytes.Equal(sum[:], dec.Digest)
	} else {
		sum, err := multihash.Sum(data, dec.Code, dec.Length)
		if err != nil {
			return fmt.Errorf("verify block %s: %w", c, err)
		}
		match = bytes.Equal(sum, c.Hash())
	}
	if !match {
		return fmt.Errorf("verify block %s: %w", c, ErrCorrupt)
	}
	return nil
}

// BlockKey returns the ring key of a block: the digest of its CID's
// multihash, which must be BlockKeySize bytes long (as it is for the
// blake3 and sha2-256 CIDs Chorus writes).
func BlockKey(c cid.Cid) ([BlockKeySize]byte, error) {
	var k [BlockKeySize]byte
	if !c.Defined() {
		return k, fmt.Errorf("block key: undefined CID")
	}
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		return k, fmt.Errorf("block key %s: %w", c, err)
	}
	if len(dec.Digest) != BlockKeySize {
		return k, fmt.Errorf("block key %s: digest is %d bytes, want %d", c, len(dec.Digest), BlockKeySize)
	}
	copy(k[:], dec.Digest)
	return k, nil
}

// StoreKey returns the byte string that orders blocks in a store: the ring
// key followed by the CID bytes, so that sorting store keys sorts blocks by
// ring key (ties, which only differently encoded CIDs of one digest can
// produce, broken by the CID bytes).
func StoreKey(c cid.Cid) ([]byte, error) {
	k, err := BlockKey(c)
	if err != nil {
		return nil, err
	}
	b := c.Bytes()
	out := make([]byte, 0, BlockKeySize+len(b))
	out = append(out, k[:]...)
	return append(out, b...), nil
}
