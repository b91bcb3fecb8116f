package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// memStore is an in-memory block store for tests.
type memStore struct {
	mu     sync.Mutex
	blocks map[cid.Cid][]byte
	puts   int
}

func newMemStore() *memStore { return &memStore{blocks: make(map[cid.Cid][]byte)} }

func (s *memStore) put(c cid.Cid, data []byte) error {
	if err := VerifyBlock(c, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks[c] = data
	s.puts++
	return nil
}

func (s *memStore) get(c cid.Cid) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blocks[c]
	if !ok {
		return nil, fmt.Errorf("block %s not found", c)
	}
	return append([]byte(nil), b...), nil
}

// writeFile creates a file with exact content and mode.
func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// makeTree builds the test tree: nested folders, an empty file, an empty
// directory, a 20 MiB random file, 300 small files, assorted modes.
func makeTree(t *testing.T, root string) {
	t.Helper()
	t.Cleanup(func() { makeWritable(root) })
	writeFile(t, filepath.Join(root, "a/b/c/deep.txt"), []byte("deep\n"), 0o644)
	writeFile(t, filepath.Join(root, "a/b/run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	writeFile(t, filepath.Join(root, "a.txt"), []byte("sibling of a, sorts after a/"), 0o600)
	writeFile(t, filepath.Join(root, "empty.bin"), nil, 0o644)
	writeFile(t, filepath.Join(root, "big/random.bin"), randBytes(20, 20<<20), 0o444)
	for i := 0; i < 300; i++ {
		writeFile(t, filepath.Join(root, fmt.Sprintf("many/f%03d", i)), fmt.Appendf(nil, "small file %d\n", i), 0o644)
	}
	writeFile(t, filepath.Join(root, "many/dup1"), []byte("same"), 0o644)
	writeFile(t, filepath.Join(root, "many/dup2"), []byte("same"), 0o644)
	for _, d := range []string{"emptydir", "a/b/c/emptyinner"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "a/b/c"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
}

// makeWritable gives every directory under root mode 0o755 so that the
// test's temporary directories can be removed when not running as root.
func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// treeListing describes every path under root: type, mode, content hash.
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %s", len(b), BlockCID(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertSameTree(t *testing.T, want, got string) {
	t.Helper()
	a, b := treeListing(t, want), treeListing(t, got)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("trees differ:\n--- %s\n%s\n--- %s\n%s", want, strings.Join(a, "\n"), got, strings.Join(b, "\n"))
	}
}

// assertNoTemp fails if dir holds a temporary file of Materialize.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".chorus-tmp-") {
			t.Errorf("temporary left behind: %s", p)
		}
		return nil
	})
}

func TestBuildMaterializeRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	s := newMemStore()
	m, st, err := Build(src, Params{}, s.put)
	if err != nil {
		t.Fatal(err)
	}
	if m.Single {
		t.Fatal("directory built as a single-file dataset")
	}
	wantFiles := 2 + 1 + 1 + 1 + 300 + 2 // deep+run.sh, a.txt, empty, big, many, dups
	if st.Files != wantFiles || st.Dirs != 7 || st.Chunks != s.puts || st.Bytes != m.TotalSize() || m.FileCount() != wantFiles {
		t.Fatalf("stats %+v (puts %d, total %d, files %d)", st, s.puts, m.TotalSize(), m.FileCount())
	}
	if st.Bytes < 20<<20 || st.Chunks < 300+15 {
		t.Fatalf("stats too small: %+v", st)
	}
	t.Logf("built %+v, %d distinct blocks", st, len(s.blocks))
	// Build is deterministic.
	m2, _, err := Build(src, Params{}, func(cid.Cid, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	b1, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := m2.Encode()
	if !bytes.Equal(b1, b2) {
		t.Fatal("two builds of the same tree differ")
	}
	// Materialize from the decoded manifest, as a fetch would.
	dm, err := DecodeManifest(b1)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	t.Cleanup(func() { makeWritable(out) })
	for _, w := range []int{1, 8} {
		dest := filepath.Join(out, fmt.Sprintf("w%d", w), "dest")
		if err := Materialize(dm, dest, MaterializeOptions{Workers: w}, s.get); err != nil {
			t.Fatalf("workers %d: %v", w, err)
		}
		assertSameTree(t, src, dest)
	}
	// An existing empty directory is accepted.
	empty := filepath.Join(out, "emptydest")
	os.Mkdir(empty, 0o755)
	if err := Materialize(dm, empty, MaterializeOptions{}, s.get); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, empty)
	assertNoTemp(t, out)
}

