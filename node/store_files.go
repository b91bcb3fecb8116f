package node

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// fileThreshold is the size from which a block's bytes are kept outside
// Badger, in a segment (store_segments.go). A synced Badger write of 1 MiB
// values tops out near 230-580 MB/s here (the value log is written through
// a memory map); small blocks stay in Badger, where a batch of them costs
// one sync.
const fileThreshold = 64 << 10

// Before segments, each large block had a file of its own, and stores
// written then still hold such files:
//
//	blocks/tmp/put-*              a block being written (removed at open)
//	blocks/<xx>/<CID>             a block's bytes, xx the hex of the last
//	                              byte of its digest (256 shards)
//
// with a data entry flagged metaInFile whose value is the CRC-32C of the
// file's bytes (fileChecksum; empty in stores written before it). Such
// blocks are still read, deleted and replaced (a put of one writes it to a
// segment and removes the file after the index commit); no new file is
// written. An unindexed file, which a crash between a file's rename and
// its index commit could leave, is removed by the sweep after open
// (store_sweep.go).
const (
	blockFilesDir = "blocks"
	blockTmpDir   = "tmp"
	// metaInFile is the Badger user-meta bit of a data entry whose bytes
	// live in a block file.
	metaInFile byte = 1
)

// blockFiles reads and removes the block files of older stores, and holds
// the store's shard locks: writers and deleters of large blocks in the same
// shard are serialized by that shard's lock, held across the segment
// append or file removal and the index commit, so a put, a delete and a
// compaction of one block cannot interleave.
type blockFiles struct {
	root  string
	tmp   string
	locks [256]sync.Mutex
}

// openBlockFiles removes the temporary files a crash of an older version
// may have left under dir.
func openBlockFiles(dir string) (*blockFiles, error) {
	root := filepath.Join(dir, blockFilesDir)
	f := &blockFiles{root: root, tmp: filepath.Join(root, blockTmpDir)}
	if err := os.RemoveAll(f.tmp); err != nil {
		return nil, fmt.Errorf("block files: %w", err)
	}
	return f, nil
}

// shardOf returns the shard of c: the last byte of its multihash.
func shardOf(c cid.Cid) byte {
	h := c.Hash()
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1]
}

func (f *blockFiles) shardDir(shard byte) string {
	return filepath.Join(f.root, fmt.Sprintf("%02x", shard))
}

func (f *blockFiles) path(c cid.Cid) string {
	return filepath.Join(f.shardDir(shardOf(c)), c.String())
}

// lock takes the shard locks of cids in ascending order and returns the
// function that releases them.
func (f *blockFiles) lock(cids []cid.Cid) (unlock func()) {
	shards := make([]int, 0, len(cids))
	for _, c := range cids {
		shards = append(shards, int(shardOf(c)))
	}
	slices.Sort(shards)
	shards = slices.Compact(shards)
	for _, s := range shards {
		f.locks[s].Lock()
	}
	return func() {
		for _, s := range shards {
			f.locks[s].Unlock()
		}
	}
}

// read returns the bytes of c's file (an error wrapping fs.ErrNotExist
// when there is none), in a buffer from getBuf that the caller owns.
func (f *blockFiles) read(c cid.Cid) ([]byte, error) {
	file, err := os.Open(f.path(c))
	if err != nil {
		return nil, fmt.Errorf("block file %s: %w", c, err)
	}
	defer file.Close()
	// One read of the exact size: unlike os.ReadFile, no second read to
	// meet the end of the file. A file that changed size meanwhile reads
	// short or long and fails verification like any other damage.
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("block file %s: %w", c, err)
	}
	if fi.Size() > dataset.MaxBlockSize {
		return nil, fmt.Errorf("block file %s: %d bytes: %w", c, fi.Size(), replica.ErrCorrupt)
	}
	data := getBuf(int(fi.Size()))
	if _, err := io.ReadFull(file, data); err != nil {
		return nil, fmt.Errorf("block file %s: %w", c, err)
	}
	return data, nil
}

// remove deletes c's file; a missing file is not an error. The caller
// holds c's shard lock and has already removed c from the index.
func (f *blockFiles) remove(c cid.Cid) error {
	if err := os.Remove(f.path(c)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	return nil
}

// syncPath fsyncs the file or directory at path.
func syncPath(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// castagnoli is the CRC-32C table; the CPU computes it (SSE 4.2, ARMv8).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileChecksum is the CRC-32C of a block file's bytes, kept in its index
// entry when the block is put, after its bytes were checked against the
// CID. A read that finds the same checksum serves the bytes without
// hashing them again: the CID's hash costs 0.3 (blake3) to 0.6 (sha2-256)
// CPU-s per GB, a sixth to a third of what a source spends serving a
// block, while CRC-32C runs at memory speed and still catches what the
// disk corrupts. The reader checks the CID itself
// whatever a source sends, so nothing it keeps is unverified.
func fileChecksum(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }
