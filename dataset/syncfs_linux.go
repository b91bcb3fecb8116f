package dataset

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the whole file system holding path with one syncfs(2):
// for a tree of thousands of small files that is one journal commit
// instead of one per file.
func syncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
