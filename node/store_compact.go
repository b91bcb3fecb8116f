package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/replica"
)

// The collector reclaims the space of deleted blocks: it copies the live
// blocks out of every sealed segment that is at least half garbage,
// removes the segment, and then runs Badger's value-log GC. It runs when a
// deletion leaves a sealed segment at least half garbage, every
// collectEvery, and when CollectGarbage is called.
const (
	collectEvery = 10 * time.Minute
	// compactBatchBytes bounds the bytes one step of a compaction moves:
	// what it holds in memory and under shard locks at once.
	compactBatchBytes = 16 << 20
)

// segBlock is a block the index places in a segment.
type segBlock struct {
	c   cid.Cid
	dk  []byte
	loc segLoc
}

// walkSegmentEntries calls fn for every data entry that places a block in
// a segment, within one read transaction.
func (s *BadgerStore) walkSegmentEntries(fn func(b segBlock) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixBlock})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if item.UserMeta()&metaInSegment == 0 {
				continue
			}
			e, err := entryOf(item)
			if err != nil {
				return err
			}
			dk := item.KeyCopy(nil)
			if len(dk) <= len(prefixBlock)+replica.BlockKeySize {
				return fmt.Errorf("short key %x: %w", dk, replica.ErrCorrupt)
			}
			c, err := cid.Cast(dk[len(prefixBlock)+replica.BlockKeySize:])
			if err != nil {
				return fmt.Errorf("key %x: %w", dk, replica.ErrCorrupt)
			}
			if err := fn(segBlock{c: c, dk: dk, loc: e.loc}); err != nil {
				return err
			}
		}
		return nil
	})
}

