//go:build !linux

package dataset

import "errors"

// syncFS is not available here; syncTree falls back to syncing each file.
func syncFS(string) error { return errors.New("syncfs not supported") }
