package dataset

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing n bytes of f from off
// to disk without waiting for them (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE). It is only a hint: durability still comes from
// the fsync or syncfs that follows, which then has little left to do.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// dropCached drops the clean pages of the n bytes of f from off from the
// page cache (posix_fadvise(2) with POSIX_FADV_DONTNEED). Pages still
// dirty or being written back are left; the kernel starts their
// writeback. Nothing waits, so a write error is still reported by the
// final fsync. Only a hint.
func dropCached(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
