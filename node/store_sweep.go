package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// startSweep removes, in the background, the block files that no index
// entry names: a crash between a put's rename and its index commit leaves
// a complete file behind, which would otherwise stay until the same block
// is put again. Close stops the sweep and waits for it.
func (s *BadgerStore) startSweep() {
	s.sweepStop = make(chan struct{})
	s.sweepDone = make(chan struct{})
	go func() {
		defer close(s.sweepDone)
		n, err := s.sweepOrphans(s.sweepStop)
		switch {
		case err != nil:
			slog.Default().Warn("sweeping unindexed block files", "removed", n, "err", err)
		case n > 0:
			slog.Default().Info("removed unindexed block files left by a crash", "count", n)
		}
	}()
}

// sweepOrphans removes the unindexed block files of every shard, one
// shard at a time, until stop is closed. It returns how many it removed.
func (s *BadgerStore) sweepOrphans(stop <-chan struct{}) (int, error) {
	// A store made since segments has no block files and nothing to sweep.
	if _, err := os.Stat(s.files.root); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	removed := 0
	for shard := range 256 {
		if stopped(stop) {
			return removed, nil
		}
		n, err := s.sweepShard(byte(shard))
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// sweepShard removes the files of one shard that no index entry names as
// a block file. It holds the shard's lock, which every put and delete in
// the shard holds from its file operation to its index commit, so it never
// takes a file whose index entry is about to be committed. Files whose
// names are not CIDs of the shard are left alone.
func (s *BadgerStore) sweepShard(shard byte) (int, error) {
	s.files.locks[shard].Lock()
	defer s.files.locks[shard].Unlock()
	dir := s.files.shardDir(shard)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("block files: %w", err)
	}
	removed := 0
	for _, e := range entries {
		c, err := cid.Decode(e.Name())
		if err != nil || !e.Type().IsRegular() || shardOf(c) != shard {
			continue
		}
		dk, _, err := blockKeys(c)
		if err != nil {
			continue
		}
		ie, err := s.getIndexed(dk)
		if err == nil && ie.file {
			continue
		}
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return removed, fmt.Errorf("block files: index of %s: %w", c, err)
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("block files: %w", err)
		}
		removed++
	}
	return removed, nil
}
