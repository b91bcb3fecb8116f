package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
	"google.golang.org/protobuf/encoding/protowire"
)

// ErrUnsupportedFile is wrapped when Build meets something that is
// neither a regular file nor a directory (symlink, device, socket, pipe).
var ErrUnsupportedFile = errors.New("unsupported file type")

// BuildStats counts what Build stored.
type BuildStats struct {
	Files  int   // regular files
	Dirs   int   // directories below the root
	Bytes  int64 // total file bytes
	Chunks int   // chunks passed to put (a repeated chunk counts each time)
}

// maxChunkRecord bounds the encoded size of one Chunk inside an Entry;
// Build uses it to stop early when a tree cannot fit in one manifest.
const maxChunkRecord = 48

// Build turns the file or directory tree at root into chunks and a
// manifest. A regular file gives a single-file manifest whose only entry
// is named after the file; a symlink at root itself is followed. A
// directory is walked in sorted order: directories (including empty ones)
// become Dir entries, regular files are chunked with params p (zero means
// DefaultParams()), and anything else is an error wrapping
// ErrUnsupportedFile that names the path. put is called once per chunk,
// in order, with the chunk's CID and a freshly allocated slice that put
// may keep. Memory stays bounded by about (3+hashAheadChunks)*p.Max plus
// the manifest: chunks are cut and hashed a few ahead of put. The
// returned manifest is valid and fits in one block; when the tree needs
// more than one manifest block, Build fails early with an error wrapping
// ErrManifestTooLarge.
func Build(root string, p Params, put func(c cid.Cid, data []byte) error) (*Manifest, BuildStats, error) {
	ch, err := NewChunker(nil, p)
	if err != nil {
		return nil, BuildStats{}, err
	}
	b := &builder{put: put, ch: ch, m: &Manifest{}, size: protowire.SizeTag(1) + 1}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, BuildStats{}, err
	}
	switch {
	case fi.Mode().IsRegular():
		name := filepath.Base(root)
		if err := checkPath(name); err != nil || strings.Contains(name, "/") {
			return nil, BuildStats{}, fmt.Errorf("%s: file name %q cannot name a dataset entry", root, name)
		}
		b.m.Single = true
		b.size += protowire.SizeTag(2) + 1
		err = b.addFile(root, name, fi)
	case fi.IsDir():
		err = b.walk(root, "")
	default:
		err = fmt.Errorf("%s: %w (%s)", root, ErrUnsupportedFile, kind(fi.Mode()))
	}
	if err != nil {
		return nil, BuildStats{}, err
	}
	if _, err := b.m.Encode(); err != nil {
		return nil, BuildStats{}, err
	}
	return b.m, b.stats, nil
}

// builder holds the state of one Build.
type builder struct {
	put     func(c cid.Cid, data []byte) error
	ch      *Chunker
	m       *Manifest
	stats   BuildStats
	size    int // encoded manifest size so far
	scratch []byte
}

// walk adds the contents of directory dir, whose path in the dataset is
// rel ("" for the root).
func (b *builder) walk(dir, rel string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		full := filepath.Join(dir, de.Name())
		path := de.Name()
		if rel != "" {
			path = rel + "/" + path
		}
		if err := checkPath(path); err != nil {
			return fmt.Errorf("%s: cannot be stored: %w", full, err)
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode().IsRegular():
			err = b.addFile(full, path, fi)
		case fi.IsDir():
			if err = b.add(Entry{Path: path, Type: Dir, Mode: uint32(fi.Mode().Perm())}, full); err == nil {
				b.stats.Dirs++
				err = b.walk(full, path)
			}
		default:
			err = fmt.Errorf("%s: %w (%s)", full, ErrUnsupportedFile, kind(fi.Mode()))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addFile chunks the regular file at full and adds its entry.
func (b *builder) addFile(full, path string, fi fs.FileInfo) error {
	f, err := os.Open(full)
	if err != nil {
		return err
	}
	defer f.Close()
	e := Entry{Path: path, Type: File, Mode: uint32(fi.Mode().Perm())}
	data, whole, err := readWhole(f, fi.Size(), b.ch.p.Min)
	if err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if whole {
		// One chunk at most, cut and hashed here: for a small file the
		// goroutines of hashAhead cost more than they overlap, and
		// their hand-offs, waiting in the run queue behind the uploads,
		// were most of the time of publishing many small files.
		if len(data) > 0 {
			if err := b.addChunk(&e, full, BlockCID(data), data); err != nil {
				return err
			}
		}
	} else if err := b.chunkFile(&e, full, f); err != nil {
		return err
	}
	if err := b.add(e, full); err != nil {
		return err
	}
	b.stats.Files++
	return nil
}

// readWhole reads all of f when its size, as stat gave it, is at most
// limit bytes (the chunker's Min: it never cuts such a stream, so it is
// one chunk, none when empty). whole is false, and f is back at its
// start, when the file is larger or has grown past its size since.
func readWhole(f io.ReadSeeker, size int64, limit int) (data []byte, whole bool, err error) {
	if size < 0 || size > int64(limit) {
		return nil, false, nil
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n:n], true, nil
	case err != nil:
		return nil, false, err
	}
	// It grew: chunk it from the start.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false, err
	}
	return nil, false, nil
}

