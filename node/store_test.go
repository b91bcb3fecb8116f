package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

func openTestStore(t *testing.T, dir string) *BadgerStore {
	t.Helper()
	s, err := OpenBadgerStore(dir)
	if err != nil {
		t.Fatalf("OpenBadgerStore: %v", err)
	}
	return s
}

func TestBadgerStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) replica.Store { return openTestStore(t, t.TempDir()) })
}

func TestBadgerStoreDetectsCorruption(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	small := []byte("a small block kept inline")
	large := storetest.RandomBytes(r, 300<<10) // above the value threshold
	for _, data := range [][]byte{small, large} {
		c := storetest.Block(t, data)
		if err := s.PutBlock(c, data); err != nil {
			t.Fatal(err)
		}
		dk, _, err := blockKeys(c)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0x01
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(dk, bad) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
			t.Fatalf("GetBlock of a corrupted %d-byte block: err = %v, want ErrCorrupt", len(data), err)
		}
		// A fresh put of the right bytes repairs the copy.
		putAndGet(t, s, c, data, "repair")
	}
	blocks, nbytes, err := s.Stats()
	if err != nil || blocks != 2 || nbytes != int64(len(small)+len(large)) {
		t.Fatalf("Stats after repair = %d, %d, %v", blocks, nbytes, err)
	}
}

func TestBadgerStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(3, 4))
	var cids []cid.Cid
	var datas [][]byte
	var total int64
	for i := range 20 {
		data := storetest.RandomBytes(r, 1+i*20000)
		c := storetest.Block(t, data)
		if err := s.PutBlock(c, data); err != nil {
			t.Fatal(err)
		}
		cids, datas = append(cids, c), append(datas, data)
		total += int64(len(data))
	}
	if err := s.DeleteBlock(cids[0]); err != nil {
		t.Fatal(err)
	}
	total -= int64(len(datas[0]))
	if err := s.PutRecord("ds", 3, []byte("three")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord("ds", 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openTestStore(t, dir)
	defer s.Close()
	blocks, nbytes, err := s.Stats()
	if err != nil || blocks != 19 || nbytes != total {
		t.Fatalf("Stats after reopen = %d blocks, %d bytes, %v; want 19, %d", blocks, nbytes, err, total)
	}
	if ok, err := s.HasBlock(cids[0]); err != nil || ok {
		t.Fatalf("deleted block is back after reopen: %v, %v", ok, err)
	}
	for i := 1; i < len(cids); i++ {
		got, err := s.GetBlock(cids[i])
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("block %d after reopen: %d bytes, %v", i, len(got), err)
		}
	}
	vs, err := s.Versions("ds")
	if err != nil || len(vs) != 2 || vs[0] != 1 || vs[1] != 3 {
		t.Fatalf("Versions after reopen = %v, %v", vs, err)
	}
	if err := s.PutRecord("ds", 3, []byte("changed")); !errors.Is(err, replica.ErrConflict) {
		t.Fatalf("PutRecord over a reopened record: err = %v, want ErrConflict", err)
	}
}

func TestBadgerStoreCollectGarbage(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	data := storetest.RandomBytes(r, 200<<10)
	c := storetest.Block(t, data)
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlock(c); err != nil {
		t.Fatal(err)
	}
	if err := s.CollectGarbage(); err != nil {
		t.Fatalf("CollectGarbage: %v", err)
	}
}

// TestBadgerStoreSegmentBlock follows a large block through its segment:
// stored there, a flipped bit caught on read and repaired by a put, kept
// across a reopen, gone after a delete.
func TestBadgerStoreSegmentBlock(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(7, 8))
	data := storetest.RandomBytes(r, fileThreshold)
	c := storetest.Block(t, data)
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	loc := segmentLoc(t, s, c)
	path := filepath.Join(dir, segmentsDir, segmentName(loc.seg))
	seg, err := os.ReadFile(path)
	if err != nil || int64(len(seg)) < loc.off+int64(loc.n) || !bytes.Equal(seg[loc.off:loc.off+int64(loc.n)], data) {
		t.Fatalf("segment %s: %d bytes, %v; the block is not at %d+%d", path, len(seg), err, loc.off, loc.n)
	}
	// A flipped bit in the segment is caught on read, and a put repairs
	// it by writing the block again elsewhere.
	flipByte(t, path, loc.off+7)
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
		t.Fatalf("GetBlock of a corrupted block: err = %v, want ErrCorrupt", err)
	}
	putAndGet(t, s, c, data, "repair")
	if again := segmentLoc(t, s, c); again == loc {
		t.Fatalf("the repairing put left the block at %+v", loc)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if got, err := s.GetBlock(c); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlock after reopen: %d bytes, %v", len(got), err)
	}
	if err := s.DeleteBlock(c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("GetBlock after delete: err = %v, want ErrNotFound", err)
	}
}

// TestBadgerStoreMissingSegment: a segment gone while the index places
// blocks in it means those blocks are corrupt (to be repaired), not absent.
func TestBadgerStoreMissingSegment(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	data := storetest.RandomBytes(rand.New(rand.NewPCG(7, 9)), 2*fileThreshold)
	c := storetest.Block(t, data)
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	loc := segmentLoc(t, s, c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, segmentsDir, segmentName(loc.seg))); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
		t.Fatalf("GetBlock from a missing segment: err = %v, want ErrCorrupt", err)
	}
	putAndGet(t, s, c, data, "repair")
	// The repair went to a new segment, not to one reusing the lost id.
	if again := segmentLoc(t, s, c); again.seg == loc.seg {
		t.Fatalf("the repaired block is in segment %d, the id of the lost one", again.seg)
	}
}

