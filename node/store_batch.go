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

// putVerified stores verified blocks: those of fileMin bytes and
// more as durable files first, then the index entries of all of them in
// one synced transaction, under the shard locks of the file blocks.
func (s *BadgerStore) putVerified(cids []cid.Cid, datas [][]byte) error {
	if len(cids) == 0 {
		return nil
	}
	var fileCids []cid.Cid
	var fileDatas [][]byte
	for i, c := range cids {
		if len(datas[i]) >= s.fileMin {
			fileCids, fileDatas = append(fileCids, c), append(fileDatas, datas[i])
		}
	}
	if len(fileCids) > 0 {
		unlock := s.files.lock(fileCids)
		defer unlock()
		if err := s.files.write(fileCids, fileDatas); err != nil {
			return fmt.Errorf("put %d blocks: %w", len(cids), err)
		}
	}
	return s.commitIndex(cids, datas)
}

// commitIndex writes the index entries of blocks whose files (if any) are
// durable already, splitting a batch too big for one transaction.
func (s *BadgerStore) commitIndex(cids []cid.Cid, datas [][]byte) error {
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
			e := badger.NewEntry(dk, binary.BigEndian.AppendUint32(nil, fileChecksum(datas[i]))).WithMeta(metaInFile)
			if n < int64(s.fileMin) {
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
		if err := s.commitIndex(cids[:half], datas[:half]); err != nil {
			return err
		}
		return s.commitIndex(cids[half:], datas[half:])
	}
	if err != nil {
		return fmt.Errorf("put %d blocks: %w", len(cids), err)
	}
	s.addCounts(dBlocks, dBytes)
	return nil
}
