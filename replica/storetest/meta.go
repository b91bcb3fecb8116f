package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/ipfs/go-cid"
)

// smallBlocks stores n distinct small blocks and returns their CIDs in
// ring-key order.
func smallBlocks(t *testing.T, s replica.Store, n int) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	for i := range n {
		data := fmt.Appendf(nil, "small block %d", i)
		c := Block(t, data)
		mustPut(t, s, c, data)
		out = append(out, c)
	}
	sortByKey(t, out)
	return out
}

func sortByKey(t *testing.T, cs []cid.Cid) {
	t.Helper()
	keys := make(map[cid.Cid][]byte, len(cs))
	for _, c := range cs {
		k, err := replica.StoreKey(c)
		if err != nil {
			t.Fatal(err)
		}
		keys[c] = k
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && bytes.Compare(keys[cs[j-1]], keys[cs[j]]) > 0; j-- {
			cs[j-1], cs[j] = cs[j], cs[j-1]
		}
	}
}

func claim(owner string, seq uint64, r int, zones ...string) replica.Meta {
	return replica.Meta{Claims: []replica.Claim{{Owner: owner, Seq: seq, Replicas: r, Zones: zones}}}
}

func testMetaRoundTrip(t *testing.T, s replica.Store) {
	data := []byte("a block with claims")
	c := Block(t, data)
	if _, err := s.BlockMeta(c); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("BlockMeta of a missing block: err = %v, want ErrNotFound", err)
	}
	if _, err := s.MergeBlockMeta(c, claim("ds@1", 1, 3)); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("MergeBlockMeta of a missing block: err = %v, want ErrNotFound", err)
	}
	mustPut(t, s, c, data)
	if m, err := s.BlockMeta(c); err != nil || !m.IsZero() {
		t.Fatalf("BlockMeta of a fresh block = %+v, %v; want zero", m, err)
	}
	got, err := s.MergeBlockMeta(c, claim("ds@1", 1, 5, "eu"))
	if err != nil {
		t.Fatalf("MergeBlockMeta: %v", err)
	}
	got, err = s.MergeBlockMeta(c, claim("ds@2", 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := replica.Merge(claim("ds@1", 1, 5, "eu"), claim("ds@2", 1, 2))
	if !got.Equal(want) {
		t.Fatalf("MergeBlockMeta = %+v, want %+v", got, want)
	}
	if m, err := s.BlockMeta(c); err != nil || !m.Equal(want) {
		t.Fatalf("BlockMeta = %+v, %v; want %+v", m, err, want)
	}
	// A newer claim of the same owner replaces the old one.
	if got, err = s.MergeBlockMeta(c, claim("ds@1", 2, 1)); err != nil || got.Replicas(0) != 2 {
		t.Fatalf("after lowering ds@1: %+v, %v", got, err)
	}
	// Storing the block again keeps the metadata.
	mustPut(t, s, c, data)
	if m, err := s.BlockMeta(c); err != nil || !m.Equal(got) {
		t.Fatalf("BlockMeta after a second put = %+v, %v; want %+v", m, err, got)
	}
	// Invalid metadata is refused and changes nothing.
	bad := replica.Meta{Claims: []replica.Claim{{Owner: "", Replicas: 1}}}
	if _, err := s.MergeBlockMeta(c, bad); !errors.Is(err, replica.ErrBadMeta) {
		t.Fatalf("MergeBlockMeta(invalid) err = %v, want ErrBadMeta", err)
	}
	// Deleting the block drops its metadata.
	if err := s.DeleteBlock(c); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, c, data)
	if m, err := s.BlockMeta(c); err != nil || !m.IsZero() {
		t.Fatalf("BlockMeta after delete and put = %+v, %v; want zero", m, err)
	}
	wantStats(t, s, 1, int64(len(data)))
}

func testMetaConcurrentMerges(t *testing.T, s replica.Store) {
	data := []byte("contended block")
	c := Block(t, data)
	mustPut(t, s, c, data)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 4 {
				if _, err := s.MergeBlockMeta(c, claim(fmt.Sprintf("w%d@%d", w, i), 1, 1+w)); err != nil {
					t.Errorf("MergeBlockMeta: %v", err)
				}
			}
		})
	}
	wg.Wait()
	m, err := s.BlockMeta(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Claims) != 32 || m.Replicas(0) != 8 {
		t.Fatalf("after 32 concurrent merges: %d claims, r=%d; want 32 claims, r=8", len(m.Claims), m.Replicas(0))
	}
}

func testForEachBlockFrom(t *testing.T, s replica.Store) {
	cs := smallBlocks(t, s, 600) // more than one chunk of any batching walk
	for i, c := range cs {
		if i%3 == 0 {
			if _, err := s.MergeBlockMeta(c, claim("ds@1", 1, 1+i%5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, from := range []int{0, 1, 299, 599} {
		k, err := replica.BlockKey(cs[from])
		if err != nil {
			t.Fatal(err)
		}
		i := from
		err = s.ForEachBlockFrom(k, func(c cid.Cid, size int, m replica.Meta) error {
			if i >= len(cs) || !c.Equals(cs[i]) {
				return fmt.Errorf("walk from %d: step %d got %s", from, i, c)
			}
			if want := len(fmt.Sprintf("small block %d", 0)); size < want {
				return fmt.Errorf("size %d", size)
			}
			if (i%3 == 0) != !m.IsZero() {
				return fmt.Errorf("block %d: meta %+v", i, m)
			}
			if i%3 == 0 && m.Replicas(0) != 1+i%5 {
				return fmt.Errorf("block %d: r=%d", i, m.Replicas(0))
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if i != len(cs) {
			t.Fatalf("walk from %d ended at %d, want %d", from, i, len(cs))
		}
	}
	// A start between two keys begins at the next one; past the end, none.
	k, _ := replica.BlockKey(cs[10])
	k[replica.BlockKeySize-1]++
	var first cid.Cid
	stop := errors.New("stop")
	if err := s.ForEachBlockFrom(k, func(c cid.Cid, _ int, _ replica.Meta) error { first = c; return stop }); !errors.Is(err, stop) {
		t.Fatalf("ForEachBlockFrom error = %v, want the callback's", err)
	}
	if !first.Equals(cs[11]) {
		t.Fatalf("walk from just after block 10 began at %s, want block 11", first)
	}
	var top [replica.BlockKeySize]byte
	for i := range top {
		top[i] = 0xff
	}
	n := 0
	if err := s.ForEachBlockFrom(top, func(cid.Cid, int, replica.Meta) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("walk from the top key visited %d, %v", n, err)
	}
	// The callback may delete blocks as it goes.
	var zero [replica.BlockKeySize]byte
	if err := s.ForEachBlockFrom(zero, func(c cid.Cid, _ int, _ replica.Meta) error { return s.DeleteBlock(c) }); err != nil {
		t.Fatalf("deleting during the walk: %v", err)
	}
	wantStats(t, s, 0, 0)
}
