//go:build !linux

package node

import "os"

// fdatasync flushes f with fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }
