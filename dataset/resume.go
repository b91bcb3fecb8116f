package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// partialPath is where a resumable Materialize assembles dest: a hidden
// sibling named after dest and the resume key.
func partialPath(dest, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".chorus-partial-"+hex.EncodeToString(sum[:8]))
}

// resumable returns, for each entry of m, how many of its leading chunks
// are already in place and intact under partial (the file itself for a
// single-file dataset). A chunk counts only if its bytes hash to its CID,
// so whatever an interrupted run or a crash left behind is checked, never
// trusted.
func resumable(m *Manifest, partial string) []int {
	keep := make([]int, len(m.Entries))
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type != File || len(e.Chunks) == 0 {
			continue
		}
		path := partial
		if !m.Single {
			path = filepath.Join(partial, filepath.FromSlash(e.Path))
		}
		keep[i] = intactChunks(path, e)
	}
	return keep
}

// intactChunks counts the leading chunks of e that the file at path holds.
func intactChunks(path string, e *Entry) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var buf []byte
	for k, c := range e.Chunks {
		if int64(cap(buf)) < c.Size {
			buf = make([]byte, c.Size)
		}
		b := buf[:c.Size]
		if _, err := io.ReadFull(f, b); err != nil {
			return k
		}
		if VerifyBlock(c.CID, b) != nil {
			return k
		}
	}
	return len(e.Chunks)
}

// syncTree makes every file under root durable, once for the whole tree
// where the system allows (see syncFS), else file by file.
func syncTree(root string) error {
	if syncFS(root) == nil {
		return nil
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
