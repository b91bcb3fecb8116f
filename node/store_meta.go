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
	_, sk, err := blockKeys(c)
	if err != nil {
		return replica.Meta{}, fmt.Errorf("merge block meta: %w", err)
	}
	if err := m.Validate(); err != nil {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, err)
	}
	mk := metaKeyOf(sk)
	var out replica.Meta
	err = s.update(func(txn *badger.Txn) error {
		if _, err := txn.Get(sk); err != nil {
			return err
		}
		var old replica.Meta
		item, err := txn.Get(mk)
		switch {
		case err == nil:
			if old, err = decodeMetaItem(item); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		out = replica.Merge(old, m)
		if out.Equal(old) && !old.IsZero() {
			return nil
		}
		if out.IsZero() {
			return nil
		}
		return txn.Set(mk, out.AppendBinary(nil))
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, replica.ErrNotFound)
	}
	if err != nil {
		return replica.Meta{}, fmt.Errorf("merge block meta %s: %w", c, err)
	}
	return out, nil
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
