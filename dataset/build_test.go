package dataset

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
)

// TestBuildFileSizesMatchChunker: whether a file is read whole (at most
// Min bytes) or cut by the chunker, Build gives it the chunks the chunker
// gives its bytes, in order, and puts each.
func TestBuildFileSizesMatchChunker(t *testing.T) {
	p := testParams
	dir := t.TempDir()
	sizes := []int{0, 1, p.Min - 1, p.Min, p.Min + 1, 3 * p.Max}
	want := map[string][][]byte{}
	for i, n := range sizes {
		name := fmt.Sprintf("f%d", i)
		data := randBytes(uint64(20+i), n)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = chunkAll(t, bytes.NewReader(data), p)
	}
	put := map[cid.Cid][]byte{}
	m, st, err := Build(dir, p, func(c cid.Cid, data []byte) error {
		put[c] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != len(sizes) {
		t.Fatalf("%d files built, want %d", st.Files, len(sizes))
	}
	for _, e := range m.Entries {
		w := want[e.Path]
		if len(e.Chunks) != len(w) {
			t.Errorf("%s: %d chunks, the chunker cuts %d", e.Path, len(e.Chunks), len(w))
			continue
		}
		for j, c := range e.Chunks {
			if c.CID != BlockCID(w[j]) || c.Size != int64(len(w[j])) || !bytes.Equal(put[c.CID], w[j]) {
				t.Errorf("%s: chunk %d differs from the chunker's", e.Path, j)
			}
		}
	}
}

func TestReadWhole(t *testing.T) {
	const min = 100
	data := randBytes(7, 64)
	tests := []struct {
		name      string
		content   []byte
		size      int64 // as stat gave it
		whole     bool
		wantBytes int
	}{
		{name: "empty", content: nil, size: 0, whole: true, wantBytes: 0},
		{name: "exact", content: data, size: 64, whole: true, wantBytes: 64},
		{name: "shrunk since stat", content: data[:10], size: 64, whole: true, wantBytes: 10},
		{name: "grew since stat", content: data, size: 10, whole: false},
		{name: "larger than min", content: data, size: min + 1, whole: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.content)
			got, whole, err := readWhole(r, tt.size, min)
			if err != nil || whole != tt.whole {
				t.Fatalf("readWhole = whole %v, %v; want whole %v", whole, err, tt.whole)
			}
			if whole {
				if !bytes.Equal(got, tt.content[:tt.wantBytes]) || cap(got) != len(got) {
					t.Fatalf("read %d bytes (cap %d), want the %d of the file", len(got), cap(got), tt.wantBytes)
				}
				return
			}
			// Not whole: the chunker reads the file from its start.
			rest, _ := io.ReadAll(r)
			if !bytes.Equal(rest, tt.content) {
				t.Fatalf("left the file at %d of %d bytes, want its start", len(tt.content)-len(rest), len(tt.content))
			}
		})
	}
}

// TestReadWholeError: a read error is returned, not taken for the end.
func TestReadWholeError(t *testing.T) {
	r := &errSeeker{err: io.ErrClosedPipe}
	if _, _, err := readWhole(r, 10, 100); err != io.ErrClosedPipe {
		t.Fatalf("readWhole = %v, want the read error", err)
	}
}

type errSeeker struct{ err error }

func (e *errSeeker) Read([]byte) (int, error)       { return 0, e.err }
func (e *errSeeker) Seek(int64, int) (int64, error) { return 0, nil }
