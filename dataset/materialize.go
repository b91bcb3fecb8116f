package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/ipfs/go-cid"
)

// DefaultWorkers is the number of concurrent chunk fetches Materialize
// uses when MaterializeOptions.Workers is not positive.
const DefaultWorkers = 4

// ErrDestExists is wrapped when Materialize refuses to write over an
// existing destination.
var ErrDestExists = errors.New("destination exists")

// MaterializeOptions tunes Materialize.
type MaterializeOptions struct {
	// Force writes over an existing destination: each file of the
	// manifest replaces the file at its path (atomically, one by one),
	// directories are created as needed and their modes set; paths of
	// the destination that the manifest does not name are left alone.
	Force bool
	// Workers is the number of chunks fetched concurrently, which is
	// also the number of chunks held in memory; DefaultWorkers if <= 0.
	Workers int
	// MaxBytes, when positive, also bounds the bytes of the chunks being
	// fetched or held at once (a chunk larger than MaxBytes is fetched
	// alone), so that many small chunks can be in flight while memory stays
	// bounded for large ones.
	MaxBytes int64
	// Verified says that get returns only bytes it has already checked
	// against the CID; Materialize then checks sizes but does not hash
	// each chunk a second time.
	Verified bool
	// ResumeKey, when set (and Force is not), names the work in progress
	// after the dataset version (the manifest CID is a good key): the new
	// tree or file is assembled in a hidden sibling of dest,
	// ".<base>.chorus-partial-<key>", that is kept when Materialize fails.
	// Run again with the same key, Materialize keeps every chunk already
	// there that still verifies and fetches only the rest.
	ResumeKey string
	// Recycle, when set, is handed each chunk's bytes once they have been
	// written, when Materialize holds them no more: get may lend buffers
	// and take them back here.
	Recycle func(data []byte)
}

// Materialize writes the dataset of manifest m at dest, fetching chunks
// with get, which may be called concurrently and is not trusted: every
// chunk is checked against its CID and size before it is written.
//
// Without opts.Force, an existing dest is refused with an error wrapping
// ErrDestExists, except an empty directory for a directory dataset. A
// fresh tree is built in a hidden temporary sibling of dest and renamed
// into place at the end; a single file is written to a temporary sibling,
// synced and renamed. On error the temporary files are removed, so dest
// is either complete or untouched (with opts.Force, files already
// replaced stay replaced). Missing parent directories of dest are
// created and left in place. File and directory modes come from the
// manifest; the root directory of a directory dataset gets mode 0o755.
// Materialize returns only after every call to get has returned.
func Materialize(m *Manifest, dest string, opts MaterializeOptions, get func(c cid.Cid) ([]byte, error)) error {
	if err := m.Validate(); err != nil {
		return err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	dest = filepath.Clean(dest)
	fi, err := os.Lstat(dest)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if exists && !opts.Force && !(!m.Single && fi.IsDir() && isEmptyDir(dest)) {
		return fmt.Errorf("%w: %s", ErrDestExists, dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	fresh := !opts.Force || !exists
	partial := ""
	keep := make([]int, len(m.Entries))
	if fresh && opts.ResumeKey != "" {
		partial = partialPath(dest, opts.ResumeKey)
		keep = resumable(m, partial)
	}
	f := startFetch(m, workers, opts.MaxBytes, opts.Verified, keep, get)
	f.recycle = opts.Recycle
	defer f.close()
	switch {
	case m.Single && fresh && partial != "":
		return writeFileResumable(dest, partial, &m.Entries[0], keep[0], f)
	case m.Single:
		if exists && !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file; refusing to replace it", ErrDestExists, dest)
		}
		return writeFileAtomic(dest, &m.Entries[0], f)
	case !exists || (fi.IsDir() && isEmptyDir(dest)):
		return writeTreeFresh(m, dest, partial, keep, f)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory; refusing to replace it", ErrDestExists, dest)
	default:
		return writeTreeForce(m, dest, f)
	}
}

// isEmptyDir reports whether dir is a directory without entries.
func isEmptyDir(dir string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	_, err = d.Readdirnames(1)
	return err == io.EOF
}

// tempName returns the prefix of a temporary sibling of path.
func tempName(path string) string {
	base := filepath.Base(path)
	if len(base) > 200 {
		base = base[:200]
	}
	return "." + base + ".chorus-tmp-"
}

// writeTreeFresh builds the tree in a temporary sibling directory of dest
// and renames it onto dest, which does not exist or is an empty directory.
func writeTreeFresh(m *Manifest, dest, partial string, keep []int, f *fetcher) (err error) {
	tmp := partial
	if tmp == "" {
		if tmp, err = os.MkdirTemp(filepath.Dir(dest), tempName(dest)); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				removeTree(tmp)
			}
		}()
	} else if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	// Every directory first (parents come before their entries in a
	// manifest), so that the files can be opened ahead in any order.
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type != Dir {
			continue
		}
		if err := os.Mkdir(filepath.Join(tmp, filepath.FromSlash(e.Path)), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	opener := startOpenAhead(m, tmp, keep)
	defer opener.close()
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type == Dir {
			continue
		}
		out, err := opener.take(i)
		if err != nil {
			return err
		}
		// No sync per file: the whole tree is synced once before the
		// rename, which matters for trees of many small files.
		if err := finishFile(out, e, keep[i], false, f); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dest, filepath.FromSlash(e.Path)), err)
		}
	}
	if err := setDirModes(m, tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	// os.Rename refuses to replace a directory; rename(2) replaces an
	// empty one atomically, which is what we want.
	if err := syscall.Rename(tmp, dest); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dest, Err: err}
	}
	syncDir(filepath.Dir(dest))
	return nil
}

