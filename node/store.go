package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/chorus-data/chorus/replica"
	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// Key layout of the Badger store. Every block has two entries written and
// deleted in one transaction:
//
//	"b/" + ring key (32 bytes) + CID bytes -> block bytes
//	"s/" + ring key (32 bytes) + CID bytes -> block size, 8 bytes big-endian
//
// A block's replication metadata, when it has any, lives beside it:
//
//	"m/" + ring key (32 bytes) + CID bytes -> replica.Meta wire form
//
// written only by MergeBlockMeta and deleted with the block, so storing a
// block again keeps its metadata.
//
// and every version record one:
//
//	"r/" + name + "\x00" + version (8 bytes big-endian) -> record bytes
//
// Badger sorts keys bytewise, so both block prefixes iterate in ring order.
// The size index exists because Badger only estimates the size of a value
// kept in its value log; walking "s/" gives exact sizes without touching
// block bytes, for ForEachBlock and for the counters rebuilt at open.
//
// A record key is unambiguous for any name, even one holding "\x00": the
// name is key[2:len(key)-9], and a prefix scan of "r/"+name+"\x00" keeps
// only keys exactly 9+len(name)+2 bytes long.
var (
	prefixBlock  = []byte("b/")
	prefixSize   = []byte("s/")
	prefixRecord = []byte("r/")
	prefixMeta   = []byte("m/")
)

// Badger options chosen for a small machine (2 cores, a few other nodes in
// the same process during tests):
//
//   - MemTableSize 16 MiB (default 64), NumMemtables 3 (default 5): at most
//     48 MiB of memtables. A transaction may hold 15% of a memtable (2.4 MiB)
//     of inline data; block bytes above ValueThreshold go to the value log
//     and count only as a pointer, so 8 MiB blocks commit fine.
//   - ValueThreshold 64 KiB (default 1 MiB): typical 1 MiB chunks live in
//     the value log, keeping the LSM tree small and compactions cheap;
//     records, size entries and tiny blocks stay inline.
//   - ValueLogFileSize 256 MiB (default 1 GiB): finer-grained value-log GC.
//   - BlockCacheSize 32 MiB (default 256), IndexCacheSize 16 MiB (default 0,
//     meaning every table index stays in memory).
//   - NumCompactors 2 (default 4), NumGoroutines 4 (default 8).
//   - SyncWrites true: a Put has been fsynced when it returns.
//   - Logging routed to slog: errors and warnings only.
//   - Badger's expvar metrics off (nothing reads them).
const (
	badgerMemTableSize    = 16 << 20
	badgerNumMemtables    = 3
	badgerValueThreshold  = 64 << 10
	badgerValueLogFile    = 256 << 20
	badgerBlockCacheSize  = 32 << 20
	badgerIndexCacheSize  = 16 << 20
	badgerNumCompactors   = 2
	badgerNumGoroutines   = 4
	badgerMaxTxnConflicts = 64
)

// BadgerStore is a replica.Store on a Badger database in one directory.
// It is safe for concurrent use.
type BadgerStore struct {
	db    *badger.DB
	segs  *segments   // blocks of fileMin bytes and more
	files *blockFiles // such blocks put before segments; the shard locks
	// fileMin is fileThreshold; benchmarks raise it to compare with
	// blocks kept in Badger.
	fileMin int

	// puts groups concurrent puts into one segment sync and one index
	// commit (putGroup).
	puts commitQueue[putReq]

	mu     sync.Mutex // guards the counters and closed
	blocks int64
	bytes  int64
	closed bool

	// sweepStop ends the background sweep of unindexed block files
	// (startSweep), which closes sweepDone when it returns.
	sweepStop, sweepDone chan struct{}
	// The collector (startCollector) compacts segments and Badger's value
	// log: collectKick wakes it, collectStop ends it, collectDone is
	// closed when it has returned. gcMu keeps two collections apart.
	collectKick              chan struct{}
	collectStop, collectDone chan struct{}
	gcMu                     sync.Mutex
}

var _ replica.Store = (*BadgerStore)(nil)

// OpenBadgerStore opens (creating if needed) the store in dir and rebuilds
// its block counters by walking the size index.
func OpenBadgerStore(dir string) (*BadgerStore, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{slog.Default().With("component", "badger")}).
		WithMemTableSize(badgerMemTableSize).
		WithNumMemtables(badgerNumMemtables).
		WithValueThreshold(badgerValueThreshold).
		WithValueLogFileSize(badgerValueLogFile).
		WithBlockCacheSize(badgerBlockCacheSize).
		WithIndexCacheSize(badgerIndexCacheSize).
		WithNumCompactors(badgerNumCompactors).
		WithNumGoroutines(badgerNumGoroutines).
		WithMetricsEnabled(false)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger store %s: %w", dir, err)
	}
	files, err := openBlockFiles(dir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open badger store %s: %w", dir, err)
	}
	segs, err := openSegments(dir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open badger store %s: %w", dir, err)
	}
	s := &BadgerStore{db: db, segs: segs, files: files, fileMin: fileThreshold}
	if err := s.recount(); err != nil {
		segs.close()
		db.Close()
		return nil, fmt.Errorf("open badger store %s: %w", dir, err)
	}
	if err := s.recountSegments(); err != nil {
		segs.close()
		db.Close()
		return nil, fmt.Errorf("open badger store %s: %w", dir, err)
	}
	s.startSweep()
	s.startCollector()
	return s, nil
}

// recount rebuilds the block counters from the size index.
func (s *BadgerStore) recount() error {
	var blocks, total int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSize})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n, err := sizeOf(it.Item())
			if err != nil {
				return err
			}
			blocks++
			total += n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recount blocks: %w", err)
	}
	s.mu.Lock()
	s.blocks, s.bytes = blocks, total
	s.mu.Unlock()
	return nil
}

// sizeOf decodes a size-index value.
func sizeOf(item *badger.Item) (int64, error) {
	var n int64
	err := item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("size entry %x: %d bytes: %w", item.Key(), len(v), replica.ErrCorrupt)
		}
		n = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return n, err
}

// blockKeys returns the data key and the size key of c.
func blockKeys(c cid.Cid) (data, size []byte, err error) {
	k, err := replica.StoreKey(c)
	if err != nil {
		return nil, nil, err
	}
	return slices.Concat(prefixBlock, k), slices.Concat(prefixSize, k), nil
}

// recordKey returns the key of name at version.
func recordKey(name string, version uint64) []byte {
	k := make([]byte, 0, len(prefixRecord)+len(name)+9)
	k = append(k, prefixRecord...)
	k = append(k, name...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, version)
}

// update runs fn in a read-write transaction, retrying when Badger reports
// a conflict with a concurrent transaction, so that fn's reads (which decide
// the counter deltas) are always consistent with what it commits.
func (s *BadgerStore) update(fn func(txn *badger.Txn) error) error {
	for range badgerMaxTxnConflicts {
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("badger transaction: %w", badger.ErrConflict)
}

// addCounts applies a counter delta after a committed transaction.
func (s *BadgerStore) addCounts(blocks, nbytes int64) {
	if blocks == 0 && nbytes == 0 {
		return
	}
	s.mu.Lock()
	s.blocks += blocks
	s.bytes += nbytes
	s.mu.Unlock()
}

// PutBlock verifies data against c and stores it durably. Storing a block
// that is already held writes it again, which repairs a corrupt copy.
func (s *BadgerStore) PutBlock(c cid.Cid, data []byte) error {
	if _, _, err := blockKeys(c); err != nil {
		return fmt.Errorf("put block: %w", err)
	}
	if err := replica.VerifyBlock(c, data); err != nil {
		return fmt.Errorf("put block: %w", err)
	}
	if err := s.putVerified([]cid.Cid{c}, [][]byte{data}); err != nil {
		return fmt.Errorf("put block %s: %w", c, err)
	}
	return nil
}

// GetBlock returns the bytes of c, verified against c (ErrCorrupt if not).
func (s *BadgerStore) GetBlock(c cid.Cid) ([]byte, error) {
	data, _, err := s.getBlock(c)
	return data, err
}

// getBlock is GetBlock that also says whether the bytes are in a buffer
// of their own from getBuf (a segment's or a block file's), which the
// caller may recycle with putBuf once done with it.
func (s *BadgerStore) getBlock(c cid.Cid) (data []byte, pooled bool, err error) {
	dk, _, err := blockKeys(c)
	if err != nil {
		return nil, false, fmt.Errorf("get block: %w", err)
	}
	var gone *segLoc // a location whose segment was found removed
	for {
		e, err := s.getIndexed(dk)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, false, fmt.Errorf("get block %s: %w", c, replica.ErrNotFound)
		}
		if err != nil {
			return nil, false, fmt.Errorf("get block %s: %w", c, err)
		}
		switch {
		case e.seg:
			data, err := s.segs.read(e.loc)
			if errors.Is(err, errSegmentGone) {
				if gone != nil && *gone == e.loc {
					// Still named by the index: the segment is lost.
					return nil, false, fmt.Errorf("get block %s: %w: %w", c, err, replica.ErrCorrupt)
				}
				// Compacted after the index was read: read it again.
				gone = &e.loc
				continue
			}
			if err != nil {
				return nil, false, fmt.Errorf("get block %s: %w", c, err)
			}
			// The bytes were checked against the CID when they were put;
			// the checksum taken then shows they are still those bytes.
			if fileChecksum(data) == e.loc.sum {
				return data, true, nil
			}
			if err := replica.VerifyBlock(c, data); err != nil {
				putBuf(data)
				return nil, false, fmt.Errorf("get block: %w", err)
			}
			return data, true, nil
		case e.file:
			data, pooled, err := s.readFile(c, dk)
			if err != nil {
				return nil, false, fmt.Errorf("get block: %w", err)
			}
			// As for a segment; a file written before checksums were
			// kept, or one that no longer matches, gets the full check.
			if e.sum != nil && fileChecksum(data) == binary.BigEndian.Uint32(e.sum) {
				return data, pooled, nil
			}
			if err := replica.VerifyBlock(c, data); err != nil {
				return nil, false, fmt.Errorf("get block: %w", err)
			}
			return data, pooled, nil
		}
		data = e.data
		if data == nil {
			data = []byte{}
		}
		if err := replica.VerifyBlock(c, data); err != nil {
			return nil, false, fmt.Errorf("get block: %w", err)
		}
		return data, false, nil
	}
}

