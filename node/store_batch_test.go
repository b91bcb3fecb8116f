package node

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
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

// TestPutGroupKeepsErrorsApart: puts flushed together by one group commit
// fail or succeed on their own. A put whose existing index entry does not
// decode fails, a put whose segment failed to sync fails, and the others
// in the same group are stored.
func TestPutGroupKeepsErrorsApart(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	small := func(tag string) (cid.Cid, []byte) {
		d := []byte("small block " + tag)
		return dataset.BlockCID(d), d
	}
	bad, badData := small("with a broken index entry")
	good, goodData := small("good")
	// An index entry that says "in a segment" but holds no location.
	dk, _, err := blockKeys(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(dk, []byte("junk")).WithMeta(metaInSegment))
	}); err != nil {
		t.Fatal(err)
	}
	errs := s.putGroup([]putReq{
		{cids: []cid.Cid{bad}, datas: [][]byte{badData}},
		{cids: []cid.Cid{good}, datas: [][]byte{goodData}},
	})
	if !errors.Is(errs[0], replica.ErrCorrupt) || errs[1] != nil {
		t.Fatalf("errors %v, want ErrCorrupt for the broken entry only", errs)
	}
	if got, err := s.GetBlock(good); err != nil || !bytes.Equal(got, goodData) {
		t.Fatalf("GetBlock of the good put of the group: %q, %v", got, err)
	}

	// A segment whose sync fails: only the put written there fails.
	big := storetest.RandomBytes(rand.New(rand.NewPCG(3, 4)), fileThreshold)
	bigCid := storetest.Block(t, big)
	locs, used, done, err := s.segs.write([][]byte{big}, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	used[0].sync = newGroupSync(func() error { return boom })
	other, otherData := small("beside a failed sync")
	errs = s.putGroup([]putReq{
		{cids: []cid.Cid{bigCid}, datas: [][]byte{big}, locs: locs, used: used},
		{cids: []cid.Cid{other}, datas: [][]byte{otherData}},
	})
	done()
	if !errors.Is(errs[0], boom) || errs[1] != nil {
		t.Fatalf("errors %v, want the sync's error for the segment put only", errs)
	}
	if ok, _ := s.HasBlock(bigCid); ok {
		t.Fatal("a put whose segment sync failed was indexed")
	}
	if ok, _ := s.HasBlock(other); !ok {
		t.Fatal("the put beside a failed sync was not stored")
	}
	// The next put starts a new segment and succeeds.
	putAndGet(t, s, bigCid, big, "a segment block after a failed sync")
	if blocks, _, _ := s.Stats(); blocks != 3 {
		t.Fatalf("holding %d blocks, want 3", blocks)
	}
}