// TestBadgerStoreLegacyFile: a block kept in a file of its own by an older
// version is read, checked, replaced by a put (which moves it to a
// segment and removes the file) and removed by a delete; a temporary file
// left by a crash of that version is removed at open.
func TestBadgerStoreLegacyFile(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	r := rand.New(rand.NewPCG(7, 10))
	data := storetest.RandomBytes(r, fileThreshold)
	c := storetest.Block(t, data)
	putLegacyFile(t, s, c, data, checksumBytes(data))
	path := s.files.path(c)
	if got, err := s.GetBlock(c); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlock of a block file: %d bytes, %v", len(got), err)
	}
	flipByte(t, path, 7)
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
		t.Fatalf("GetBlock of a corrupted file: err = %v, want ErrCorrupt", err)
	}
	// A file gone while the index names it is corruption, not absence.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
		t.Fatalf("GetBlock of a missing file: err = %v, want ErrCorrupt", err)
	}
	// A put moves the block to a segment and removes the file.
	putLegacyFile(t, s, c, data, checksumBytes(data))
	putAndGet(t, s, c, data, "put over a block file")
	segmentLoc(t, s, c)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("block file after a put moved it to a segment: %v", err)
	}
	if blocks, nbytes, err := s.Stats(); err != nil || blocks != 1 || nbytes != int64(len(data)) {
		t.Fatalf("Stats = %d, %d, %v; want 1, %d", blocks, nbytes, err, len(data))
	}
	// Deleting a block that is in a file removes the file.
	other := storetest.RandomBytes(r, 2*fileThreshold)
	oc := storetest.Block(t, other)
	putLegacyFile(t, s, oc, other, checksumBytes(other))
	if err := s.DeleteBlock(oc); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.files.path(oc)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("block file after delete: %v", err)
	}
	// A temporary file left by a crash is removed at open.
	leftover := filepath.Join(dir, blockFilesDir, blockTmpDir, "put-crash")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, data[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file after reopen: %v", err)
	}
}

// TestBadgerStoreUnindexedFile: a complete file without an index entry
// (a crash between the file's rename and the index commit) is not held.
func TestBadgerStoreUnindexedFile(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	data := storetest.RandomBytes(rand.New(rand.NewPCG(9, 10)), 2*fileThreshold)
	c := storetest.Block(t, data)
	if err := os.MkdirAll(filepath.Dir(s.files.path(c)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.files.path(c), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if has, err := s.HasBlock(c); err != nil || has {
		t.Fatalf("HasBlock of an unindexed file = %v, %v", has, err)
	}
	if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("GetBlock of an unindexed file: err = %v, want ErrNotFound", err)
	}
	putAndGet(t, s, c, data, "put")
}

// TestBadgerStoreFileChecksum checks the two ways a block file is read: a
// checksum taken at put that still matches serves the bytes as they are,
// and an index entry without one (as stores written before checksums have)
// or with one that does not match gets the full check against the CID.
func TestBadgerStoreFileChecksum(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(9, 10))
	data := storetest.RandomBytes(r, fileThreshold+1)
	c := storetest.Block(t, data)
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"checksum", checksumBytes(data)},
		{"no checksum", []byte{}},
		{"wrong checksum", []byte{1, 2, 3, 4}},
	} {
		putLegacyFile(t, s, c, data, tc.entry)
		if got, err := s.GetBlock(c); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: GetBlock = %d bytes, %v", tc.name, len(got), err)
		}
		// A bad file is caught whichever check runs.
		flipByte(t, s.files.path(c), 0)
		if _, err := s.GetBlock(c); !errors.Is(err, replica.ErrCorrupt) {
			t.Fatalf("%s: GetBlock of a corrupted file: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// putLegacyFile stores c as the version before segments did: its bytes in
// a file of its own, its data entry flagged metaInFile with sum as value.
func putLegacyFile(t *testing.T, s *BadgerStore, c cid.Cid, data, sum []byte) {
	t.Helper()
	// Under the shard lock, as that version's put was: the sweep after
	// open must not see the file before its index entry.
	unlock := s.files.lock([]cid.Cid{c})
	defer unlock()
	path := s.files.path(c)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dk, sk, err := blockKeys(c)
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.SetEntry(badger.NewEntry(dk, sum).WithMeta(metaInFile)); err != nil {
			return err
		}
		return txn.Set(sk, binary.BigEndian.AppendUint64(nil, uint64(len(data))))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recount(); err != nil {
		t.Fatal(err)
	}
}

// checksumBytes is the index value of a block file's checksum.
func checksumBytes(data []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, fileChecksum(data))
}

// segmentLoc returns where the index places c, failing the test unless
// it is in a segment.
func segmentLoc(t *testing.T, s *BadgerStore, c cid.Cid) segLoc {
	t.Helper()
	dk, _, err := blockKeys(c)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.getIndexed(dk)
	if err != nil || !e.seg {
		t.Fatalf("index entry of %s: %+v, %v; want a segment", c, e, err)
	}
	return e.loc
}

// flipByte flips one bit of the byte at off in the file at path.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x80
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// putAndGet puts data as c and fails the test unless a get then returns
// it; what names the situation in the failure.
func putAndGet(t *testing.T, s *BadgerStore, c cid.Cid, data []byte, what string) {
	t.Helper()
	if err := s.PutBlock(c, data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(c); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlock after %s: %d bytes, %v", what, len(got), err)
	}
}