// indexEntry is a block's data entry: its bytes, or where they are.
type indexEntry struct {
	data []byte // the bytes of a block kept in Badger
	seg  bool   // the bytes are in a segment, at loc
	loc  segLoc
	file bool   // the bytes are in a block file (stores written before segments)
	sum  []byte // the block file's checksum, when its entry has one
}

// entryOf decodes the data entry item.
func entryOf(item *badger.Item) (indexEntry, error) {
	var e indexEntry
	v, err := item.ValueCopy(nil)
	if err != nil {
		return e, err
	}
	switch meta := item.UserMeta(); {
	case meta&metaInSegment != 0:
		e.seg = true
		e.loc, err = decodeSegLoc(v)
		if err != nil {
			return e, fmt.Errorf("index entry %x: %w", item.Key(), err)
		}
	case meta&metaInFile != 0:
		e.file = true
		if len(v) == 4 {
			e.sum = v
		}
	default:
		e.data = v
	}
	return e, nil
}

// getIndexed reads the data entry dk.
func (s *BadgerStore) getIndexed(dk []byte) (e indexEntry, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(dk)
		if err != nil {
			return err
		}
		e, err = entryOf(item)
		return err
	})
	return e, err
}

// readFile reads the file of c, whose data entry dk said it was in a file.
// A file that is missing because the block was deleted meanwhile means
// ErrNotFound; missing while the index still names it, ErrCorrupt.
func (s *BadgerStore) readFile(c cid.Cid, dk []byte) (data []byte, pooled bool, err error) {
	data, err = s.files.read(c)
	if !errors.Is(err, fs.ErrNotExist) {
		return data, err == nil, err
	}
	e, ierr := s.getIndexed(dk)
	switch {
	case errors.Is(ierr, badger.ErrKeyNotFound):
		return nil, false, fmt.Errorf("block %s: %w", c, replica.ErrNotFound)
	case ierr != nil:
		return nil, false, fmt.Errorf("block %s: %w", c, ierr)
	case e.file:
		return nil, false, fmt.Errorf("block %s: file missing: %w", c, replica.ErrCorrupt)
	case e.seg:
		data, err := s.segs.read(e.loc)
		return data, err == nil, err
	}
	// Rewritten inline meanwhile.
	return e.data, false, nil
}

// HasBlock reports whether c is held.
func (s *BadgerStore) HasBlock(c cid.Cid) (bool, error) {
	_, sk, err := blockKeys(c)
	if err != nil {
		return false, fmt.Errorf("has block: %w", err)
	}
	err = s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(sk)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("has block %s: %w", c, err)
	}
	return true, nil
}

