package simulations

import (
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/replica"
)

// simStore is a simulated node's block store: a replica.MemStore holding a
// short stand-in payload for every block, which reports every block as
// blockSize bytes long. The replication core therefore sees, schedules,
// rate-limits and accounts full-size blocks (Transfer.Size, the token
// bucket, Entry.Size), while 10,000 blocks of 1 MiB at r=3 and more do not
// need 30 GiB of memory. It also tells the durability tracker when a copy
// appears (a transfer stored it) or disappears (the core dropped an extra
// copy), so the count of copies of every block is exact at every instant.
//
// It keeps its own sorted list of store keys so that a ring-range walk
// visits only the blocks it returns: MemStore's walk copies 256 entries
// per step, which made range walks (every sync round and every sync
// answer) a third of the simulation's time.
type simStore struct {
	*replica.MemStore
	blockSize int64
	h         *host
	t         *durTracker
	keys      []string       // store keys, sorted
	cids      []cid.Cid      // cids[i] has store key keys[i]
	metas     []replica.Meta // metas[i] is the metadata of cids[i]
	ver       uint64         // bumped by every insertion and deletion
}

var _ replica.Store = (*simStore)(nil)

func newSimStore(h *host, t *durTracker, blockSize int64) *simStore {
	return &simStore{MemStore: replica.NewMemStore(), blockSize: blockSize, h: h, t: t}
}

// PutBlock stores the payload and counts a new copy.
func (s *simStore) PutBlock(c cid.Cid, data []byte) error {
	had, err := s.MemStore.HasBlock(c)
	if err != nil {
		return err
	}
	if err := s.MemStore.PutBlock(c, data); err != nil {
		return err
	}
	if !had {
		k, _ := replica.StoreKey(c) // valid: PutBlock accepted c
		i, _ := slices.BinarySearch(s.keys, string(k))
		s.keys = slices.Insert(s.keys, i, string(k))
		s.cids = slices.Insert(s.cids, i, c)
		s.metas = slices.Insert(s.metas, i, replica.Meta{})
		s.ver++
		s.t.copyAdded(c, s.h)
	}
	return nil
}

// DeleteBlock removes the block and counts the copy gone.
func (s *simStore) DeleteBlock(c cid.Cid) error {
	had, err := s.MemStore.HasBlock(c)
	if err != nil {
		return err
	}
	if err := s.MemStore.DeleteBlock(c); err != nil {
		return err
	}
	if had {
		k, _ := replica.StoreKey(c)
		if i, ok := slices.BinarySearch(s.keys, string(k)); ok {
			s.keys = slices.Delete(s.keys, i, i+1)
			s.cids = slices.Delete(s.cids, i, i+1)
			s.metas = slices.Delete(s.metas, i, i+1)
			s.ver++
		}
		s.t.copyRemoved(c, s.h)
	}
	return nil
}

// MergeBlockMeta merges m into the metadata of c, keeping the walk's copy
// of it current.
func (s *simStore) MergeBlockMeta(c cid.Cid, m replica.Meta) (replica.Meta, error) {
	merged, err := s.MemStore.MergeBlockMeta(c, m)
	if err != nil {
		return merged, err
	}
	k, _ := replica.StoreKey(c)
	if i, ok := slices.BinarySearch(s.keys, string(k)); ok {
		s.metas[i] = merged
	}
	return merged, nil
}

// ForEachBlock walks the blocks, each blockSize bytes long.
func (s *simStore) ForEachBlock(fn func(c cid.Cid, size int) error) error {
	return s.MemStore.ForEachBlock(func(c cid.Cid, _ int) error { return fn(c, int(s.blockSize)) })
}

// ForEachBlockFrom walks the blocks whose ring key is at least start, in
// ring order, each blockSize bytes long. fn may use the store; after a
// change the walk resumes after the last key it visited.
func (s *simStore) ForEachBlockFrom(start [replica.BlockKeySize]byte, fn func(c cid.Cid, size int, m replica.Meta) error) error {
	i, _ := slices.BinarySearch(s.keys, string(start[:]))
	for i < len(s.keys) {
		key, c, m := s.keys[i], s.cids[i], s.metas[i]
		ver := s.ver
		if err := fn(c, int(s.blockSize), m); err != nil {
			return err
		}
		if s.ver != ver {
			i, _ = slices.BinarySearch(s.keys, key+"\x00")
			continue
		}
		i++
	}
	return nil
}

// Stats counts every block as blockSize bytes.
func (s *simStore) Stats() (int64, int64, error) {
	n, _, err := s.MemStore.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("sim store: %w", err)
	}
	return n, n * s.blockSize, nil
}

// blocks lists the CIDs held, in ring order.
func (s *simStore) blocks() []cid.Cid { return slices.Clone(s.cids) }