func TestMaterializeRefusesExisting(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("new"), 0o644)
	s := newMemStore()
	m, _, err := Build(src, testParams, s.put)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	nonEmpty := filepath.Join(out, "nonempty")
	writeFile(t, filepath.Join(nonEmpty, "f"), []byte("old"), 0o644)
	file := filepath.Join(out, "file")
	writeFile(t, file, []byte("old"), 0o644)
	for _, dest := range []string{nonEmpty, file} {
		err := Materialize(m, dest, MaterializeOptions{}, s.get)
		if !errors.Is(err, ErrDestExists) || !strings.Contains(err.Error(), dest) {
			t.Fatalf("Materialize over %s = %v, want ErrDestExists naming it", dest, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(nonEmpty, "f")); string(b) != "old" {
		t.Fatal("refused Materialize changed the destination")
	}
	// With Force, a file cannot be replaced by a directory tree.
	if err := Materialize(m, file, MaterializeOptions{Force: true}, s.get); !errors.Is(err, ErrDestExists) {
		t.Fatalf("forced tree over a file = %v, want ErrDestExists", err)
	}
	assertNoTemp(t, out)
}

func TestMaterializeForce(t *testing.T) {
	src := t.TempDir()
	makeSmall := func() {
		writeFile(t, filepath.Join(src, "a/x"), []byte("new x"), 0o640)
		writeFile(t, filepath.Join(src, "d/y"), []byte("new y"), 0o644)
		writeFile(t, filepath.Join(src, "top"), []byte("new top"), 0o600)
	}
	makeSmall()
	s := newMemStore()
	m, _, err := Build(src, testParams, s.put)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dest := filepath.Join(out, "dest")
	outside := filepath.Join(out, "outside")
	os.Mkdir(outside, 0o755)
	writeFile(t, filepath.Join(dest, "a/x"), []byte("old x, longer than the new one"), 0o600)
	writeFile(t, filepath.Join(dest, "extra"), []byte("kept"), 0o644)
	writeFile(t, filepath.Join(dest, "top"), []byte("old top"), 0o644)
	// "d" is a symlink to a directory outside dest: it must be replaced,
	// not written through.
	if err := os.Symlink(outside, filepath.Join(dest, "d")); err != nil {
		t.Fatal(err)
	}
	if err := Materialize(m, dest, MaterializeOptions{Force: true, Workers: 2}, s.get); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatal("Materialize wrote through a symlink")
	}
	os.Remove(filepath.Join(dest, "extra"))
	assertSameTree(t, src, dest)
	if b, _ := os.ReadFile(filepath.Join(dest, "a/x")); string(b) != "new x" {
		t.Fatalf("a/x = %q", b)
	}
	// A directory where the manifest has a file is not replaced.
	os.Remove(filepath.Join(dest, "top"))
	os.Mkdir(filepath.Join(dest, "top"), 0o755)
	if err := Materialize(m, dest, MaterializeOptions{Force: true}, s.get); !errors.Is(err, ErrDestExists) {
		t.Fatalf("file over a directory = %v, want ErrDestExists", err)
	}
	assertNoTemp(t, out)
}

// corruptingGet returns get with the n-th call (0-based) returning bad bytes.
func corruptingGet(get func(cid.Cid) ([]byte, error), n int64) func(cid.Cid) ([]byte, error) {
	var calls atomic.Int64
	return func(c cid.Cid) ([]byte, error) {
		b, err := get(c)
		if calls.Add(1)-1 == n && len(b) > 0 {
			b[len(b)/2] ^= 1
		}
		return b, err
	}
}

