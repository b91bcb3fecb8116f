// Package storetest is the conformance suite that every replica.Store
// implementation runs: the in-memory store in package replica and the
// Badger store in package node share it, so they behave alike.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Run runs the conformance suite against stores made by open. Each subtest
// opens a fresh, empty store and closes it when the subtest ends, so open
// must not close the store itself (closing twice must still be harmless).
func Run(t *testing.T, open func(t *testing.T) replica.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s replica.Store)
	}{
		{"BlockRoundTrip", testBlockRoundTrip},
		{"PutRejectsBadBytes", testPutRejectsBadBytes},
		{"PutRejectsBadCID", testPutRejectsBadCID},
		{"BothHashFunctions", testBothHashFunctions},
		{"PutIdempotent", testPutIdempotent},
		{"DeleteMissing", testDeleteMissing},
		{"CopySemantics", testCopySemantics},
		{"EmptyBlock", testEmptyBlock},
		{"LargeBlock", testLargeBlock},
		{"ForEachOrderAndSizes", testForEachOrderAndSizes},
		{"ForEachStops", testForEachStops},
		{"ForEachReentrant", testForEachReentrant},
		{"Stats", testStats},
		{"ConcurrentPuts", testConcurrentPuts},
		{"RecordRoundTrip", testRecordRoundTrip},
		{"RecordImmutable", testRecordImmutable},
		{"RecordNotFound", testRecordNotFound},
		{"Versions", testVersions},
		{"Names", testNames},
		{"MetaRoundTrip", testMetaRoundTrip},
		{"MetaConcurrentMerges", testMetaConcurrentMerges},
		{"ForEachBlockFrom", testForEachBlockFrom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Block makes a CIDv1 raw sha2-256 block of data, the kind of CID Chorus
// wrote before it switched to blake3 (stores still hold and accept them).
func Block(t testing.TB, data []byte) cid.Cid {
	t.Helper()
	return blockWith(t, data, multihash.SHA2_256)
}

// BlockBLAKE3 makes a CIDv1 raw blake3 (32-byte digest) block of data, the
// kind of CID Chorus writes now.
func BlockBLAKE3(t testing.TB, data []byte) cid.Cid {
	t.Helper()
	return blockWith(t, data, multihash.BLAKE3)
}

func blockWith(t testing.TB, data []byte, code uint64) cid.Cid {
	t.Helper()
	mh, err := multihash.Sum(data, code, -1)
	if err != nil {
		t.Fatalf("multihash: %v", err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// RandomBytes returns n bytes from r.
func RandomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s replica.Store, c cid.Cid, data []byte) {
	t.Helper()
	if err := s.PutBlock(c, data); err != nil {
		t.Fatalf("PutBlock(%s): %v", c, err)
	}
}

func wantStats(t *testing.T, s replica.Store, blocks, nbytes int64) {
	t.Helper()
	b, n, err := s.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if b != blocks || n != nbytes {
		t.Fatalf("Stats = (%d blocks, %d bytes), want (%d, %d)", b, n, blocks, nbytes)
	}
}

func testBlockRoundTrip(t *testing.T, s replica.Store) {
	data := []byte("hello, chorus")
	c := Block(t, data)
	if ok, err := s.HasBlock(c); err != nil || ok {
		t.Fatalf("HasBlock before put = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("GetBlock before put: err = %v, want ErrNotFound", err)
	}
	mustPut(t, s, c, data)
	if ok, err := s.HasBlock(c); err != nil || !ok {
		t.Fatalf("HasBlock after put = %v, %v; want true, nil", ok, err)
	}
	got, err := s.GetBlock(c)
	if err != nil {
		t.Fatalf("GetBlock: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("GetBlock = %q, want %q", got, data)
	}
	if err := s.DeleteBlock(c); err != nil {
		t.Fatalf("DeleteBlock: %v", err)
	}
	if ok, err := s.HasBlock(c); err != nil || ok {
		t.Fatalf("HasBlock after delete = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("GetBlock after delete: err = %v, want ErrNotFound", err)
	}
	wantStats(t, s, 0, 0)
}

func testPutRejectsBadBytes(t *testing.T, s replica.Store) {
	good := []byte("the real block")
	c := Block(t, good)
	for _, bad := range [][]byte{[]byte("the real blocK"), nil, append(bytes.Clone(good), 0)} {
		err := s.PutBlock(c, bad)
		if err == nil {
			t.Fatalf("PutBlock with wrong bytes %q succeeded", bad)
		}
		if !errors.Is(err, replica.ErrCorrupt) {
			t.Errorf("PutBlock with wrong bytes: err = %v, want ErrCorrupt", err)
		}
	}
	if ok, err := s.HasBlock(c); err != nil || ok {
		t.Fatalf("HasBlock after refused put = %v, %v; want false, nil", ok, err)
	}
	wantStats(t, s, 0, 0)
	n := 0
	if err := s.ForEachBlock(func(cid.Cid, int) error { n++; return nil }); err != nil {
		t.Fatalf("ForEachBlock: %v", err)
	}
	if n != 0 {
		t.Fatalf("ForEachBlock visited %d blocks after refused put", n)
	}
}

func testPutRejectsBadCID(t *testing.T, s replica.Store) {
	data := []byte("a block hashed with sha2-512")
	mh, err := multihash.Sum(data, multihash.SHA2_512, -1)
	if err != nil {
		t.Fatal(err)
	}
	long := cid.NewCidV1(cid.Raw, mh) // valid, but its digest is not a ring key
	if err := s.PutBlock(long, data); err == nil {
		t.Fatalf("PutBlock with a 64-byte digest succeeded")
	}
	if err := s.PutBlock(cid.Undef, data); err == nil {
		t.Fatalf("PutBlock with an undefined CID succeeded")
	}
	if _, err := s.GetBlock(cid.Undef); err == nil {
		t.Fatalf("GetBlock with an undefined CID succeeded")
	}
	wantStats(t, s, 0, 0)
}

// testBothHashFunctions stores blake3 and sha2-256 blocks side by side,
// small and large (a large one may take a different path, as the node's
// block files do), and checks that a blake3 put with wrong bytes is
// refused like a sha2-256 one.
func testBothHashFunctions(t *testing.T, s replica.Store) {
	r := rand.New(rand.NewPCG(9, 9))
	small := []byte("one block, two hash functions")
	large := RandomBytes(r, 1<<20)
	type blk struct {
		c    cid.Cid
		data []byte
	}
	blocks := []blk{
		{Block(t, small), small},
		{BlockBLAKE3(t, small), small},
		{Block(t, large), large},
		{BlockBLAKE3(t, large), large},
	}
	var total int64
	for _, b := range blocks {
		mustPut(t, s, b.c, b.data)
		total += int64(len(b.data))
	}
	for _, b := range blocks {
		got, err := s.GetBlock(b.c)
		if err != nil {
			t.Fatalf("GetBlock(%s): %v", b.c, err)
		}
		if !bytes.Equal(got, b.data) {
			t.Fatalf("GetBlock(%s) returned different bytes (len %d)", b.c, len(got))
		}
	}
	wantStats(t, s, int64(len(blocks)), total)
	bad := bytes.Clone(large)
	bad[len(bad)/2] ^= 1
	c := BlockBLAKE3(t, []byte("another block"))
	for _, data := range [][]byte{[]byte("another blocK"), bad} {
		if err := s.PutBlock(c, data); !errors.Is(err, replica.ErrCorrupt) {
			t.Fatalf("PutBlock of a blake3 CID with wrong bytes: err = %v, want ErrCorrupt", err)
		}
	}
	if ok, err := s.HasBlock(c); err != nil || ok {
		t.Fatalf("HasBlock after refused put = %v, %v; want false, nil", ok, err)
	}
	wantStats(t, s, int64(len(blocks)), total)
}

func testPutIdempotent(t *testing.T, s replica.Store) {
	data := []byte("same block twice")
	c := Block(t, data)
	mustPut(t, s, c, data)
	mustPut(t, s, c, data)
	wantStats(t, s, 1, int64(len(data)))
}

func testDeleteMissing(t *testing.T, s replica.Store) {
	c := Block(t, []byte("never stored"))
	if err := s.DeleteBlock(c); err != nil {
		t.Fatalf("DeleteBlock of a missing block: %v", err)
	}
	data := []byte("stored once")
	c2 := Block(t, data)
	mustPut(t, s, c2, data)
	if err := s.DeleteBlock(c2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlock(c2); err != nil {
		t.Fatalf("second DeleteBlock: %v", err)
	}
	wantStats(t, s, 0, 0)
}

func testCopySemantics(t *testing.T, s replica.Store) {
	data := []byte("do not alias me")
	orig := bytes.Clone(data)
	c := Block(t, data)
	mustPut(t, s, c, data)
	data[0] ^= 0xff // the caller reuses its buffer
	got, err := s.GetBlock(c)
	if err != nil {
		t.Fatalf("GetBlock after caller mutated its buffer: %v", err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatalf("GetBlock = %q, want %q", got, orig)
	}
	got[0] ^= 0xff
	again, err := s.GetBlock(c)
	if err != nil || !bytes.Equal(again, orig) {
		t.Fatalf("GetBlock after mutating a returned slice = %q, %v", again, err)
	}

	rec := []byte("record bytes")
	if err := s.PutRecord("n", 1, rec); err != nil {
		t.Fatal(err)
	}
	rec[0] = 'X'
	r1, err := s.GetRecord("n", 1)
	if err != nil || string(r1) != "record bytes" {
		t.Fatalf("GetRecord after caller mutated its buffer = %q, %v", r1, err)
	}
	r1[0] = 'Y'
	r2, err := s.GetRecord("n", 1)
	if err != nil || string(r2) != "record bytes" {
		t.Fatalf("GetRecord after mutating a returned slice = %q, %v", r2, err)
	}
}

func testEmptyBlock(t *testing.T, s replica.Store) {
	c := Block(t, nil)
	mustPut(t, s, c, []byte{})
	got, err := s.GetBlock(c)
	if err != nil {
		t.Fatalf("GetBlock(empty): %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("GetBlock(empty) returned %d bytes", len(got))
	}
	if ok, err := s.HasBlock(c); err != nil || !ok {
		t.Fatalf("HasBlock(empty) = %v, %v", ok, err)
	}
	wantStats(t, s, 1, 0)
	var sizes []int
	if err := s.ForEachBlock(func(_ cid.Cid, size int) error { sizes = append(sizes, size); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{0}) {
		t.Fatalf("ForEachBlock sizes = %v, want [0]", sizes)
	}
}

func testLargeBlock(t *testing.T, s replica.Store) {
	r := rand.New(rand.NewPCG(8, 8))
	data := RandomBytes(r, 8<<20)
	c := Block(t, data)
	mustPut(t, s, c, data)
	got, err := s.GetBlock(c)
	if err != nil {
		t.Fatalf("GetBlock(8 MiB): %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("GetBlock(8 MiB) returned different bytes (len %d)", len(got))
	}
	wantStats(t, s, 1, 8<<20)
	var size int
	if err := s.ForEachBlock(func(_ cid.Cid, n int) error { size = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if size != 8<<20 {
		t.Fatalf("ForEachBlock size = %d, want %d", size, 8<<20)
	}
}

// putRandom stores n random blocks of assorted sizes (0 to a few hundred
// KiB) and returns their sizes by CID key.
func putRandom(t *testing.T, s replica.Store, seed uint64, n int) map[string]int {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sizes := make(map[string]int, n)
	for i := range n {
		var size int
		switch i % 4 {
		case 0:
			size = r.IntN(64)
		case 1:
			size = r.IntN(4 << 10)
		case 2:
			size = r.IntN(100 << 10)
		default:
			size = 100<<10 + r.IntN(300<<10)
		}
		data := RandomBytes(r, size)
		// Make every block distinct even when two random sizes are 0.
		data = append(data, byte(i), byte(i>>8))
		c := Block(t, data)
		mustPut(t, s, c, data)
		sizes[c.KeyString()] = len(data)
	}
	return sizes
}

func testForEachOrderAndSizes(t *testing.T, s replica.Store) {
	want := putRandom(t, s, 1, 120)
	var prev []byte
	seen := make(map[string]bool)
	err := s.ForEachBlock(func(c cid.Cid, size int) error {
		k, err := replica.BlockKey(c)
		if err != nil {
			return err
		}
		if prev != nil && bytes.Compare(prev, k[:]) >= 0 {
			return fmt.Errorf("ring order broken: %x then %x", prev, k)
		}
		prev = bytes.Clone(k[:])
		ws, ok := want[c.KeyString()]
		if !ok {
			return fmt.Errorf("unexpected block %s", c)
		}
		if size != ws {
			return fmt.Errorf("block %s: size %d, want %d", c, size, ws)
		}
		if seen[c.KeyString()] {
			return fmt.Errorf("block %s visited twice", c)
		}
		seen[c.KeyString()] = true
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachBlock: %v", err)
	}
	if len(seen) != len(want) {
		t.Fatalf("ForEachBlock visited %d blocks, want %d", len(seen), len(want))
	}
}

func testForEachStops(t *testing.T, s replica.Store) {
	putRandom(t, s, 2, 10)
	stop := errors.New("stop here")
	calls := 0
	err := s.ForEachBlock(func(cid.Cid, int) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("ForEachBlock error = %v, want the callback's error", err)
	}
	if calls != 3 {
		t.Fatalf("callback ran %d times after returning an error at call 3", calls)
	}
}

func testForEachReentrant(t *testing.T, s replica.Store) {
	want := putRandom(t, s, 3, 8)
	n := 0
	err := s.ForEachBlock(func(c cid.Cid, size int) error {
		data, err := s.GetBlock(c)
		if err != nil {
			return fmt.Errorf("GetBlock inside ForEachBlock: %w", err)
		}
		if len(data) != size {
			return fmt.Errorf("GetBlock inside ForEachBlock: %d bytes, walk said %d", len(data), size)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("visited %d blocks, want %d", n, len(want))
	}
}

func testStats(t *testing.T, s replica.Store) {
	wantStats(t, s, 0, 0)
	sizes := putRandom(t, s, 4, 30)
	var total int64
	for _, n := range sizes {
		total += int64(n)
	}
	wantStats(t, s, int64(len(sizes)), total)

	// Delete every other block in walk order.
	var victims []cid.Cid
	i := 0
	if err := s.ForEachBlock(func(c cid.Cid, size int) error {
		if i%2 == 0 {
			victims = append(victims, c)
			total -= int64(size)
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range victims {
		if err := s.DeleteBlock(c); err != nil {
			t.Fatal(err)
		}
	}
	wantStats(t, s, int64(len(sizes)-len(victims)), total)
	// Records do not count as blocks.
	if err := s.PutRecord("x", 1, []byte("rec")); err != nil {
		t.Fatal(err)
	}
	wantStats(t, s, int64(len(sizes)-len(victims)), total)
}

func testConcurrentPuts(t *testing.T, s replica.Store) {
	r := rand.New(rand.NewPCG(5, 5))
	type blk struct {
		c    cid.Cid
		data []byte
	}
	var blocks []blk
	var total int64
	for i := range 16 {
		data := RandomBytes(r, 1000+i*977)
		blocks = append(blocks, blk{Block(t, data), data})
		total += int64(len(data))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(blocks))
	for w := range 8 {
		wg.Go(func() {
			for i := range blocks {
				b := blocks[(i+w)%len(blocks)]
				if err := s.PutBlock(b.c, b.data); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent PutBlock: %v", err)
	}
	wantStats(t, s, int64(len(blocks)), total)

	// Concurrent deletes of the same blocks leave the counters at zero.
	for range 4 {
		wg.Go(func() {
			for _, b := range blocks {
				if err := s.DeleteBlock(b.c); err != nil {
					t.Errorf("concurrent DeleteBlock: %v", err)
				}
			}
		})
	}
	wg.Wait()
	wantStats(t, s, 0, 0)
}

func testRecordRoundTrip(t *testing.T, s replica.Store) {
	if err := s.PutRecord("sky/survey", 7, []byte("v7")); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	got, err := s.GetRecord("sky/survey", 7)
	if err != nil || string(got) != "v7" {
		t.Fatalf("GetRecord = %q, %v; want v7", got, err)
	}
	if err := s.PutRecord("empty", 1, nil); err != nil {
		t.Fatalf("PutRecord(empty bytes): %v", err)
	}
	got, err = s.GetRecord("empty", 1)
	if err != nil || len(got) != 0 {
		t.Fatalf("GetRecord(empty bytes) = %q, %v", got, err)
	}
}

func testRecordImmutable(t *testing.T, s replica.Store) {
	if err := s.PutRecord("ds", 1, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord("ds", 1, []byte("first")); err != nil {
		t.Fatalf("PutRecord with the same bytes: %v", err)
	}
	if err := s.PutRecord("ds", 1, []byte("second")); !errors.Is(err, replica.ErrConflict) {
		t.Fatalf("PutRecord with different bytes: err = %v, want ErrConflict", err)
	}
	if err := s.PutRecord("ds", 1, nil); !errors.Is(err, replica.ErrConflict) {
		t.Fatalf("PutRecord with empty bytes over a record: err = %v, want ErrConflict", err)
	}
	got, err := s.GetRecord("ds", 1)
	if err != nil || string(got) != "first" {
		t.Fatalf("GetRecord after conflict = %q, %v; want first", got, err)
	}
	if err := s.PutRecord("ds", 2, []byte("second")); err != nil {
		t.Fatalf("PutRecord of the next version: %v", err)
	}
}

func testRecordNotFound(t *testing.T, s replica.Store) {
	if _, err := s.GetRecord("nobody", 1); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("GetRecord of a missing name: err = %v, want ErrNotFound", err)
	}
	if err := s.PutRecord("somebody", 2, []byte("r")); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{0, 1, 3, 1 << 63} {
		if _, err := s.GetRecord("somebody", v); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("GetRecord of missing version %d: err = %v, want ErrNotFound", v, err)
		}
	}
	vs, err := s.Versions("nobody")
	if err != nil || len(vs) != 0 {
		t.Fatalf("Versions of a missing name = %v, %v; want empty", vs, err)
	}
}

func testVersions(t *testing.T, s replica.Store) {
	// Names that share prefixes, including the key separator, must not mix.
	put := map[string][]uint64{
		"a":      {5, 0, 1 << 40, 3, 1, 1<<64 - 1, 256, 255},
		"a\x00b": {2, 1},
		"ab":     {9},
		"":       {4},
	}
	for _, name := range []string{"a", "a\x00b", "ab", ""} {
		for _, v := range put[name] {
			if err := s.PutRecord(name, v, fmt.Appendf(nil, "%q@%d", name, v)); err != nil {
				t.Fatalf("PutRecord(%q, %d): %v", name, v, err)
			}
		}
	}
	for _, name := range []string{"a", "a\x00b", "ab", ""} {
		want := slices.Clone(put[name])
		slices.Sort(want)
		got, err := s.Versions(name)
		if err != nil {
			t.Fatalf("Versions(%q): %v", name, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Versions(%q) = %v, want %v", name, got, want)
		}
		for _, v := range got {
			rec, err := s.GetRecord(name, v)
			if err != nil || string(rec) != fmt.Sprintf("%q@%d", name, v) {
				t.Fatalf("GetRecord(%q, %d) = %q, %v", name, v, rec, err)
			}
		}
	}
}

func testNames(t *testing.T, s replica.Store) {
	names, err := s.Names()
	if err != nil || len(names) != 0 {
		t.Fatalf("Names of an empty store = %v, %v", names, err)
	}
	in := []string{"zeta", "a\x00b", "a", "ä", "b/c", "a", "ab"}
	for i, n := range in {
		if err := s.PutRecord(n, uint64(i), []byte(n)); err != nil {
			t.Fatalf("PutRecord(%q): %v", n, err)
		}
	}
	want := []string{"a", "a\x00b", "ab", "b/c", "zeta", "ä"}
	names, err = s.Names()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("Names = %q, want %q", names, want)
	}
}