// openAt opens the file of entry e for writing after its first kept
// chunks: the file is cut to their length and positioned at its end.
func openAt(path string, e *Entry, kept int) (*os.File, error) {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	var off int64
	for _, c := range e.Chunks[:kept] {
		off += c.Size
	}
	if err := out.Truncate(off); err != nil {
		out.Close()
		return nil, err
	}
	if _, err := out.Seek(off, io.SeekStart); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

// writeFileResumable writes a single-file dataset into its partial file
// (keeping its first kept chunks), syncs it and renames it to path.
func writeFileResumable(path, partial string, e *Entry, kept int, f *fetcher) error {
	out, err := openAt(partial, e, kept)
	if err != nil {
		return err
	}
	if err := finishFile(out, e, kept, true, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(partial, path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

func writeTreeForce(m *Manifest, dest string, f *fetcher) error {
	for i := range m.Entries {
		e := &m.Entries[i]
		full := filepath.Join(dest, filepath.FromSlash(e.Path))
		fi, err := os.Lstat(full)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if e.Type == Dir {
			switch {
			case exists && fi.IsDir():
				// Keep it writable until the end, when its mode is set.
				err = os.Chmod(full, fi.Mode().Perm()|0o700)
			case exists:
				// A file or symlink where the manifest has a directory:
				// replace it, never follow it.
				if err = os.Remove(full); err == nil {
					err = os.Mkdir(full, 0o700)
				}
			default:
				err = os.Mkdir(full, 0o700)
			}
			if err != nil {
				return err
			}
			continue
		}
		if exists && fi.IsDir() {
			return fmt.Errorf("%w: %s is a directory; refusing to replace it with a file", ErrDestExists, full)
		}
		if err := writeFileAtomic(full, e, f); err != nil {
			return err
		}
	}
	return setDirModes(m, dest)
}

// writeFileAtomic writes file entry e to a temporary sibling of path,
// syncs it and renames it onto path.
func writeFileAtomic(path string, e *Entry, f *fetcher) error {
	out, err := os.CreateTemp(filepath.Dir(path), tempName(path))
	if err != nil {
		return err
	}
	tmp := out.Name()
	if err := finishFile(out, e, 0, true, f); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writebackBytes is how much finishFile writes before it asks the kernel
// to start writing those bytes to disk: the disk then works while the
// rest is fetched, instead of all at once in the final sync (for a 1 GiB
// file that sync was a sizeable part of the fetch).
const writebackBytes = 8 << 20

// dropLag is how far behind the write position finishFile drops a large
// file's written pages from the page cache (dropCached), by when they
// have usually been written back: the fetch's page cache then stays at
// about this size instead of growing with the file, and each new page
// the kernel needs is one just dropped. On this project's test VM, pages
// the guest had not touched for a while cost a host-side fault on first
// touch: writing a third GiB in a row into the page cache took 1.7-3.6
// CPU-seconds instead of 0.25, while the same writes dropping behind took
// 0.48-0.59 throughout.
const dropLag = 4 * writebackBytes

// dropAlign is what the ranges finishFile drops are aligned to: the
// largest page-cache folio on x86-64 and arm64 with 4 KiB pages.
const dropAlign = 2 << 20

// finishFile writes the chunks of e to out in order, sets its mode,
// syncs and closes it. out is closed in every case.
func finishFile(out *os.File, e *Entry, from int, sync bool, f *fetcher) error {
	err := func() error {
		off, err := out.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		// The manifest was validated: the chunks add up to e.Size, and
		// out stands at the end of the chunks before from.
		if err := preallocate(out, off, e.Size-off); err != nil {
			return err
		}
		var pending int64               // bytes written since the last writeback hint
		start := off &^ (dropAlign - 1) // where the dropped range starts
		dropFrom := start               // where the next dropped range starts
		dropping := false               // some pages were dropped
		for range e.Chunks[from:] {
			data, err := f.next()
			if err != nil {
				return err
			}
			_, err = out.Write(data)
			if f.recycle != nil {
				f.recycle(data)
			}
			f.release()
			if err != nil {
				return err
			}
			if pending += int64(len(data)); pending >= writebackBytes {
				startWriteback(out, off, pending)
				off, pending = off+pending, 0
				// Page-cache folios are naturally aligned and at most
				// 2 MiB here; a folio the range only partly covers is
				// kept, so the range ends on a multiple of that. Each
				// range goes dropLag back over the last one, so that
				// pages still being written back at one call are
				// dropped at a later one, while the work per call
				// stays the same however large the file.
				if behind := (off - dropLag) &^ (dropAlign - 1); behind > dropFrom {
					dropCached(out, dropFrom, behind-dropFrom)
					dropFrom = max(start, behind-dropLag)
					dropping = true
				}
			}
		}
		if err := out.Chmod(fs.FileMode(e.Mode)); err != nil {
			return err
		}
		if !sync {
			return nil
		}
		if err := out.Sync(); err != nil {
			return err
		}
		if dropping {
			// Now every page is clean: the stragglers and the last
			// dropLag bytes go too, and none of the file stays cached.
			dropCached(out, start, e.Size-start)
		}
		return nil
	}()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// setDirModes sets the mode of every directory entry under root, deepest
// first, so that read-only directories are set after their contents.
func setDirModes(m *Manifest, root string) error {
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := &m.Entries[i]
		if e.Type != Dir {
			continue
		}
		if err := os.Chmod(filepath.Join(root, filepath.FromSlash(e.Path)), fs.FileMode(e.Mode)); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes a temporary tree, making its directories writable
// first if a plain removal fails.
func removeTree(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// syncDir fsyncs a directory so that a rename in it is durable; errors
// are ignored (some file systems do not support it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// fetcher fetches the chunks of a manifest concurrently and hands them
// out in manifest order. At most `workers` chunks are being fetched or
// waiting to be written at any time: a slot is taken before a fetch
// starts and given back (release) after the chunk is written.
type fetcher struct {
	results chan *pending
	slots   chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	budget  *byteBudget
	held    int64 // size of the chunk last returned by next
	// recycle takes back the bytes of a chunk that has been written
	// (MaterializeOptions.Recycle); nil to leave them to the collector.
	recycle func([]byte)
}

// pending is one chunk fetch; data and err are set before done closes.
type pending struct {
	done chan struct{}
	size int64
	data []byte
	err  error
}

// byteBudget bounds the bytes in flight; nil means no bound.
type byteBudget struct {
	mu   sync.Mutex
	cond *sync.Cond
	max  int64
	used int64
	stop bool
}

func newByteBudget(max int64) *byteBudget {
	if max <= 0 {
		return nil
	}
	b := &byteBudget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes fit (or nothing else is held) and reports
// false if the budget was closed meanwhile.
func (b *byteBudget) acquire(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.stop && b.used > 0 && b.used+n > b.max {
		b.cond.Wait()
	}
	if b.stop {
		return false
	}
	b.used += n
	return true
}

func (b *byteBudget) release(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *byteBudget) close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.stop = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// startFetch starts fetching the chunks of m in order.
func startFetch(m *Manifest, workers int, maxBytes int64, verified bool, keep []int, get func(c cid.Cid) ([]byte, error)) *fetcher {
	f := &fetcher{
		results: make(chan *pending, workers),
		slots:   make(chan struct{}, workers),
		stop:    make(chan struct{}),
		budget:  newByteBudget(maxBytes),
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for i := range m.Entries {
			e := &m.Entries[i]
			for k, c := range e.Chunks {
				if k < keep[i] {
					continue
				}
				select {
				case f.slots <- struct{}{}:
				case <-f.stop:
					return
				}
				if !f.budget.acquire(c.Size) {
					return
				}
				p := &pending{done: make(chan struct{}), size: c.Size}
				f.wg.Add(1)
				go func() {
					defer f.wg.Done()
					defer close(p.done)
					p.data, p.err = fetchChunk(c, verified, get)
					if p.err != nil {
						p.data = nil
						p.err = fmt.Errorf("chunk %d of %q: %w", k, e.Path, p.err)
					}
				}()
				select {
				case f.results <- p:
				case <-f.stop:
					return
				}
			}
		}
	}()
	return f
}

// fetchChunk gets one chunk and checks it against its size and, unless get
// has verified it, its CID.
func fetchChunk(c Chunk, verified bool, get func(c cid.Cid) ([]byte, error)) ([]byte, error) {
	data, err := get(c.CID)
	if err != nil {
		return nil, err
	}
	if !verified {
		if err := VerifyBlock(c.CID, data); err != nil {
			return nil, err
		}
	}
	if int64(len(data)) != c.Size {
		return nil, fmt.Errorf("%w: block %s has %d bytes, the manifest says %d", ErrInvalidManifest, c.CID, len(data), c.Size)
	}
	return data, nil
}

// next waits for the next chunk in manifest order. The caller must call
// release once it no longer holds the data.
func (f *fetcher) next() ([]byte, error) {
	p := <-f.results
	<-p.done
	f.held = p.size
	return p.data, p.err
}

// release frees the slot of a chunk returned by next.
func (f *fetcher) release() {
	f.budget.release(f.held)
	f.held = 0
	<-f.slots
}

// close stops fetching and waits for every goroutine (and so every call
// to get) to finish.
func (f *fetcher) close() {
	close(f.stop)
	f.budget.close()
	f.wg.Wait()
}
