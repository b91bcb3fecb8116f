package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(fds)
}

// treeManifest returns a manifest of dirs directories of files empty
// files each, and a root holding its directories, as writeTreeFresh makes
// them before it opens the files.
func treeManifest(t *testing.T, dirs, files int) (*Manifest, string) {
	t.Helper()
	m := &Manifest{}
	for d := range dirs {
		m.Entries = append(m.Entries, Entry{Path: fmt.Sprintf("d%03d", d), Type: Dir, Mode: 0o755})
		for f := range files {
			m.Entries = append(m.Entries, Entry{Path: fmt.Sprintf("d%03d/f%03d", d, f), Type: File, Mode: 0o644})
		}
	}
	root := t.TempDir()
	for _, e := range m.Entries {
		if e.Type == Dir {
			if err := os.Mkdir(filepath.Join(root, e.Path), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m, root
}

// TestOpenAheadInOrder: take hands out each file entry's own file, in
// manifest order, and close leaves no descriptor open.
func TestOpenAheadInOrder(t *testing.T) {
	m, root := treeManifest(t, 5, 40)
	before := openFDs(t)
	o := startOpenAhead(m, root, make([]int, len(m.Entries)))
	for i, e := range m.Entries {
		if e.Type == Dir {
			continue
		}
		f, err := o.take(i)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(root, e.Path); f.Name() != want {
			t.Fatalf("entry %d: got %s, want %s", i, f.Name(), want)
		}
		f.Close()
	}
	o.close()
	if after := openFDs(t); after != before {
		t.Fatalf("%d descriptors open after, %d before", after, before)
	}
}

// TestOpenAheadStopsOnError: when the writer stops at a file that cannot
// be opened, close closes every file opened ahead of it.
func TestOpenAheadStopsOnError(t *testing.T) {
	m, root := treeManifest(t, 3, 100)
	// A directory where entry 5's file should be: opening it fails.
	if err := os.Mkdir(filepath.Join(root, m.Entries[5].Path), 0o755); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	o := startOpenAhead(m, root, make([]int, len(m.Entries)))
	var err error
	for i := 1; i <= 5; i++ {
		var f *os.File
		if f, err = o.take(i); err != nil {
			break
		}
		f.Close()
	}
	if err == nil {
		t.Fatal("opening a file over a directory succeeded")
	}
	o.close()
	if after := openFDs(t); after != before {
		t.Fatalf("%d descriptors open after, %d before", after, before)
	}
}