// recountSegments rebuilds the segments' live bytes from the index (at
// open) and removes the segments it places nothing in: emptied by
// compaction just before a crash, or holding only puts the crash cut
// short.
func (s *BadgerStore) recountSegments() error {
	live := map[uint32]int64{}
	err := s.walkSegmentEntries(func(b segBlock) error {
		live[b.loc.seg] += int64(b.loc.n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recount segments: %w", err)
	}
	if missing := s.segs.setLive(live); missing > 0 {
		slog.Default().Warn("index names segments that are missing; their blocks read as corrupt until repaired", "segments", missing)
	}
	for _, id := range s.segs.compactable() {
		if live[id] == 0 {
			s.segs.retire(id)
		}
	}
	return nil
}

// startCollector starts the goroutine that runs collect; Close stops it.
func (s *BadgerStore) startCollector() {
	s.collectKick = make(chan struct{}, 1)
	s.collectStop = make(chan struct{})
	s.collectDone = make(chan struct{})
	go func() {
		defer close(s.collectDone)
		tick := time.NewTicker(collectEvery)
		defer tick.Stop()
		for {
			select {
			case <-s.collectStop:
				return
			case <-s.collectKick:
			case <-tick.C:
			}
			if err := s.collect(s.collectStop); err != nil {
				slog.Default().Warn("collecting deleted blocks' space", "err", err)
			}
		}
	}()
}

// kickCollector wakes the collector without waiting for it.
func (s *BadgerStore) kickCollector() {
	select {
	case s.collectKick <- struct{}{}:
	default:
	}
}

// SegmentStats returns the number of segment files, their bytes and the
// bytes of the blocks the index places in them.
func (s *BadgerStore) SegmentStats() SegmentInfo {
	n, size, live := s.segs.stats()
	return SegmentInfo{Files: n, Bytes: size, LiveBytes: live}
}

// CollectGarbage reclaims the space of deleted or rewritten blocks now:
// it compacts every sealed segment at least half garbage, then rewrites at
// most a few value-log files whose garbage ratio is at least one half. The
// store also does this by itself in the background; calls never overlap.
func (s *BadgerStore) CollectGarbage() error { return s.collect(nil) }

// collect is CollectGarbage, returning early once stop is closed.
func (s *BadgerStore) collect(stop <-chan struct{}) error {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if err := s.compactSegments(s.segs.compactable(), stop); err != nil {
		return err
	}
	for range 8 {
		if stopped(stop) {
			return nil
		}
		err := s.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("value log gc: %w", err)
		}
	}
	return nil
}

// stopped reports whether stop is closed; a nil stop never is.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// compactSegments moves the blocks the index places in the segments ids
// to the active segment, segment by segment in the order given, then
// retires each that the index places nothing in any more. One walk of the
// index finds the blocks of all of them, and one more, after the moves,
// tells which are empty. A block that cannot be read stays where it is
// (and keeps its segment), to be found by the next read and repaired.
func (s *BadgerStore) compactSegments(ids []uint32, stop <-chan struct{}) error {
	if len(ids) == 0 {
		return nil
	}
	blocks := make(map[uint32][]segBlock, len(ids))
	for _, id := range ids {
		blocks[id] = nil
	}
	err := s.walkSegmentEntries(func(b segBlock) error {
		if bs, ok := blocks[b.loc.seg]; ok {
			blocks[b.loc.seg] = append(bs, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("compact segments: %w", err)
	}
	for _, id := range ids {
		for bs := blocks[id]; len(bs) > 0; {
			if stopped(stop) {
				return nil
			}
			n, size := 0, int64(0)
			for n < len(bs) && (n == 0 || size+int64(bs[n].loc.n) <= compactBatchBytes) {
				size += int64(bs[n].loc.n)
				n++
			}
			if err := s.moveBlocks(bs[:n]); err != nil {
				return fmt.Errorf("compact segment %d: %w", id, err)
			}
			bs = bs[n:]
		}
	}
	// Only a walk of the index, not the live count, decides that nothing
	// is left, and only in a segment that is settled: a put that wrote
	// there before it was sealed may not have committed its entry yet.
	// After that, puts never append to it and every commit moves entries
	// away from it, so none can appear after the walk.
	left := make(map[uint32]int)
	for _, id := range ids {
		if s.segs.settled(id) {
			left[id] = 0
		}
	}
	if len(left) == 0 {
		return nil
	}
	err = s.walkSegmentEntries(func(b segBlock) error {
		if n, ok := left[b.loc.seg]; ok {
			left[b.loc.seg] = n + 1
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("compact segments: %w", err)
	}
	for _, id := range ids {
		if n, ok := left[id]; ok && n == 0 {
			s.segs.retire(id)
		}
	}
	return nil
}

// moveBlocks copies blocks to the active segment and points the index at
// the copies, under the blocks' shard locks. A block whose entry changed
// since it was listed (deleted, or put again elsewhere) is left alone, and
// so is one whose bytes cannot be read. The checksum moves with the bytes,
// so a copy of damaged bytes still fails its check when read.
func (s *BadgerStore) moveBlocks(blocks []segBlock) error {
	cids := make([]cid.Cid, len(blocks))
	for i, b := range blocks {
		cids[i] = b.c
	}
	unlock := s.files.lock(cids)
	defer unlock()
	var moving []segBlock
	var datas [][]byte
	var sums []uint32
	defer func() {
		for _, d := range datas {
			putBuf(d)
		}
	}()
	for _, b := range blocks {
		e, err := s.getIndexed(b.dk)
		if errors.Is(err, badger.ErrKeyNotFound) || err == nil && (!e.seg || e.loc != b.loc) {
			continue
		}
		if err != nil {
			return err
		}
		data, err := s.segs.read(b.loc)
		if err != nil {
			slog.Default().Warn("compaction leaves an unreadable block in place", "block", b.c, "err", err)
			continue
		}
		moving, datas, sums = append(moving, b), append(datas, data), append(sums, b.loc.sum)
	}
	if len(moving) == 0 {
		return nil
	}
	locs, done, err := s.segs.append(datas, sums)
	if err != nil {
		return err
	}
	defer done()
	err = s.update(func(txn *badger.Txn) error {
		for i, b := range moving {
			if err := txn.SetEntry(badger.NewEntry(b.dk, locs[i].encode()).WithMeta(metaInSegment)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, b := range moving {
		s.segs.addLive(b.loc.seg, -int64(b.loc.n))
		s.segs.addLive(locs[i].seg, int64(locs[i].n))
	}
	return nil
}
