package node

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/chorus-data/chorus/replica/storetest"
)

// TestBadgerStoreSweepsUnindexedFiles: a block file that no index entry
// names (left by a crash between its rename and the index commit) is
// removed after the store opens; indexed files and files that are not
// blocks of their shard stay.
func TestBadgerStoreSweepsUnindexedFiles(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	kept := storetest.RandomBytes(r, 2*fileThreshold)
	keptCID := storetest.Block(t, kept)
	orphan := storetest.RandomBytes(r, 2*fileThreshold)
	orphanCID := storetest.Block(t, orphan)

	s := openTestStore(t, dir)
	putLegacyFile(t, s, keptCID, kept, checksumBytes(kept))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	orphanPath := s.files.path(orphanCID)
	if err := os.MkdirAll(filepath.Dir(orphanPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphanPath, orphan, 0o644); err != nil {
		t.Fatal(err)
	}
	// Not a CID, and a CID in the wrong shard: not the store's to judge.
	foreign := filepath.Join(filepath.Dir(orphanPath), "notes.txt")
	misplaced := filepath.Join(s.files.shardDir(shardOf(orphanCID)+1), orphanCID.String())
	for _, p := range []string{foreign, misplaced} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s = openTestStore(t, dir)
	defer s.Close()
	<-s.sweepDone
	if _, err := os.Stat(orphanPath); !os.IsNotExist(err) {
		t.Errorf("unindexed block file still there after the sweep (stat: %v)", err)
	}
	for _, p := range []string{foreign, misplaced} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if got, err := s.GetBlock(keptCID); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("indexed block after the sweep: %d bytes, %v", len(got), err)
	}
}

// TestBadgerStoreCloseStopsSweep: closing a store right after opening it
// waits for the sweep, which stops early.
func TestBadgerStoreCloseStopsSweep(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.sweepDone:
	default:
		t.Fatal("Close returned while the sweep was still running")
	}
}
