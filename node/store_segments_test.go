package node

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
)

func TestSegLocRoundTrip(t *testing.T) {
	for _, l := range []segLoc{
		{},
		{seg: 1, off: 0, n: fileThreshold, sum: 0xdeadbeef},
		{seg: 0xffffffff, off: 1<<40 + 3, n: 8 << 20, sum: 1},
	} {
		got, err := decodeSegLoc(l.encode())
		if err != nil || got != l {
			t.Errorf("decode(encode(%+v)) = %+v, %v", l, got, err)
		}
	}
	for _, tc := range []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"short", make([]byte, segLocSize-1)},
		{"long", make([]byte, segLocSize+1)},
		{"negative offset", segLoc{off: -1}.encode()},
		{"too long", segLoc{n: 64 << 20}.encode()},
	} {
		if _, err := decodeSegLoc(tc.v); !errors.Is(err, replica.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func FuzzDecodeSegLoc(f *testing.F) {
	f.Add(segLoc{seg: 3, off: 77, n: 100, sum: 9}.encode())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		l, err := decodeSegLoc(v)
		if err != nil {
			return
		}
		if got := l.encode(); !bytes.Equal(got, v) {
			t.Fatalf("encode(decode(%x)) = %x", v, got)
		}
	})
}

func TestSegmentName(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   uint32
		ok   bool
	}{
		{segmentName(1), 1, true},
		{segmentName(0xabcdef01), 0xabcdef01, true},
		{"00000001.tmp", 0, false},
		{"1.seg", 0, false},
		{"zzzzzzzz.seg", 0, false},
	} {
		id, ok := parseSegmentName(tc.name)
		if ok != tc.ok || ok && id != tc.id {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tc.name, id, ok, tc.id, tc.ok)
		}
	}
}

// segmentFiles returns the sizes of the segment files in a store's
// directory, by name.
func segmentFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, segmentsDir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// putRandomBlocks puts n blocks of 1 to 2 times fileThreshold bytes.
func putRandomBlocks(t *testing.T, s *BadgerStore, r *rand.Rand, n int) ([]cid.Cid, [][]byte) {
	t.Helper()
	var cids []cid.Cid
	var datas [][]byte
	for range n {
		data := storetest.RandomBytes(r, fileThreshold+r.IntN(fileThreshold))
		c := storetest.Block(t, data)
		if err := s.PutBlock(c, data); err != nil {
			t.Fatal(err)
		}
		cids, datas = append(cids, c), append(datas, data)
	}
	return cids, datas
}

// checkBlocks fails the test unless every block in keep reads back as its
// bytes and every CID in gone is not found.
func checkBlocks(t *testing.T, s *BadgerStore, keep map[cid.Cid][]byte, gone []cid.Cid) {
	t.Helper()
	for c, data := range keep {
		if got, err := s.GetBlock(c); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetBlock(%s): %d bytes, %v", c, len(got), err)
		}
	}
	for _, c := range gone {
		if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("GetBlock of deleted %s: err = %v, want ErrNotFound", c, err)
		}
	}
}

// TestBadgerStoreCompaction: after most blocks are deleted, collecting
// leaves no sealed segment more than half garbage and removes the files
// of the emptied ones; every kept block reads back, before and after a
// reopen.
func TestBadgerStoreCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	s.segs.maxSize = 6 * fileThreshold
	r := rand.New(rand.NewPCG(21, 22))
	cids, datas := putRandomBlocks(t, s, r, 60)
	before := segmentFiles(t, dir)
	if len(before) < 10 {
		t.Fatalf("%d segments for 60 blocks with 6-block segments", len(before))
	}
	keep := map[cid.Cid][]byte{}
	var gone []cid.Cid
	var liveBytes int64
	for i, c := range cids {
		if i%4 == 0 {
			keep[c] = datas[i]
			liveBytes += int64(len(datas[i]))
			continue
		}
		if err := s.DeleteBlock(c); err != nil {
			t.Fatal(err)
		}
		gone = append(gone, c)
	}
	if err := s.CollectGarbage(); err != nil {
		t.Fatal(err)
	}
	checkBlocks(t, s, keep, gone)
	after := segmentFiles(t, dir)
	var total int64
	for _, n := range after {
		total += n
	}
	// The emptied and the half-empty sealed segments are gone; what is
	// left is the live bytes, at most as much garbage in sealed
	// segments, and the active segment.
	if total > 2*liveBytes+s.segs.maxSize {
		t.Fatalf("segments hold %d bytes for %d live after collecting (were %d files, now %d)", total, liveBytes, len(before), len(after))
	}
	for name := range before {
		if _, ok := after[name]; ok {
			if id, _ := parseSegmentName(name); s.segs.sealedGarbage(id) {
				t.Errorf("segment %s is sealed and mostly garbage after collecting", name)
			}
		}
	}
	n, size, live := s.segs.stats()
	if live != liveBytes || n != len(after) || size != total {
		t.Fatalf("segment stats %d files, %d bytes, %d live; want %d, %d, %d", n, size, live, len(after), total, liveBytes)
	}
	t.Logf("segments: %d files, %d bytes before; %d files, %d bytes after for %d live", len(before), sum(before), len(after), total, liveBytes)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	checkBlocks(t, s, keep, gone)
	if _, _, live := s.segs.stats(); live != liveBytes {
		t.Fatalf("live bytes after reopen %d, want %d", live, liveBytes)
	}
	if blocks, nbytes, err := s.Stats(); err != nil || blocks != int64(len(keep)) || nbytes != liveBytes {
		t.Fatalf("Stats after reopen = %d, %d, %v; want %d, %d", blocks, nbytes, err, len(keep), liveBytes)
	}
}

