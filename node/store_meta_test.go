package node

import (
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
