package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"google.golang.org/protobuf/encoding/protowire"
)

// fileEntry returns a File entry whose chunks hold the given sizes.
func fileEntry(path string, sizes ...int64) Entry {
	e := Entry{Path: path, Type: File, Mode: 0o644}
	for i, s := range sizes {
		e.Chunks = append(e.Chunks, Chunk{CID: BlockCID(fmt.Appendf(nil, "%s/%d", path, i)), Size: s})
		e.Size += s
	}
	return e
}

func dirEntry(path string) Entry { return Entry{Path: path, Type: Dir, Mode: 0o755} }

func sampleManifest() *Manifest {
	return &Manifest{Entries: []Entry{
		dirEntry("a"),
		fileEntry("a/x", 10, 20),
		dirEntry("a/y"),
		fileEntry("a/y/z"),
		fileEntry("a.txt", 5),
		dirEntry("b"),
		{Path: "b/ro", Type: File, Mode: 0o400},
	}}
}

func TestComparePaths(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "b", -1},
		{"a", "a/b", -1},
		{"a/b", "a.txt", -1},
		{"a/b", "ab", -1},
		{"a/z", "a0", -1},
		{"b", "a/b", 1},
		{"a/b/c", "a/b", 1},
	}
	for _, tt := range tests {
		if got := comparePaths(tt.a, tt.b); got != tt.want {
			t.Errorf("comparePaths(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	for name, m := range map[string]*Manifest{
		"tree":   sampleManifest(),
		"empty":  {},
		"single": {Single: true, Entries: []Entry{fileEntry("data.bin", 7, 8, 9)}},
	} {
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("%s: Encode: %v", name, err)
		}
		got, err := DecodeManifest(b)
		if err != nil {
			t.Fatalf("%s: DecodeManifest: %v", name, err)
		}
		if len(m.Entries) == 0 {
			m.Entries = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", name, got, m)
		}
		b2, _ := got.Encode()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%s: re-encoding differs", name)
		}
		c, blk, err := m.Block()
		if err != nil || !bytes.Equal(blk, b) || c != BlockCID(b) {
			t.Fatalf("%s: Block() inconsistent with Encode()", name)
		}
	}
}

func TestManifestAccessors(t *testing.T) {
	m := sampleManifest()
	m.Entries[3] = fileEntry("a/y/z", 10, 20)
	m.Entries[3].Chunks[0].CID = m.Entries[1].Chunks[0].CID // a repeated chunk
	if got := m.TotalSize(); got != 65 {
		t.Errorf("TotalSize = %d, want 65", got)
	}
	if got := m.FileCount(); got != 4 {
		t.Errorf("FileCount = %d, want 4", got)
	}
	if got := len(m.Blocks()); got != 4 {
		t.Errorf("Blocks: %d distinct, want 4", got)
	}
}

func TestManifestValidate(t *testing.T) {
	badCID := cid.NewCidV1(cid.DagProtobuf, BlockCID(nil).Hash())
	tests := []struct {
		name string
		edit func(m *Manifest)
		want string
	}{
		{"empty path", func(m *Manifest) { m.Entries[0].Path = "" }, "empty path"},
		{"absolute", func(m *Manifest) { m.Entries[0].Path = "/a" }, "absolute"},
		{"dotdot", func(m *Manifest) { m.Entries[0].Path = ".." }, `".." segment`},
		{"dot", func(m *Manifest) { m.Entries[1].Path = "a/./x" }, `"." segment`},
		{"trailing slash", func(m *Manifest) { m.Entries[1].Path = "a/x/" }, "empty segment"},
		{"double slash", func(m *Manifest) { m.Entries[1].Path = "a//x" }, "empty segment"},
		{"nul", func(m *Manifest) { m.Entries[4].Path = "a.t\x00t" }, "NUL"},
		{"bad utf8", func(m *Manifest) { m.Entries[4].Path = "a.\xff" }, "UTF-8"},
		{"long segment", func(m *Manifest) { m.Entries[4].Path = "a." + strings.Repeat("x", 300) }, "segment longer"},
		{"duplicate", func(m *Manifest) { m.Entries[2] = m.Entries[1] }, "duplicate"},
		{"unsorted", func(m *Manifest) { m.Entries[4], m.Entries[5] = m.Entries[5], m.Entries[4] }, "not sorted"},
		{"missing parent", func(m *Manifest) { m.Entries = m.Entries[1:] }, "parent directory"},
		{"file as parent", func(m *Manifest) { m.Entries[2].Type = File }, "parent directory"},
		{"mode bits", func(m *Manifest) { m.Entries[1].Mode = 0o4755 }, "mode"},
		{"dir with size", func(m *Manifest) { m.Entries[0].Size = 1 }, "directory must have"},
		{"bad type", func(m *Manifest) { m.Entries[4].Type = 7 }, "unknown entry type"},
		{"size mismatch", func(m *Manifest) { m.Entries[1].Size = 31 }, "add up"},
		{"zero chunk", func(m *Manifest) { m.Entries[1].Chunks[0].Size = 0; m.Entries[1].Size = 20 }, "chunk 0 size"},
		{"huge chunk", func(m *Manifest) {
			m.Entries[4].Chunks[0].Size = MaxBlockSize + 1
			m.Entries[4].Size = MaxBlockSize + 1
		}, "chunk 0 size"},
		{"bad cid", func(m *Manifest) { m.Entries[4].Chunks[0].CID = badCID }, "codec"},
		{"undef cid", func(m *Manifest) { m.Entries[4].Chunks[0].CID = cid.Undef }, "undefined"},
		{"negative size", func(m *Manifest) { m.Entries[3].Size = -1 }, "out of range"},
		{"single with two", func(m *Manifest) { m.Single = true }, "single-file"},
	}
	for _, tt := range tests {
		m := sampleManifest()
		tt.edit(m)
		err := m.Validate()
		if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want ErrInvalidManifest containing %q", tt.name, err, tt.want)
		}
		if _, err := m.Encode(); err == nil {
			t.Errorf("%s: Encode accepted an invalid manifest", tt.name)
		}
	}
	single := &Manifest{Single: true, Entries: []Entry{fileEntry("a/b", 1)}}
	if err := single.Validate(); err == nil {
		t.Error("single-file manifest with a nested path accepted")
	}
}

