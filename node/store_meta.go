package node

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/replica"
)

// metaKeyOf returns the metadata key of the block whose size key is sk.
func metaKeyOf(sk []byte) []byte { return slices.Concat(prefixMeta, sk[len(prefixSize):]) }

// decodeMetaItem decodes a metadata value.
func decodeMetaItem(item *badger.Item) (replica.Meta, error) {
	var m replica.Meta
	err := item.Value(func(v []byte) error {
		var err error
		m, err = replica.UnmarshalMeta(v)
		if err != nil {
			return fmt.Errorf("metadata %x: %w: %w", item.Key(), replica.ErrCorrupt, err)
		}
		return nil
	})
	return m, err
}

// BlockMeta returns the replication metadata of c, or ErrNotFound when c is
// not held.
func (s *BadgerStore) BlockMeta(c cid.Cid) (replica.Meta, error) {
	_, sk, err := blockKeys(c)
	if err != nil {
		return replica.Meta{}, fmt.Errorf("block meta: %w", err)
	}
	var m replica.Meta
	err = s.db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(sk); err != nil {
			return err
		}
		item, err := txn.Get(metaKeyOf(sk))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m, err = decodeMetaItem(item)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return replica.Meta{}, fmt.Errorf("block meta %s: %w", c, replica.ErrNotFound)
	}
	if err != nil {
		return replica.Meta{}, fmt.Errorf("block meta %s: %w", c, err)
	}
	return m, nil
}

// MergeBlockMeta merges m into the metadata of the held block c in one
// synced transaction and returns the result.
func (s *BadgerStore) MergeBlockMeta(c cid.Cid, m replica.Meta) (replica.Meta, error) {
	if err := m.Validate(); err != nil {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, err)
	}
	var out replica.Meta
	err := s.update(func(txn *badger.Txn) error {
		var err error
		out, err = mergeMetaTxn(txn, c, m)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, replica.ErrNotFound)
	}
	if err != nil {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, err)
	}
	return out, nil
}

// metaBatch bounds the merges of one MergeBlockMetas transaction, well
// inside Badger's transaction size limit.
const metaBatch = 1024

// MergeBlockMetas merges metas[i] into the metadata of cs[i] for every
// block held, a thousand blocks to a synced transaction instead of one
// each: a publish of 10,000 small files claims every block on three
// holders, and one sync per block made that claim take seconds. held[i]
// tells whether cs[i] is held (a block not held is skipped).
func (s *BadgerStore) MergeBlockMetas(cs []cid.Cid, metas []replica.Meta) (held []bool, err error) {
	if len(cs) != len(metas) {
		return nil, fmt.Errorf("merge block metas: %d metas for %d blocks", len(metas), len(cs))
	}
	for i, m := range metas {
		if err := m.Validate(); err != nil {
			return nil, fmt.Errorf("merge block meta %s: %w", cs[i], err)
		}
	}
	held = make([]bool, len(cs))
	for start := 0; start < len(cs); start += metaBatch {
		end := min(start+metaBatch, len(cs))
		err := s.update(func(txn *badger.Txn) error {
			for i := start; i < end; i++ {
				_, err := mergeMetaTxn(txn, cs[i], metas[i])
				if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
					return fmt.Errorf("merge block meta %s: %w", cs[i], err)
				}
				held[i] = err == nil
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("merge block metas: %w", err)
		}
	}
	return held, nil
}

// mergeMetaTxn merges m into the metadata of c within txn and returns the
// result; badger.ErrKeyNotFound when c is not held.
func mergeMetaTxn(txn *badger.Txn, c cid.Cid, m replica.Meta) (replica.Meta, error) {
	_, sk, err := blockKeys(c)
	if err != nil {
		return replica.Meta{}, err
	}
	if _, err := txn.Get(sk); err != nil {
		return replica.Meta{}, err
	}
	mk := metaKeyOf(sk)
	var old replica.Meta
	item, err := txn.Get(mk)
	switch {
	case err == nil:
		if old, err = decodeMetaItem(item); err != nil {
			return replica.Meta{}, err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return replica.Meta{}, err
	}
	out := replica.Merge(old, m)
	if (out.Equal(old) && !old.IsZero()) || out.IsZero() {
		return out, nil
	}
	return out, txn.Set(mk, out.AppendBinary(nil))
}

// ForEachBlockFrom walks the size index from start in ring order within one
// read transaction, reading each block's metadata with a second iterator
// over the metadata prefix that advances in step.
func (s *BadgerStore) ForEachBlockFrom(start [replica.BlockKeySize]byte, fn func(c cid.Cid, size int, m replica.Meta) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSize, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		mt := txn.NewIterator(badger.IteratorOptions{Prefix: prefixMeta, PrefetchValues: true, PrefetchSize: 64})
		defer mt.Close()
		mt.Seek(slices.Concat(prefixMeta, start[:]))
		for it.Seek(slices.Concat(prefixSize, start[:])); it.Valid(); it.Next() {
			item := it.Item()
			key := item.Key()
			if len(key) <= len(prefixSize)+replica.BlockKeySize {
				return fmt.Errorf("for each block: short key %x: %w", key, replica.ErrCorrupt)
			}
			suffix := key[len(prefixSize):]
			c, err := cid.Cast(suffix[replica.BlockKeySize:])
			if err != nil {
				return fmt.Errorf("for each block: key %x: %w", key, replica.ErrCorrupt)
			}
			n, err := sizeOf(item)
			if err != nil {
				return fmt.Errorf("for each block: %w", err)
			}
			var m replica.Meta
			for ; mt.Valid(); mt.Next() {
				d := bytes.Compare(mt.Item().Key()[len(prefixMeta):], suffix)
				if d < 0 {
					continue // metadata of a block no longer held
				}
				if d == 0 {
					if m, err = decodeMetaItem(mt.Item()); err != nil {
						return fmt.Errorf("for each block: %w", err)
					}
				}
				break
			}
			if err := fn(c, int(n), m); err != nil {
				return err
			}
		}
		return nil
	})
}
