package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

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

func (s *BadgerStore) putVerified(cids []cid.Cid, datas [][]byte) error {
	if len(cids) == 0 {
		return nil
	}
	var dBlocks, dBytes int64
	err := s.update(func(txn *badger.Txn) error {
		dBlocks, dBytes = 0, 0
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
			if err := txn.Set(dk, bytes.Clone(datas[i])); err != nil {
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
		if err := s.putVerified(cids[:half], datas[:half]); err != nil {
			return err
		}
		return s.putVerified(cids[half:], datas[half:])
	}
	if err != nil {
		return fmt.Errorf("put %d blocks: %w", len(cids), err)
	}
	s.addCounts(dBlocks, dBytes)
	return nil
}