func TestManifestTooLarge(t *testing.T) {
	// About 44 bytes per chunk: 200k chunks of one file exceed 8 MiB.
	e := Entry{Path: "big", Type: File}
	c := BlockCID([]byte("x"))
	for i := 0; i < 200_000; i++ {
		e.Chunks = append(e.Chunks, Chunk{CID: c, Size: 1 << 20})
		e.Size += 1 << 20
	}
	m := &Manifest{Entries: []Entry{e}}
	if _, err := m.Encode(); !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("Encode = %v, want ErrManifestTooLarge", err)
	}
	if _, err := DecodeManifest(make([]byte, MaxBlockSize+1)); !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("DecodeManifest = %v, want ErrManifestTooLarge", err)
	}
}

func TestDecodeManifestRejectsNonCanonical(t *testing.T) {
	good, _ := (&Manifest{Single: true, Entries: []Entry{fileEntry("f", 3)}}).Encode()
	tag := func(n protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, n, typ) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := map[string][]byte{
		"empty input":        nil,
		"no format":          good[2:],
		"format 2":           cat([]byte{0x08, 0x02}, good[2:]),
		"format twice":       cat(good[:2], good),
		"non-minimal varint": cat([]byte{0x08, 0x81, 0x00}, good[2:]),
		"unknown field":      cat(good, tag(9, protowire.VarintType), []byte{1}),
		"wrong wire type":    cat(tag(1, protowire.BytesType), []byte{1, 1}),
		"out of order":       cat(good[4:], good[:4]),
		"zero single":        cat(good[:2], []byte{0x10, 0x00}, good[4:]),
		"bool 2":             cat(good[:2], []byte{0x10, 0x02}, good[4:]),
		"truncated":          good[:len(good)-1],
		"trailing garbage":   cat(good, []byte{0xff}),
	}
	for name, b := range tests {
		if _, err := DecodeManifest(b); err == nil {
			t.Errorf("%s: DecodeManifest accepted %x", name, b)
		}
	}
	if _, err := DecodeManifest(good); err != nil {
		t.Fatalf("good: %v", err)
	}
}

// mixedHashManifest returns a manifest whose file has a sha2-256 chunk (as
// published before the switch to blake3) and a blake3 one.
func mixedHashManifest(t testing.TB) *Manifest {
	old, cur := []byte("old chunk"), []byte("new chunk")
	return &Manifest{Entries: []Entry{{
		Path: "f", Type: File, Mode: 0o644, Size: int64(len(old) + len(cur)),
		Chunks: []Chunk{
			{CID: sha256CID(t, old), Size: int64(len(old))},
			{CID: BlockCID(cur), Size: int64(len(cur))},
		},
	}}}
}

func TestManifestMixedHashes(t *testing.T) {
	m := mixedHashManifest(t)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: got %+v, want %+v", got, m)
	}
	for _, c := range got.Entries[0].Chunks {
		if err := CheckCID(c.CID); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	for _, m := range []*Manifest{
		sampleManifest(),
		{},
		{Single: true, Entries: []Entry{fileEntry("f", 1, 2)}},
		mixedHashManifest(f),
	} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x08, 0x01, 0x1a, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest does not validate: %v", err)
		}
		b2, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, b2)
		}
	})
}