func TestMaterializeCorruptBlock(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "a/one"), randBytes(1, 300<<10), 0o644)
	writeFile(t, filepath.Join(src, "b/two"), randBytes(2, 300<<10), 0o644)
	s := newMemStore()
	m, st, err := Build(src, testParams, s.put)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int64{0, int64(st.Chunks) / 2, int64(st.Chunks) - 1} {
		out := t.TempDir()
		dest := filepath.Join(out, "dest")
		err := Materialize(m, dest, MaterializeOptions{Workers: 3}, corruptingGet(s.get, bad))
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("corrupt chunk %d: err = %v, want ErrHashMismatch", bad, err)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Fatalf("corrupt chunk %d: %d entries left in %s", bad, len(ents), out)
		}
	}
	// A failing get is reported and leaves nothing either.
	out := t.TempDir()
	boom := errors.New("boom")
	err = Materialize(m, filepath.Join(out, "dest"), MaterializeOptions{}, func(cid.Cid) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatal("failed Materialize left entries")
	}
	// With Force, a corrupt chunk leaves the old file in place.
	dest := filepath.Join(out, "forced")
	writeFile(t, filepath.Join(dest, "a/one"), []byte("old"), 0o644)
	err = Materialize(m, dest, MaterializeOptions{Force: true}, corruptingGet(s.get, 0))
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("forced: err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a/one")); string(b) != "old" {
		t.Fatal("forced: corrupt data replaced the old file")
	}
	assertNoTemp(t, out)
}

func TestMaterializeLyingManifest(t *testing.T) {
	data := []byte("six b.")
	m := &Manifest{Entries: []Entry{{Path: "f", Type: File, Mode: 0o644, Size: 5,
		Chunks: []Chunk{{CID: BlockCID(data), Size: 5}}}}}
	out := t.TempDir()
	err := Materialize(m, filepath.Join(out, "d"), MaterializeOptions{}, func(cid.Cid) ([]byte, error) { return data, nil })
	if !errors.Is(err, ErrInvalidManifest) {
		t.Fatalf("err = %v, want ErrInvalidManifest (size mismatch)", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatal("entries left behind")
	}
}

func TestSingleFileDataset(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data.bin")
	writeFile(t, src, randBytes(5, 3<<20+7), 0o640)
	s := newMemStore()
	m, st, err := Build(src, Params{}, s.put)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Single || len(m.Entries) != 1 || m.Entries[0].Path != "data.bin" || st.Files != 1 || st.Dirs != 0 {
		t.Fatalf("single-file manifest %+v stats %+v", m, st)
	}
	dest := filepath.Join(dir, "out", "copy.bin")
	if err := Materialize(m, dest, MaterializeOptions{}, s.get); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(src)
	got, _ := os.ReadFile(dest)
	fi, _ := os.Stat(dest)
	if !bytes.Equal(got, want) || fi.Mode() != 0o640 {
		t.Fatalf("copy differs (mode %v)", fi.Mode())
	}
	if err := Materialize(m, dest, MaterializeOptions{}, s.get); !errors.Is(err, ErrDestExists) {
		t.Fatalf("second Materialize = %v, want ErrDestExists", err)
	}
	os.WriteFile(dest, []byte("stale"), 0o644)
	if err := Materialize(m, dest, MaterializeOptions{Force: true}, s.get); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
		t.Fatal("forced copy differs")
	}
	// An empty directory is not a valid destination for one file.
	emptyDir := filepath.Join(dir, "emptydir")
	os.Mkdir(emptyDir, 0o755)
	if err := Materialize(m, emptyDir, MaterializeOptions{}, s.get); !errors.Is(err, ErrDestExists) {
		t.Fatalf("single file onto empty dir = %v, want ErrDestExists", err)
	}
	if err := Materialize(m, emptyDir, MaterializeOptions{Force: true}, s.get); !errors.Is(err, ErrDestExists) {
		t.Fatalf("forced single file onto dir = %v, want ErrDestExists", err)
	}
	// Corruption leaves nothing behind.
	bad := filepath.Join(dir, "bad.bin")
	if err := Materialize(m, bad, MaterializeOptions{}, corruptingGet(s.get, 1)); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("corrupt single file = %v", err)
	}
	if _, err := os.Lstat(bad); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("corrupt single file left at dest")
	}
	assertNoTemp(t, dir)
	// An empty single file has no chunks.
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, nil, 0o600)
	m, st, err = Build(empty, Params{}, s.put)
	if err != nil || len(m.Entries[0].Chunks) != 0 || st.Chunks != 0 {
		t.Fatalf("empty file: %v %+v", err, st)
	}
}

