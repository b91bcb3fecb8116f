package dataset

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestBlockCIDKnownVector(t *testing.T) {
	// The CIDv1 raw sha2-256 of the empty block is a well-known constant.
	const empty = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	if got := BlockCID(nil).String(); got != empty {
		t.Fatalf("BlockCID(empty) = %s, want %s", got, empty)
	}
	c := BlockCID([]byte("chorus"))
	if c.Version() != 1 || c.Type() != cid.Raw {
		t.Fatalf("BlockCID: version %d codec %#x", c.Version(), c.Type())
	}
	if err := CheckCID(c); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBlock(t *testing.T) {
	data := []byte("some block data")
	good := BlockCID(data)
	sum := sha256.Sum256(data)
	mhV0, _ := mh.Encode(sum[:], mh.SHA2_256)
	sum512 := sha512.Sum512(data)
	mh512, _ := mh.Encode(sum512[:], mh.SHA2_512)
	mhShort, _ := mh.Encode(sum[:20], mh.SHA2_256)
	tests := []struct {
		name string
		c    cid.Cid
		data []byte
		want error
	}{
		{"good", good, data, nil},
		{"empty block", BlockCID(nil), nil, nil},
		{"flipped byte", good, []byte("some block dbta"), ErrHashMismatch},
		{"truncated", good, data[:5], ErrHashMismatch},
		{"undefined", cid.Undef, data, ErrUnsupportedCID},
		{"cidv0", cid.NewCidV0(mhV0), data, ErrUnsupportedCID},
		{"dag-pb codec", cid.NewCidV1(cid.DagProtobuf, mhV0), data, ErrUnsupportedCID},
		{"sha2-512", cid.NewCidV1(cid.Raw, mh512), data, ErrUnsupportedCID},
		{"short digest", cid.NewCidV1(cid.Raw, mhShort), data, ErrUnsupportedCID},
		{"too large", BlockCID(nil), make([]byte, MaxBlockSize+1), ErrBlockTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyBlock(tt.c, tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyBlock: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyBlock = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	data := []byte("key me")
	sum := sha256.Sum256(data)
	if k := KeyOf(BlockCID(data)); !bytes.Equal(k[:], sum[:]) {
		t.Fatalf("KeyOf = %x, want %x", k, sum)
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
