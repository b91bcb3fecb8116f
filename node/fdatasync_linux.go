package node

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data and the metadata needed to read it back (its
// size), skipping timestamps: one device flush for a segment's appends.
// It goes through Linux AIO where it can, so that the waiting goroutine
// does not hold a P (see aiosync_linux.go).
func fdatasync(f *os.File) error {
	if a := sharedAIO(); a != nil {
		return a.fdatasync(f)
	}
	return fdatasyncDirect(f)
}

// fdatasyncDirect is fdatasync(2) itself.
func fdatasyncDirect(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
