package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/replica"
)

// PutBlocks verifies and stores many blocks in one synced transaction, so
// that a batch of small blocks costs one disk sync instead of one each.
// Every block is verified before anything is written; if one does not match
// its CID, nothing is stored. A batch too big for one Badger transaction is
// split.
func (s *BadgerStore) PutBlocks(cids []cid.Cid, datas [][]byte) error {
	if len(cids) != len(datas) {
		return fmt.Errorf("put blocks: %d CIDs for %d blocks", len(cids), len(datas))
	}
	for i, c := range cids {
		if err := replica.VerifyBlock(c, datas[i]); err != nil {
			return fmt.Errorf("put blocks: %w", err)
		}
	}
	return s.putVerified(cids, datas)
}

// putVerified stores verified blocks: those of fileMin bytes and more
// appended to a segment, then, once the segment is synced, the index
// entries of all of them in one synced transaction, under the shard locks
// of the segment blocks. Concurrent puts share both steps (putGroup).
func (s *BadgerStore) putVerified(cids []cid.Cid, datas [][]byte) error {
	if len(cids) == 0 {
		return nil
	}
	var segCids []cid.Cid
	var segDatas [][]byte
	for i, c := range cids {
		if len(datas[i]) >= s.fileMin {
			segCids, segDatas = append(segCids, c), append(segDatas, datas[i])
		}
	}
	req := putReq{cids: cids, datas: datas}
	if len(segCids) > 0 {
		unlock := s.files.lock(segCids)
		defer unlock()
		var done func()
		var err error
		if req.locs, req.used, done, err = s.segs.write(segDatas, nil); err != nil {
			return fmt.Errorf("put %d blocks: %w", len(cids), err)
		}
		defer done()
	}
	return s.puts.run(req, s.putGroup)
}

// putReq is one put waiting in the store's commit queue: its blocks, the
// segment locations of those of fileMin bytes and more, in order, and the
// segments those were written to.
type putReq struct {
	cids  []cid.Cid
	datas [][]byte
	locs  []segLoc
	used  []*segment
}

// putGroup makes a group of puts durable: it syncs the segments they
// wrote, each once, and commits all their index entries in one
// transaction. A put whose segment failed to sync gets that error. If the
// shared commit fails, each put is committed on its own, so that one put's
// error (an index entry that does not decode, say) stays its own.
//
// Why: each synced Badger commit costs two msyncs (its log and the value
// log, about 0.9 ms), during which the writer holds a scheduler slot, and
// with a commit per put that was about 1,900 msyncs per GiB published.
func (s *BadgerStore) putGroup(reqs []putReq) []error {
	errs := make([]error, len(reqs))
	var used []*segment
	for _, r := range reqs {
		used = append(used, r.used...)
	}
	failed := syncEach(used)
	var cids []cid.Cid
	var datas [][]byte
	var locs []segLoc
	var ok []int // the puts whose bytes are durable
	for i, r := range reqs {
		if err := firstFailure(r.used, failed); err != nil {
			errs[i] = fmt.Errorf("put %d blocks: %w", len(r.cids), err)
			continue
		}
		ok = append(ok, i)
		cids, datas, locs = append(cids, r.cids...), append(datas, r.datas...), append(locs, r.locs...)
	}
	if len(ok) == 0 {
		return errs
	}
	err := s.commitIndex(cids, datas, locs)
	if err == nil || len(ok) == 1 {
		for _, i := range ok {
			errs[i] = err
		}
		return errs
	}
	for _, i := range ok {
		r := reqs[i]
		errs[i] = s.commitIndex(r.cids, r.datas, r.locs)
	}
	return errs
}

// commitIndex writes the index entries of blocks, splitting a batch too
// big for one transaction. locs are where the blocks of fileMin bytes and
// more are, in order, already durable. What an entry replaces is let go
// after the commit: a segment's bytes become garbage, a block file is
// removed.
func (s *BadgerStore) commitIndex(cids []cid.Cid, datas [][]byte, locs []segLoc) error {
	var dBlocks, dBytes int64
	type replacedEntry struct {
		c cid.Cid
		e indexEntry
	}
	var replaced []replacedEntry
	err := s.update(func(txn *badger.Txn) error {
		dBlocks, dBytes, replaced = 0, 0, replaced[:0]
		next := 0 // index into locs
		for i, c := range cids {
			dk, sk, err := blockKeys(c)
			if err != nil {
				return err
			}
			n := int64(len(datas[i]))
			item, err := txn.Get(sk)
			switch {
			case err == nil:
				old, err := sizeOf(item)
				if err != nil {
					return err
				}
				dBytes += n - old
			case errors.Is(err, badger.ErrKeyNotFound):
				dBlocks++
				dBytes += n
			default:
				return err
			}
			switch di, err := txn.Get(dk); {
			case err == nil:
				old, err := entryOf(di)
				if err != nil {
					return err
				}
				if old.seg || old.file {
					replaced = append(replaced, replacedEntry{c, old})
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			var e *badger.Entry
			if n >= int64(s.fileMin) {
				e = badger.NewEntry(dk, locs[next].encode()).WithMeta(metaInSegment)
				next++
			} else {
				e = badger.NewEntry(dk, bytes.Clone(datas[i]))
			}
			if err := txn.SetEntry(e); err != nil {
				return err
			}
			if err := txn.Set(sk, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrTxnTooBig) && len(cids) > 1 {
		half := len(cids) / 2
		split := 0 // locs of the first half
		for _, d := range datas[:half] {
			if len(d) >= s.fileMin {
				split++
			}
		}
		if err := s.commitIndex(cids[:half], datas[:half], locs[:split]); err != nil {
			return err
		}
		return s.commitIndex(cids[half:], datas[half:], locs[split:])
	}
	if err != nil {
		return fmt.Errorf("put %d blocks: %w", len(cids), err)
	}
	s.addCounts(dBlocks, dBytes)
	for _, l := range locs {
		s.segs.addLive(l.seg, int64(l.n))
	}
	for _, r := range replaced {
		switch {
		case r.e.seg:
			s.segs.addLive(r.e.loc.seg, -int64(r.e.loc.n))
		case r.e.file:
			if err := s.files.remove(r.c); err != nil {
				slog.Default().Warn("removing a replaced block file", "err", err)
			}
		}
	}
	return nil
}
