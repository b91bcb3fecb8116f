package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPreallocateKeepsSize: the reserved space is allocated but the file
// still ends where its data does, so a partial file reads as partial.
func TestPreallocateKeepsSize(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	if err := preallocate(f, 4, 4<<20); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 4 {
		t.Errorf("size after preallocate = %d, want 4", fi.Size())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no block counts on this platform")
	}
	if got := st.Blocks * 512; got < 4<<20 {
		// File systems without fallocate are accepted silently by
		// preallocate; only they may leave the space unreserved.
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 1); errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("the file system of %s has no fallocate", f.Name())
		}
		t.Errorf("%d bytes allocated after reserving 4 MiB", got)
	}
}
