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

// fileThreshold is the size from which a block's bytes are kept in a file
// of their own instead of in Badger. A synced Badger write of 1 MiB values
// tops out near 230-580 MB/s here (the value log is written through a
// memory map), while writing and fsyncing files from as many goroutines
// reaches about 1.1 GB/s on the same disk; small blocks stay in Badger,
// where a batch of them costs one sync.
const fileThreshold = 64 << 10

// Layout of the block files under a store's directory:
//
//	blocks/tmp/put-*              a block being written (removed at open)
//	blocks/<xx>/<CID>             a block's bytes, xx the hex of the last
//	                              byte of its digest (256 shards)
//
// Badger remains the index: a block is held when its size entry exists,
// and its data entry is then either its bytes or, flagged with
// metaInFile, the CRC-32C of the bytes in the file (fileChecksum; empty in
// stores written before it). A file is written to
// blocks/tmp, fsynced, renamed into its shard and the shard directory is
// fsynced before the Badger entries are committed (synced), so an
// acknowledged put is durable and a crash at any point leaves either no
// index entry (the block is not held; at worst a complete, unreferenced
// file remains, which the sweep after the next open removes, see
// store_sweep.go, unless a put of the same block replaces it first) or an
// entry whose file is complete. Deletion commits the index first and
// removes the file afterwards, with the same outcome.
const (
	blockFilesDir = "blocks"
	blockTmpDir   = "tmp"
	// metaInFile is the Badger user-meta bit of a data entry whose bytes
	// live in a block file.
	metaInFile byte = 1
)

// blockFiles keeps large blocks as files. Writers and deleters of blocks
// in the same shard are serialized by that shard's lock, held across the
// file operation and the index commit, so a put and a delete of one block
// cannot interleave into an index entry without its file.
type blockFiles struct {
	root  string
	tmp   string
	locks [256]sync.Mutex
}

// openBlockFiles prepares the block-file directory under dir and removes
// the temporary files a crash may have left. Shard directories are made
// when their first block is written.
func openBlockFiles(dir string) (*blockFiles, error) {
	root := filepath.Join(dir, blockFilesDir)
	f := &blockFiles{root: root, tmp: filepath.Join(root, blockTmpDir)}
	if err := os.RemoveAll(f.tmp); err != nil {
		return nil, fmt.Errorf("block files: %w", err)
	}
	if err := os.MkdirAll(f.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("block files: %w", err)
	}
	for _, d := range []string{root, dir} {
		if err := syncPath(d); err != nil {
			return nil, fmt.Errorf("block files: %w", err)
		}
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

// write stores the blocks as files and makes them durable: each file is
// fsynced before it is renamed into place, then each shard directory
// touched is fsynced once. The caller holds the shard locks.
func (f *blockFiles) write(cids []cid.Cid, datas [][]byte) error {
	dirs := make(map[byte]bool)
	for i, c := range cids {
		if err := f.writeOne(c, datas[i]); err != nil {
			return err
		}
		dirs[shardOf(c)] = true
	}
	for shard := range dirs {
		if err := syncPath(f.shardDir(shard)); err != nil {
			return fmt.Errorf("block files: %w", err)
		}
	}
	return nil
}

func (f *blockFiles) writeOne(c cid.Cid, data []byte) (err error) {
	t, err := os.CreateTemp(f.tmp, "put-*")
	if err != nil {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	defer func() {
		if err != nil {
			_ = t.Close()
			_ = os.Remove(t.Name())
		}
	}()
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	if err := t.Sync(); err != nil {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	if err := t.Close(); err != nil {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	err = os.Rename(t.Name(), f.path(c))
	if errors.Is(err, fs.ErrNotExist) {
		if err := f.makeShard(shardOf(c)); err != nil {
			return fmt.Errorf("block file %s: %w", c, err)
		}
		err = os.Rename(t.Name(), f.path(c))
	}
	if err != nil {
		return fmt.Errorf("block file %s: %w", c, err)
	}
	return nil
}

// makeShard creates a shard directory durably.
func (f *blockFiles) makeShard(shard byte) error {
	if err := os.Mkdir(f.shardDir(shard), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncPath(f.root)
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
