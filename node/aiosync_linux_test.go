package node

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestFdatasyncThroughAIO(t *testing.T) {
	if sharedAIO() == nil {
		t.Log("Linux AIO is unavailable here: every sync below is direct")
	}
	dir := t.TempDir()
	// More syncs at once than the AIO context has slots, so that some
	// also take the direct path, on a few files.
	files := make([]*os.File, 4)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*aioEvents)
	for i := range 3 * aioEvents {
		wg.Go(func() {
			f := files[i%len(files)]
			if _, err := f.WriteAt([]byte("durable"), int64(i)*8); err != nil {
				errs <- err
				return
			}
			errs <- fdatasync(f)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFdatasyncOfClosedFileFails(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "closed"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fdatasync(f); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("fdatasync of a closed file: %v, want EBADF", err)
	}
}
