package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

func TestPutBlocks(t *testing.T) {
	s, err := OpenBadgerStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cids []cid.Cid
	var datas [][]byte
	for i := range 3000 {
		d := []byte(fmt.Sprintf("block %d %0512d", i, i))
		cids, datas = append(cids, dataset.BlockCID(d)), append(datas, d)
	}
	if err := s.PutBlocks(cids, datas); err != nil {
		t.Fatal(err)
	}
	blocks, _, _ := s.Stats()
	if blocks != 3000 {
		t.Fatalf("holding %d blocks, want 3000", blocks)
	}
	got, err := s.GetBlock(cids[1234])
	if err != nil || string(got) != string(datas[1234]) {
		t.Fatalf("GetBlock = %q, %v", got, err)
	}
	// Again: no new blocks counted.
	if err := s.PutBlocks(cids[:10], datas[:10]); err != nil {
		t.Fatal(err)
	}
	if blocks, _, _ := s.Stats(); blocks != 3000 {
		t.Fatalf("re-put changed the count to %d", blocks)
	}
	// One bad block: nothing of the batch is stored.
	good := []byte("good new block")
	bad := dataset.BlockCID([]byte("something else"))
	err = s.PutBlocks([]cid.Cid{dataset.BlockCID(good), bad}, [][]byte{good, []byte("not it")})
	if !errors.Is(err, replica.ErrCorrupt) {
		t.Fatalf("bad batch: %v, want ErrCorrupt", err)
	}
	if ok, _ := s.HasBlock(dataset.BlockCID(good)); ok {
		t.Fatal("a batch with a bad block stored its good block")
	}
}
