package replica_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func cidOf(t testing.TB, data []byte, code uint64, codec uint64) cid.Cid {
	t.Helper()
	mh, err := multihash.Sum(data, code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(codec, mh)
}

func TestVerifyBlock(t *testing.T) {
	data := []byte("block bytes")
	tests := []struct {
		name    string
		c       cid.Cid
		data    []byte
		wantErr bool
		corrupt bool
	}{
		{"sha256 match", cidOf(t, data, multihash.SHA2_256, cid.Raw), data, false, false},
		{"sha256 other codec", cidOf(t, data, multihash.SHA2_256, cid.DagProtobuf), data, false, false},
		{"sha512 match", cidOf(t, data, multihash.SHA2_512, cid.Raw), data, false, false},
		{"empty match", cidOf(t, nil, multihash.SHA2_256, cid.Raw), nil, false, false},
		{"one bit flipped", cidOf(t, data, multihash.SHA2_256, cid.Raw), []byte("block bytet"), true, true},
		{"truncated", cidOf(t, data, multihash.SHA2_256, cid.Raw), data[:5], true, true},
		{"sha512 mismatch", cidOf(t, data, multihash.SHA2_512, cid.Raw), []byte("x"), true, true},
		{"undefined cid", cid.Undef, data, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := replica.VerifyBlock(tc.c, tc.data)
			if (err != nil) != tc.wantErr {
				t.Fatalf("VerifyBlock err = %v, wantErr %v", err, tc.wantErr)
			}
			if got := errors.Is(err, replica.ErrCorrupt); got != tc.corrupt {
				t.Fatalf("errors.Is(err, ErrCorrupt) = %v, want %v (err %v)", got, tc.corrupt, err)
			}
		})
	}
}

func TestBlockKey(t *testing.T) {
	data := []byte("ring key")
	raw := cidOf(t, data, multihash.SHA2_256, cid.Raw)
	pb := cidOf(t, data, multihash.SHA2_256, cid.DagProtobuf)
	dec, err := multihash.Decode(raw.Hash())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		c       cid.Cid
		want    []byte
		wantErr bool
	}{
		{"raw sha256", raw, dec.Digest, false},
		{"dag-pb sha256 same key", pb, dec.Digest, false},
		{"sha512 refused", cidOf(t, data, multihash.SHA2_512, cid.Raw), nil, true},
		{"undefined refused", cid.Undef, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := replica.BlockKey(tc.c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("BlockKey err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !bytes.Equal(k[:], tc.want) {
				t.Fatalf("BlockKey = %x, want %x", k, tc.want)
			}
		})
	}
	// Store keys order by ring key first, then by CID bytes.
	kr, err := replica.StoreKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := replica.StoreKey(pb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kr[:32], kp[:32]) || bytes.Equal(kr, kp) {
		t.Fatalf("store keys of one digest: %x and %x", kr, kp)
	}
	if !bytes.Equal(kr[32:], raw.Bytes()) {
		t.Fatalf("store key tail %x is not the CID bytes %x", kr[32:], raw.Bytes())
	}
}

// FuzzVerifyBlock checks that VerifyBlock never panics on arbitrary CID
// bytes and accepts exactly the bytes a sha2-256 CID was made from.
func FuzzVerifyBlock(f *testing.F) {
	f.Add([]byte("hello"), []byte("hello"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("abc"), []byte("abd"))
	f.Fuzz(func(t *testing.T, made, given []byte) {
		c := cidOf(t, made, multihash.SHA2_256, cid.Raw)
		err := replica.VerifyBlock(c, given)
		if bytes.Equal(made, given) != (err == nil) {
			t.Fatalf("VerifyBlock(cid(%q), %q) = %v", made, given, err)
		}
		// Arbitrary bytes as a CID must not panic.
		if c2, err := cid.Cast(given); err == nil {
			_ = replica.VerifyBlock(c2, made)
			_, _ = replica.BlockKey(c2)
		}
	})
}
