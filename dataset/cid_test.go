package dataset

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/zeebo/blake3"
)

func TestBlockCIDKnownVector(t *testing.T) {
	// The CIDv1 raw blake3 of the empty block; its digest is the BLAKE3
	// test vector for the empty input.
	const empty = "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"
	const emptyDigest = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	got := BlockCID(nil)
	if got.String() != empty {
		t.Fatalf("BlockCID(empty) = %s, want %s", got, empty)
	}
	dm, err := mh.Decode(got.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if dm.Code != mh.BLAKE3 || hex.EncodeToString(dm.Digest) != emptyDigest {
		t.Fatalf("BlockCID(empty) multihash: code %#x digest %x", dm.Code, dm.Digest)
	}
	c := BlockCID([]byte("chorus"))
	if c.Version() != 1 || c.Type() != cid.Raw {
		t.Fatalf("BlockCID: version %d codec %#x", c.Version(), c.Type())
	}
	if err := CheckCID(c); err != nil {
		t.Fatal(err)
	}
	// The CIDv1 raw sha2-256 of the empty block, as blocks written before
	// the switch to blake3 are named, is still accepted.
	old, err := cid.Decode("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlock(old, nil); err != nil {
		t.Fatalf("VerifyBlock(sha2-256 empty): %v", err)
	}
}

// rawCID returns the CIDv1 raw of a multihash with code and digest.
func rawCID(t testing.TB, digest []byte, code uint64) cid.Cid {
	t.Helper()
	h, err := mh.Encode(digest, code)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// sha256CID returns the CIDv1 raw sha2-256 of data: the CID BlockCID gave
// data before Chorus switched to blake3.
func sha256CID(t testing.TB, data []byte) cid.Cid {
	t.Helper()
	sum := sha256.Sum256(data)
	return rawCID(t, sum[:], mh.SHA2_256)
}

func TestVerifyBlock(t *testing.T) {
	data := []byte("some block data")
	tampered := []byte("some block dbta")
	good := BlockCID(data)
	sum := sha256.Sum256(data)
	sha := rawCID(t, sum[:], mh.SHA2_256)
	b3sum := blake3.Sum512(data)
	mhV0, _ := mh.Encode(sum[:], mh.SHA2_256)
	sum512 := sha512.Sum512(data)
	tests := []struct {
		name string
		c    cid.Cid
		data []byte
		want error
	}{
		{"blake3", good, data, nil},
		{"blake3 spelled out", rawCID(t, b3sum[:32], mh.BLAKE3), data, nil},
		{"sha2-256", sha, data, nil},
		{"empty block", BlockCID(nil), nil, nil},
		{"blake3 flipped byte", good, tampered, ErrHashMismatch},
		{"blake3 truncated", good, data[:5], ErrHashMismatch},
		{"sha2-256 flipped byte", sha, tampered, ErrHashMismatch},
		{"sha2-256 truncated", sha, data[:5], ErrHashMismatch},
		// A digest of one function under the other's code must not pass.
		{"sha2-256 digest as blake3", rawCID(t, sum[:], mh.BLAKE3), data, ErrHashMismatch},
		{"blake3 digest as sha2-256", rawCID(t, b3sum[:32], mh.SHA2_256), data, ErrHashMismatch},
		{"undefined", cid.Undef, data, ErrUnsupportedCID},
		{"cidv0", cid.NewCidV0(mhV0), data, ErrUnsupportedCID},
		{"dag-pb codec", cid.NewCidV1(cid.DagProtobuf, mhV0), data, ErrUnsupportedCID},
		{"dag-pb codec blake3", cid.NewCidV1(cid.DagProtobuf, good.Hash()), data, ErrUnsupportedCID},
		{"sha2-512", rawCID(t, sum512[:], mh.SHA2_512), data, ErrUnsupportedCID},
		{"sha2-256 short digest", rawCID(t, sum[:20], mh.SHA2_256), data, ErrUnsupportedCID},
		{"blake3 64-byte digest", rawCID(t, b3sum[:], mh.BLAKE3), data, ErrUnsupportedCID},
		{"blake3 short digest", rawCID(t, b3sum[:20], mh.BLAKE3), data, ErrUnsupportedCID},
		{"blake2b-256", rawCID(t, sum[:], mh.BLAKE2B_MIN+31), data, ErrUnsupportedCID},
		{"too large", BlockCID(nil), make([]byte, MaxBlockSize+1), ErrBlockTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyBlock(tt.c, tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyBlock: %v", err)
				}
				if err := CheckCID(tt.c); err != nil {
					t.Fatalf("CheckCID: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyBlock = %v, want %v", err, tt.want)
			}
			if tt.want == ErrUnsupportedCID {
				if err := CheckCID(tt.c); !errors.Is(err, ErrUnsupportedCID) {
					t.Fatalf("CheckCID = %v, want %v", err, ErrUnsupportedCID)
				}
			}
		})
	}
}

func TestUnsupportedHashNamesBoth(t *testing.T) {
	sum := sha512.Sum512([]byte("x"))
	err := CheckCID(rawCID(t, sum[:], mh.SHA2_512))
	if err == nil || !strings.Contains(err.Error(), "blake3") || !strings.Contains(err.Error(), "sha2-256") {
		t.Fatalf("CheckCID(sha2-512) = %v, want an error naming blake3 and sha2-256", err)
	}
}

func TestKeyOf(t *testing.T) {
	data := []byte("key me")
	b3 := blake3.Sum256(data)
	if k := KeyOf(BlockCID(data)); !bytes.Equal(k[:], b3[:]) {
		t.Fatalf("KeyOf = %x, want %x", k, b3)
	}
	// A sha2-256 block keeps the key it had before the switch to blake3.
	sum := sha256.Sum256(data)
	if k := KeyOf(rawCID(t, sum[:], mh.SHA2_256)); !bytes.Equal(k[:], sum[:]) {
		t.Fatalf("KeyOf(sha2-256) = %x, want %x", k, sum)
	}
	// A CID Chorus does not use still maps to a deterministic key.
	other := cid.NewCidV1(cid.DagProtobuf, BlockCID(data).Hash())
	if KeyOf(other) != KeyOf(other) || KeyOf(other) == KeyOf(BlockCID(data)) {
		t.Fatal("KeyOf of a foreign CID is not a distinct deterministic key")
	}
}

func TestNameKey(t *testing.T) {
	want := sha256.Sum256([]byte("chorus/name/v1\x00sky/survey"))
	if got := NameKey("sky/survey"); got != want {
		t.Fatalf("NameKey = %x, want %x", got, want)
	}
	if NameKey("a") == NameKey("b") {
		t.Fatal("distinct names share a key")
	}
	// A name key never equals the block key of the bare name.
	if NameKey("a") == KeyOf(BlockCID([]byte("a"))) {
		t.Fatal("name key equals block key")
	}
}

func BenchmarkBlockCID(b *testing.B) {
	data := randBytes(1, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		BlockCID(data)
	}
}

// BenchmarkVerifyBlock compares verifying a 1 MiB block named by a blake3
// CID (what BlockCID makes) and by a sha2-256 CID (blocks written before).
func BenchmarkVerifyBlock(b *testing.B) {
	data := randBytes(1, 1<<20)
	sum := sha256.Sum256(data)
	for _, bc := range []struct {
		name string
		c    cid.Cid
	}{
		{"sha2-256", rawCID(b, sum[:], mh.SHA2_256)},
		{"blake3", BlockCID(data)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := VerifyBlock(bc.c, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
