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

// cidOfLen returns the CIDv1 raw of data hashed with code to a digest of
// length bytes.
func cidOfLen(t testing.TB, data []byte, code uint64, length int) cid.Cid {
	t.Helper()
	mh, err := multihash.Sum(data, code, length)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// cidAs returns c with its digest relabelled as made by code.
func cidAs(t testing.TB, c cid.Cid, code uint64) cid.Cid {
	t.Helper()
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		t.Fatal(err)
	}
	mh, err := multihash.Encode(dec.Digest, code)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(c.Type(), mh)
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
		{"blake3 match", cidOf(t, data, multihash.BLAKE3, cid.Raw), data, false, false},
		{"blake3 empty match", cidOf(t, nil, multihash.BLAKE3, cid.Raw), nil, false, false},
		{"blake3 one bit flipped", cidOf(t, data, multihash.BLAKE3, cid.Raw), []byte("block bytet"), true, true},
		{"blake3 truncated", cidOf(t, data, multihash.BLAKE3, cid.Raw), data[:5], true, true},
		{"blake3 64-byte match", cidOfLen(t, data, multihash.BLAKE3, 64), data, false, false},
		{"blake3 64-byte mismatch", cidOfLen(t, data, multihash.BLAKE3, 64), []byte("x"), true, true},
		{"sha256 digest as blake3", cidAs(t, cidOf(t, data, multihash.SHA2_256, cid.Raw), multihash.BLAKE3), data, true, true},
		{"blake3 digest as sha256", cidAs(t, cidOf(t, data, multihash.BLAKE3, cid.Raw), multihash.SHA2_256), data, true, true},
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
	b3 := cidOf(t, data, multihash.BLAKE3, cid.Raw)
	b3dec, err := multihash.Decode(b3.Hash())
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
		{"raw blake3", b3, b3dec.Digest, false},
		{"sha512 refused", cidOf(t, data, multihash.SHA2_512, cid.Raw), nil, true},
		{"blake3 64-byte refused", cidOfLen(t, data, multihash.BLAKE3, 64), nil, true},
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
// bytes and accepts exactly the bytes a sha2-256 or blake3 CID was made
// from.
func FuzzVerifyBlock(f *testing.F) {
	f.Add([]byte("hello"), []byte("hello"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("abc"), []byte("abd"))
	// Longer than one blake3 chunk (1 KiB), so the tree path runs.
	long := bytes.Repeat([]byte("chorus"), 400)
	f.Add(long, long)
	f.Add(long, long[:len(long)-1])
	// CID bytes as given: CIDv1 raw blake3 and sha2-256 of "hello".
	for _, code := range []uint64{multihash.BLAKE3, multihash.SHA2_256} {
		f.Add([]byte("hello"), cidOf(f, []byte("hello"), code, cid.Raw).Bytes())
	}
	f.Fuzz(func(t *testing.T, made, given []byte) {
		for _, code := range []uint64{multihash.SHA2_256, multihash.BLAKE3} {
			c := cidOf(t, made, code, cid.Raw)
			err := replica.VerifyBlock(c, given)
			if bytes.Equal(made, given) != (err == nil) {
				t.Fatalf("VerifyBlock(cid 0x%x(%q), %q) = %v", code, made, given, err)
			}
		}
		// Arbitrary bytes as a CID must not panic.
		if c2, err := cid.Cast(given); err == nil {
			_ = replica.VerifyBlock(c2, made)
			_, _ = replica.BlockKey(c2)
		}
	})
}