func sum(m map[string]int64) (t int64) {
	for _, v := range m {
		t += v
	}
	return t
}

// TestBadgerStoreUnindexedSegmentBytes: bytes appended and synced whose
// index commit never happened (a crash in between) are not blocks: a
// segment holding only such bytes is removed at the next open, and one
// that also holds indexed blocks keeps them and counts the rest as
// garbage.
func TestBadgerStoreUnindexedSegmentBytes(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(23, 24))
	cids, datas := putRandomBlocks(t, s, r, 2)
	orphan := storetest.RandomBytes(r, 2*fileThreshold)
	mixed, done, err := s.segs.append([][]byte{orphan}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done()
	// Now a segment of nothing but unindexed bytes.
	s.segs.maxSize = 0
	lone, done, err := s.segs.append([][]byte{orphan}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if lone[0].seg == mixed[0].seg {
		t.Fatal("the second append did not start a new segment")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	files := segmentFiles(t, dir)
	if _, ok := files[segmentName(lone[0].seg)]; ok {
		t.Errorf("a segment without indexed blocks survived the open: %v", files)
	}
	if n, ok := files[segmentName(mixed[0].seg)]; !ok || n != int64(len(datas[0])+len(datas[1])+len(orphan)) {
		t.Errorf("the segment with indexed blocks: %d bytes, present %v", n, ok)
	}
	checkBlocks(t, s, map[cid.Cid][]byte{cids[0]: datas[0], cids[1]: datas[1]}, nil)
	if _, size, live := s.segs.stats(); size-live != int64(len(orphan)) {
		t.Errorf("garbage %d bytes, want the %d unindexed", size-live, len(orphan))
	}
}

// TestBadgerStoreCompactionWhileReading: blocks read while their segments
// are compacted and removed always come back whole.
func TestBadgerStoreCompactionWhileReading(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	s.segs.maxSize = 4 * fileThreshold
	r := rand.New(rand.NewPCG(25, 26))
	cids, datas := putRandomBlocks(t, s, r, 40)
	// The readers read keep; later is deleted a block per round, while
	// they read, so that each round has garbage to compact.
	keep := map[cid.Cid][]byte{}
	var later []cid.Cid
	for i, c := range cids {
		switch i % 3 {
		case 0:
			keep[c] = datas[i]
		case 1:
			later = append(later, c)
		default:
			if err := s.DeleteBlock(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				for c, data := range keep {
					select {
					case <-stop:
						return
					default:
					}
					got, err := s.GetBlock(c)
					if err != nil || !bytes.Equal(got, data) {
						errs <- errors.New("a read during compaction failed: " + c.String())
						return
					}
				}
			}
		})
	}
	retired := 0
	for _, c := range later {
		n, _, _ := s.segs.stats()
		if err := s.CollectGarbage(); err != nil {
			t.Fatal(err)
		}
		after, _, _ := s.segs.stats()
		retired += max(0, n-after)
		// Seal the active segment (compaction moved blocks into it).
		s.segs.mu.Lock()
		s.segs.active = nil
		s.segs.mu.Unlock()
		if err := s.DeleteBlock(c); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if retired == 0 {
		t.Fatal("no segment was removed while the blocks were read")
	}
	checkBlocks(t, s, keep, later)
}

// TestBadgerStoreSegmentWriteFails: a put whose write to the segment
// fails returns the error (it used to call a nil cleanup and panic),
// releases the segment, and indexes nothing.
func TestBadgerStoreSegmentWriteFails(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	putRandomBlocks(t, s, r, 1)
	s.segs.mu.Lock()
	active := s.segs.active
	s.segs.mu.Unlock()
	if err := active.f.Close(); err != nil {
		t.Fatal(err)
	}
	data := storetest.RandomBytes(r, fileThreshold)
	c := storetest.Block(t, data)
	if err := s.PutBlock(c, data); err == nil {
		t.Fatal("a put into a closed segment file succeeded")
	}
	if ok, _ := s.HasBlock(c); ok {
		t.Fatal("a failed put was indexed")
	}
	s.segs.mu.Lock()
	writers, refs := active.writers, active.refs
	s.segs.mu.Unlock()
	if writers != 0 || refs != 0 {
		t.Fatalf("segment left with %d writers and %d references", writers, refs)
	}
}