// DeleteBlock removes c durably; a missing block is not an error. The space
// it took in a segment or in Badger's value log is reclaimed later by the
// collector (CollectGarbage); a block file is removed once the index no
// longer names it.
func (s *BadgerStore) DeleteBlock(c cid.Cid) error {
	dk, sk, err := blockKeys(c)
	if err != nil {
		return fmt.Errorf("delete block: %w", err)
	}
	unlock := s.files.lock([]cid.Cid{c})
	defer unlock()
	var dBlocks, dBytes int64
	var old indexEntry
	err = s.update(func(txn *badger.Txn) error {
		dBlocks, dBytes, old = 0, 0, indexEntry{}
		item, err := txn.Get(sk)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := sizeOf(item)
		if err != nil {
			return err
		}
		switch di, err := txn.Get(dk); {
		case err == nil:
			if old, err = entryOf(di); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if err := txn.Delete(dk); err != nil {
			return err
		}
		if err := txn.Delete(sk); err != nil {
			return err
		}
		if err := txn.Delete(slices.Concat(prefixMeta, sk[len(prefixSize):])); err != nil {
			return err
		}
		dBlocks, dBytes = -1, -n
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete block %s: %w", c, err)
	}
	s.addCounts(dBlocks, dBytes)
	if old.seg {
		s.segs.addLive(old.loc.seg, -int64(old.loc.n))
		if s.segs.sealedGarbage(old.loc.seg) {
			s.kickCollector()
		}
	}
	if old.file {
		if err := s.files.remove(c); err != nil {
			return fmt.Errorf("delete block: %w", err)
		}
	}
	return nil
}

// ForEachBlock walks the size index in ring order within one read
// transaction (a consistent snapshot); fn may call the store's methods.
func (s *BadgerStore) ForEachBlock(fn func(c cid.Cid, size int) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSize, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			key := item.Key()
			if len(key) <= len(prefixSize)+replica.BlockKeySize {
				return fmt.Errorf("for each block: short key %x: %w", key, replica.ErrCorrupt)
			}
			c, err := cid.Cast(key[len(prefixSize)+replica.BlockKeySize:])
			if err != nil {
				return fmt.Errorf("for each block: key %x: %w", key, replica.ErrCorrupt)
			}
			n, err := sizeOf(item)
			if err != nil {
				return fmt.Errorf("for each block: %w", err)
			}
			if err := fn(c, int(n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutRecord stores rec as version of name durably. Records are immutable:
// different bytes under an existing (name, version) fail with ErrConflict.
func (s *BadgerStore) PutRecord(name string, version uint64, rec []byte) error {
	k := recordKey(name, version)
	err := s.update(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err == nil {
			return item.Value(func(old []byte) error {
				if bytes.Equal(old, rec) {
					return nil
				}
				return replica.ErrConflict
			})
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(k, bytes.Clone(rec))
	})
	if err != nil {
		return fmt.Errorf("put record %q v%d: %w", name, version, err)
	}
	return nil
}

// GetRecord returns the record of name at version, or ErrNotFound.
func (s *BadgerStore) GetRecord(name string, version uint64) ([]byte, error) {
	var rec []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(recordKey(name, version))
		if err != nil {
			return err
		}
		rec, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("get record %q v%d: %w", name, version, replica.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get record %q v%d: %w", name, version, err)
	}
	if rec == nil {
		rec = []byte{}
	}
	return rec, nil
}

// Versions lists the versions held for name, ascending.
func (s *BadgerStore) Versions(name string) ([]uint64, error) {
	prefix := slices.Concat(prefixRecord, []byte(name), []byte{0})
	want := len(prefix) + 8
	out := []uint64{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			if len(key) != want {
				continue // a longer name that starts with name+"\x00"
			}
			out = append(out, binary.BigEndian.Uint64(key[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("versions of %q: %w", name, err)
	}
	return out, nil
}

// Names lists every name with at least one record, ascending.
func (s *BadgerStore) Names() ([]string, error) {
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixRecord})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			if len(key) < len(prefixRecord)+9 {
				return fmt.Errorf("short record key %x: %w", key, replica.ErrCorrupt)
			}
			out = append(out, string(key[len(prefixRecord):len(key)-9]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("names: %w", err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Stats returns the block count and bytes from counters kept in memory.
func (s *BadgerStore) Stats() (blocks int64, nbytes int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, fmt.Errorf("stats: %w", badger.ErrDBClosed)
	}
	return s.blocks, s.bytes, nil
}

// Close closes the database; closing twice is harmless.
func (s *BadgerStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.sweepStop)
	close(s.collectStop)
	<-s.sweepDone
	<-s.collectDone
	err := s.db.Close()
	s.segs.close()
	if err != nil {
		return fmt.Errorf("close badger store: %w", err)
	}
	return nil
}

// badgerLogger routes Badger's log to slog, keeping warnings and errors.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Warningf(format string, args ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
