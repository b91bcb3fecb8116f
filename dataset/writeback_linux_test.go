package dataset

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident returns how many of the pages of f's first n bytes are in the
// page cache (mincore(2) on a mapping of them).
func resident(t *testing.T, path string, n int) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (n+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(n), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	count := 0
	for i, v := range vec {
		count += int(v & 1)
		if v&1 != 0 && (i == 0 || vec[i-1]&1 == 0) {
			t.Logf("resident from page %d", i)
		}
	}
	return count
}

// TestFetchDropsBehind: a large file's fetch leaves none of its pages in
// the page cache (dropped behind the writes, the rest after the sync),
// and the file is whole.
func TestFetchDropsBehind(t *testing.T) {
	tmp := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(tmp, &fs); err != nil {
		t.Fatal(err)
	}
	// On tmpfs the page cache is the storage: nothing can be dropped.
	inMemory := fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC
	src := filepath.Join(tmp, "src")
	data := randBytes(33, 3*dropLag)
	writeFile(t, src, data, 0o644)
	s := newMemStore()
	m, _, err := Build(src, Params{}, s.put)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(tmp, "dest")
	if err := Materialize(m, dest, MaterializeOptions{Workers: 2}, s.get); err != nil {
		t.Fatal(err)
	}
	// Count before reading the file back, which caches it again.
	n := resident(t, dest, len(data))
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("fetched file differs")
	}
	if inMemory {
		t.Logf("%s is in memory; %d of its first pages cached", tmp, n)
		return
	}
	if n != 0 {
		t.Errorf("%d pages of the %d-byte file still cached after the fetch", n, len(data))
	}
}
