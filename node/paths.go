package node

import "path/filepath"

// storeDir is where the Badger store lives inside a data directory.
func storeDir(dataDir string) string { return filepath.Join(dataDir, "blocks") }