// chunkFile cuts f into chunks, hashing a few ahead, and adds them to e.
func (b *builder) chunkFile(e *Entry, full string, f io.Reader) error {
	b.ch.Reset(f)
	defer b.ch.Reset(nil)
	chunks, stop := hashAhead(b.ch)
	defer stop() // before the Reset: the goroutines end first
	for h := range chunks {
		if h.err == io.EOF {
			break
		}
		if h.err != nil {
			return fmt.Errorf("%s: %w", full, h.err)
		}
		if err := b.addChunk(e, full, h.c, h.data); err != nil {
			return err
		}
	}
	return nil
}

// addChunk stores chunk c of file full with put and appends it to e.
func (b *builder) addChunk(e *Entry, full string, c cid.Cid, data []byte) error {
	if err := b.put(c, data); err != nil {
		return fmt.Errorf("%s: storing chunk %d: %w", full, len(e.Chunks), err)
	}
	e.Chunks = append(e.Chunks, Chunk{CID: c, Size: int64(len(data))})
	e.Size += int64(len(data))
	b.stats.Chunks++
	b.stats.Bytes += int64(len(data))
	if b.size+len(e.Chunks)*maxChunkRecord > MaxBlockSize {
		return b.tooLarge(full)
	}
	return nil
}

// add appends e to the manifest, keeping track of its encoded size.
func (b *builder) add(e Entry, full string) error {
	if len(b.m.Entries) >= MaxEntries {
		return fmt.Errorf("%s: %w: more than %d entries", full, ErrManifestTooLarge, MaxEntries)
	}
	b.scratch = appendEntry(b.scratch[:0], &e)
	b.size += protowire.SizeTag(3) + protowire.SizeBytes(len(b.scratch))
	if b.size > MaxBlockSize {
		return b.tooLarge(full)
	}
	b.m.Entries = append(b.m.Entries, e)
	return nil
}

// tooLarge reports that the manifest outgrew one block at path full.
func (b *builder) tooLarge(full string) error {
	return fmt.Errorf("%w: the manifest passed %d bytes at %s (%d entries, %d chunks so far); publish the tree as several datasets",
		ErrManifestTooLarge, MaxBlockSize, full, len(b.m.Entries), b.stats.Chunks)
}

// kind names a non-regular file mode for error messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeIrregular != 0:
		return "irregular file"
	}
	return m.Type().String()
}

// hashAheadChunks is how many chunks may be cut and hashed ahead of the one
// being stored.
const hashAheadChunks = 4

// hashedChunk is a chunk and its CID, or the error (io.EOF at the end)
// that ended the chunking.
type hashedChunk struct {
	data []byte
	c    cid.Cid
	err  error
}

// hashAhead cuts ch's chunks in a goroutine of its own and hashes each in
// another, delivering them in order on the returned channel, at most
// hashAheadChunks ahead of the reader. Cutting, hashing and storing then
// overlap: on one goroutine they were the publish's slowest step, which
// a busy machine's scheduler shared out with everything else. stop ends
// the goroutines early and waits for them; call it before reusing ch.
func hashAhead(ch *Chunker) (<-chan hashedChunk, func()) {
	type future struct {
		h    hashedChunk
		done chan struct{}
	}
	futures := make(chan *future, hashAheadChunks)
	out := make(chan hashedChunk)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // cut, start hashing, keep order
		defer wg.Done()
		defer close(futures)
		for {
			data, err := ch.Next()
			f := &future{h: hashedChunk{data: data, err: err}, done: make(chan struct{})}
			if err == nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.h.c = BlockCID(f.h.data)
					close(f.done)
				}()
			} else {
				close(f.done)
			}
			select {
			case futures <- f:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // deliver in order
		defer wg.Done()
		defer close(out)
		for f := range futures {
			<-f.done
			select {
			case out <- f.h:
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() { close(quit) })
		wg.Wait()
	}
}
