package replica

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/ipfs/go-cid"
)

// MemStore is an in-memory Store for tests and the simulator. It is safe
// for concurrent use; it starts no goroutines. Blocks are walked in ring-key
// order (the store key of StoreKey), records are kept per name.
type MemStore struct {
	mu      sync.Mutex
	blocks  map[string]memBlock // store key -> block
	order   []string            // store keys, sorted when !dirty
	dirty   bool
	nbytes  int64
	records map[string]map[uint64][]byte
	closed  bool
}

type memBlock struct {
	c    cid.Cid
	data []byte
	meta Meta
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{
		blocks:  make(map[string]memBlock),
		records: make(map[string]map[uint64][]byte),
	}
}

// errClosed is returned by every method of a closed MemStore.
var errClosed = fmt.Errorf("memstore: closed")

// PutBlock stores a copy of data under c after verifying it.
func (m *MemStore) PutBlock(c cid.Cid, data []byte) error {
	k, err := StoreKey(c)
	if err != nil {
		return fmt.Errorf("put block: %w", err)
	}
	if err := VerifyBlock(c, data); err != nil {
		return fmt.Errorf("put block: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	key := string(k)
	var meta Meta
	if old, ok := m.blocks[key]; ok {
		m.nbytes -= int64(len(old.data))
		meta = old.meta
	} else {
		m.order = append(m.order, key)
		m.dirty = true
	}
	m.blocks[key] = memBlock{c: c, data: bytes.Clone(data), meta: meta}
	m.nbytes += int64(len(data))
	return nil
}

// GetBlock returns a copy of the bytes of c, verified again on the way out.
func (m *MemStore) GetBlock(c cid.Cid) ([]byte, error) {
	k, err := StoreKey(c)
	if err != nil {
		return nil, fmt.Errorf("get block: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	b, ok := m.blocks[string(k)]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("get block %s: %w", c, ErrNotFound)
	}
	out := bytes.Clone(b.data)
	if out == nil {
		out = []byte{}
	}
	if err := VerifyBlock(c, out); err != nil {
		return nil, fmt.Errorf("get block: %w", err)
	}
	return out, nil
}

// HasBlock reports whether c is held.
func (m *MemStore) HasBlock(c cid.Cid) (bool, error) {
	k, err := StoreKey(c)
	if err != nil {
		return false, fmt.Errorf("has block: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, errClosed
	}
	_, ok := m.blocks[string(k)]
	return ok, nil
}

// DeleteBlock removes c; a missing block is not an error.
func (m *MemStore) DeleteBlock(c cid.Cid) error {
	k, err := StoreKey(c)
	if err != nil {
		return fmt.Errorf("delete block: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	key := string(k)
	old, ok := m.blocks[key]
	if !ok {
		return nil
	}
	delete(m.blocks, key)
	m.nbytes -= int64(len(old.data))
	m.sortLocked()
	i, found := slices.BinarySearch(m.order, key)
	if found {
		m.order = slices.Delete(m.order, i, i+1)
	}
	return nil
}

// sortLocked restores the ring order of m.order after insertions.
func (m *MemStore) sortLocked() {
	if m.dirty {
		slices.Sort(m.order)
		m.dirty = false
	}
}

// ForEachBlock calls fn for every block in ring-key order. It walks a
// snapshot taken at the call, so fn may call any method of the store.
func (m *MemStore) ForEachBlock(fn func(c cid.Cid, size int) error) error {
	type entry struct {
		c    cid.Cid
		size int
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	m.sortLocked()
	snap := make([]entry, len(m.order))
	for i, k := range m.order {
		b := m.blocks[k]
		snap[i] = entry{c: b.c, size: len(b.data)}
	}
	m.mu.Unlock()
	for _, e := range snap {
		if err := fn(e.c, e.size); err != nil {
			return err
		}
	}
	return nil
}

// PutRecord stores a copy of rec as version of name; records are immutable.
func (m *MemStore) PutRecord(name string, version uint64, rec []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	vs := m.records[name]
	if old, ok := vs[version]; ok {
		if bytes.Equal(old, rec) {
			return nil
		}
		return fmt.Errorf("put record %q v%d: %w", name, version, ErrConflict)
	}
	if vs == nil {
		vs = make(map[uint64][]byte)
		m.records[name] = vs
	}
	c := bytes.Clone(rec)
	if c == nil {
		c = []byte{}
	}
	vs[version] = c
	return nil
}

// GetRecord returns a copy of the record of name at version.
func (m *MemStore) GetRecord(name string, version uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	rec, ok := m.records[name][version]
	if !ok {
		return nil, fmt.Errorf("get record %q v%d: %w", name, version, ErrNotFound)
	}
	return bytes.Clone(rec), nil
}

// Versions lists the versions held for name, ascending (empty if none).
func (m *MemStore) Versions(name string) ([]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	vs := m.records[name]
	out := make([]uint64, 0, len(vs))
	for v := range vs {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// Names lists every name with at least one record, ascending.
func (m *MemStore) Names() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	out := make([]string, 0, len(m.records))
	for n := range m.records {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Stats returns the number of blocks and block bytes held.
func (m *MemStore) Stats() (blocks int64, nbytes int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, 0, errClosed
	}
	return int64(len(m.blocks)), m.nbytes, nil
}

// Close marks the store closed and drops its contents.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.blocks = nil
	m.order = nil
	m.records = nil
	m.nbytes = 0
	return nil
}

// BlockMeta returns the metadata of c, or ErrNotFound.
func (m *MemStore) BlockMeta(c cid.Cid) (Meta, error) {
	k, err := StoreKey(c)
	if err != nil {
		return Meta{}, fmt.Errorf("block meta: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Meta{}, errClosed
	}
	b, ok := m.blocks[string(k)]
	if !ok {
		return Meta{}, fmt.Errorf("block meta %s: %w", c, ErrNotFound)
	}
	return b.meta, nil
}

// MergeBlockMeta merges meta into the metadata of c and returns the result.
func (m *MemStore) MergeBlockMeta(c cid.Cid, meta Meta) (Meta, error) {
	k, err := StoreKey(c)
	if err != nil {
		return Meta{}, fmt.Errorf("merge block meta: %w", err)
	}
	if err := meta.Validate(); err != nil {
		return Meta{}, fmt.Errorf("merge block meta %s: %w", c, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Meta{}, errClosed
	}
	b, ok := m.blocks[string(k)]
	if !ok {
		return Meta{}, fmt.Errorf("merge block meta %s: %w", c, ErrNotFound)
	}
	b.meta = Merge(b.meta, meta)
	m.blocks[string(k)] = b
	return b.meta, nil
}

// memWalkChunk is how many blocks ForEachBlockFrom copies per lock hold.
const memWalkChunk = 256

// ForEachBlockFrom walks the blocks whose ring key is at least start, in
// ring order. It copies a few entries at a time under the lock and calls
// fn without it, so fn may use the store; blocks added or removed during
// the walk may or may not be seen.
func (m *MemStore) ForEachBlockFrom(start [BlockKeySize]byte, fn func(c cid.Cid, size int, meta Meta) error) error {
	type entry struct {
		key  string
		c    cid.Cid
		size int
		meta Meta
	}
	from := string(start[:])
	inclusive := true
	buf := make([]entry, 0, memWalkChunk)
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return errClosed
		}
		m.sortLocked()
		i, found := slices.BinarySearch(m.order, from)
		if found && !inclusive {
			i++
		}
		buf = buf[:0]
		for ; i < len(m.order) && len(buf) < memWalkChunk; i++ {
			b := m.blocks[m.order[i]]
			buf = append(buf, entry{key: m.order[i], c: b.c, size: len(b.data), meta: b.meta})
		}
		m.mu.Unlock()
		for _, e := range buf {
			if err := fn(e.c, e.size, e.meta); err != nil {
				return err
			}
		}
		if len(buf) < memWalkChunk {
			return nil
		}
		from, inclusive = buf[len(buf)-1].key, false
	}
}