func TestBuildRejectsSpecialFiles(t *testing.T) {
	for name, mk := range map[string]func(p string) error{
		"symlink":    func(p string) error { return os.Symlink("/etc/passwd", p) },
		"named pipe": func(p string) error { return syscall.Mkfifo(p, 0o644) },
	} {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "ok"), []byte("ok"), 0o644)
		bad := filepath.Join(src, "sub", "special")
		os.Mkdir(filepath.Dir(bad), 0o755)
		if err := mk(bad); err != nil {
			t.Fatal(err)
		}
		_, _, err := Build(src, testParams, func(cid.Cid, []byte) error { return nil })
		if !errors.Is(err, ErrUnsupportedFile) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Build = %v, want ErrUnsupportedFile naming %s", name, err, bad)
		}
	}
}

func TestBuildPutError(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("data"), 0o644)
	boom := errors.New("disk full")
	if _, _, err := Build(src, testParams, func(cid.Cid, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Build = %v, want disk full", err)
	}
}

// TestBuildPutErrorMidFileStopsChunking: when put fails part way through
// a large file, Build returns the error after the chunks cut and hashed
// ahead have been dropped, leaving no goroutine behind, and put was called
// in order and never again after it failed.
func TestBuildPutErrorMidFileStopsChunking(t *testing.T) {
	src := t.TempDir()
	data := randBytes(4, 4<<20)
	writeFile(t, filepath.Join(src, "big"), data, 0o644)
	before := runtime.NumGoroutine()
	boom := errors.New("disk full")
	var got int64
	calls := 0
	_, _, err := Build(src, testParams, func(c cid.Cid, chunk []byte) error {
		calls++
		if err := VerifyBlock(c, chunk); err != nil {
			t.Errorf("put %d: %v", calls, err)
		}
		if !bytes.Equal(chunk, data[got:got+int64(len(chunk))]) {
			t.Errorf("put %d is not the next chunk of the file", calls)
		}
		got += int64(len(chunk))
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Build = %v, want disk full", err)
	}
	if calls != 3 {
		t.Errorf("put called %d times, want 3 (never after it failed)", calls)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after Build, %d before", after, before)
	}
}

func TestBuildManifestTooLarge(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "many-chunks"), randBytes(3, 32<<20), 0o644)
	var puts int
	_, _, err := Build(src, Params{Min: 64, Avg: 128, Max: 256}, func(cid.Cid, []byte) error { puts++; return nil })
	if !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("Build = %v, want ErrManifestTooLarge", err)
	}
	if puts*maxChunkRecord > MaxBlockSize+maxChunkRecord {
		t.Fatalf("Build went on for %d chunks before failing", puts)
	}
}

func TestMaterializeBoundsConcurrency(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), randBytes(8, 1<<20), 0o644)
	s := newMemStore()
	m, st, err := Build(src, testParams, s.put)
	if err != nil {
		t.Fatal(err)
	}
	var inflight, peak atomic.Int64
	get := func(c cid.Cid) ([]byte, error) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
		defer inflight.Add(-1)
		return s.get(c)
	}
	const workers = 3
	if err := Materialize(m, filepath.Join(t.TempDir(), "d"), MaterializeOptions{Workers: workers}, get); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d chunks, peak concurrent gets %d", st.Chunks, peak.Load())
	if p := peak.Load(); p > workers || p < 2 {
		t.Fatalf("peak concurrent gets %d, want 2..%d", p, workers)
	}
}
