package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"
)

// failingAfter serves n chunks, then fails every call.
func failingAfter(get func(cid.Cid) ([]byte, error), n int64) (func(cid.Cid) ([]byte, error), *atomic.Int64) {
	var calls atomic.Int64
	return func(c cid.Cid) ([]byte, error) {
		if calls.Add(1) > n {
			return nil, errors.New("link went down")
		}
		return get(c)
	}, &calls
}

func TestMaterializeResumes(t *testing.T) {
	for _, single := range []bool{false, true} {
		name := map[bool]string{false: "tree", true: "single file"}[single]
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			if single {
				writeFile(t, src, randBytes(9, 12<<20), 0o644)
			} else {
				makeTree(t, src)
			}
			s := newMemStore()
			m, st, err := Build(src, Params{}, s.put)
			if err != nil {
				t.Fatal(err)
			}
			mc, _, err := m.Block()
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "out")
			opts := MaterializeOptions{Workers: 1, ResumeKey: mc.String()}

			// The first run dies part way.
			half := int64(st.Chunks / 2)
			get, _ := failingAfter(s.get, half)
			if err := Materialize(m, dest, opts, get); err == nil {
				t.Fatal("interrupted run succeeded")
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Fatalf("interrupted run left DEST: %v", err)
			}
			partial := partialPath(dest, opts.ResumeKey)
			if _, err := os.Stat(partial); err != nil {
				t.Fatalf("interrupted run kept no partial work: %v", err)
			}

			// The second run fetches only what is missing.
			var calls atomic.Int64
			count := func(c cid.Cid) ([]byte, error) { calls.Add(1); return s.get(c) }
			if err := Materialize(m, dest, opts, count); err != nil {
				t.Fatal(err)
			}
			if got := calls.Load(); got > int64(st.Chunks)-half+1 {
				t.Fatalf("resumed run fetched %d chunks; %d were already there of %d", got, half, st.Chunks)
			}
			t.Logf("resumed: fetched %d of %d chunks", calls.Load(), st.Chunks)
			if single {
				a, _ := os.ReadFile(src)
				b, _ := os.ReadFile(dest)
				if string(a) != string(b) {
					t.Fatal("resumed single file differs")
				}
			} else {
				assertSameTree(t, src, dest)
			}
			if _, err := os.Stat(partial); !os.IsNotExist(err) {
				t.Fatalf("partial work left after success: %v", err)
			}
		})
	}
}

func TestResumeDoesNotTrustPartialWork(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, randBytes(3, 6<<20), 0o644)
	s := newMemStore()
	m, _, err := Build(src, Params{Min: 64 << 10, Avg: 256 << 10, Max: 1 << 20}, s.put)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	opts := MaterializeOptions{Workers: 1, ResumeKey: "k"}
	get, _ := failingAfter(s.get, 10)
	if err := Materialize(m, dest, opts, get); err == nil {
		t.Fatal("interrupted run succeeded")
	}
	// Damage the partial file in its third chunk.
	partial := partialPath(dest, "k")
	f, err := os.OpenFile(partial, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := m.Entries[0].Chunks[0].Size + m.Entries[0].Chunks[1].Size + 5
	if _, err := f.WriteAt([]byte("garbage"), off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if keep := resumable(m, partial); keep[0] != 2 {
		t.Fatalf("kept %d chunks of a file damaged in its third, want 2", keep[0])
	}
	if err := Materialize(m, dest, opts, s.get); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dest)
	if string(a) != string(b) {
		t.Fatal("resumed file differs after damage")
	}
}
