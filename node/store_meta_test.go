package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
	"github.com/ipfs/go-cid"
)

func TestBadgerStoreMetaSurvivesReopenAndBatchPut(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	data := []byte("block with a claim")
	c := storetest.Block(t, data)
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	want := replica.Meta{Claims: []replica.Claim{{Owner: "ds@1", Seq: 7, Replicas: 5, Zones: []string{"a", "b"}}}}
	if _, err := s.MergeBlockMeta(c, want); err != nil {
		t.Fatal(err)
	}
	// A batched put of the same block keeps its metadata.
	if err := s.PutBlocks([]cid.Cid{c}, [][]byte{data}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	got, err := s.BlockMeta(c)
	if err != nil || !got.Equal(want) {
		t.Fatalf("BlockMeta after reopen = %+v, %v; want %+v", got, err, want)
	}
	var zero [replica.BlockKeySize]byte
	n := 0
	err = s.ForEachBlockFrom(zero, func(_ cid.Cid, size int, m replica.Meta) error {
		n++
		if size != len(data) || !m.Equal(want) {
			t.Errorf("walk: size %d meta %+v", size, m)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("walk visited %d, %v", n, err)
	}
}

func TestBadgerStoreMergeBlockMetas(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	// More blocks than one transaction takes, every third not held.
	const count = metaBatch + 300
	cs := make([]cid.Cid, count)
	metas := make([]replica.Meta, count)
	for i := range cs {
		data := []byte(fmt.Sprintf("block %d", i))
		cs[i] = storetest.Block(t, data)
		metas[i] = replica.Meta{Claims: []replica.Claim{{Owner: "ds@1", Seq: 1, Replicas: 1 + i%5}}}
		if i%3 != 0 {
			if err := s.PutBlock(cs[i], data); err != nil {
				t.Fatal(err)
			}
		}
	}
	held, err := s.MergeBlockMetas(cs, metas)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if held[i] != (i%3 != 0) {
			t.Fatalf("block %d: held %v", i, held[i])
		}
		got, err := s.BlockMeta(c)
		switch {
		case i%3 == 0:
			if !errors.Is(err, replica.ErrNotFound) {
				t.Fatalf("block %d not held: BlockMeta = %+v, %v", i, got, err)
			}
		case err != nil || !got.Equal(metas[i]):
			t.Fatalf("block %d: BlockMeta = %+v, %v; want %+v", i, got, err, metas[i])
		}
	}
	if _, err := s.MergeBlockMetas(cs[:2], metas[:1]); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
	bad := []replica.Meta{{Claims: []replica.Claim{{Owner: "", Replicas: 1}}}}
	if _, err := s.MergeBlockMetas(cs[1:2], bad); err == nil {
		t.Fatal("invalid metadata accepted")
	}
}
