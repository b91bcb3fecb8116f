package dataset

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"google.golang.org/protobuf/encoding/protowire"
)

// Bounds of a manifest.
const (
	// MaxEntries is the largest number of entries in one manifest.
	MaxEntries = 1 << 20
	// MaxDatasetSize is the largest total file size of one manifest.
	MaxDatasetSize int64 = 1 << 50
	// MaxPathLen is the longest entry path, in bytes.
	MaxPathLen = 4096
	// MaxSegmentLen is the longest path segment (file name), in bytes.
	MaxSegmentLen = 255
)

// manifestFormat is the format version written in field 1 of every
// encoded manifest.
const manifestFormat = 1

var (
	// ErrInvalidManifest is wrapped by manifest validation errors.
	ErrInvalidManifest = errors.New("invalid manifest")
	// ErrManifestTooLarge is wrapped when a manifest does not fit in one
	// block of MaxBlockSize bytes.
	ErrManifestTooLarge = errors.New("manifest too large for one block")
)

// EntryType is the kind of a manifest entry.
type EntryType uint8

const (
	// File is a regular file; its content is the concatenation of its
	// chunks.
	File EntryType = 1
	// Dir is a directory.
	Dir EntryType = 2
)

// String returns "file", "dir" or "EntryType(n)".
func (t EntryType) String() string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "dir"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Chunk is one block of a file.
type Chunk struct {
	CID  cid.Cid
	Size int64
}

// Entry is one file or directory of a dataset.
type Entry struct {
	// Path is slash-separated and relative to the dataset root, never
	// empty; for a single-file dataset it is the file's base name.
	Path string
	Type EntryType
	// Mode holds the permission bits (at most 0o777).
	Mode uint32
	// Size is the file size in bytes, 0 for a directory.
	Size int64
	// Chunks are the file's blocks in order, none for a directory or an
	// empty file.
	Chunks []Chunk
}

// Manifest lists every entry of one dataset version. Entries are sorted
// by path, comparing segment by segment (a directory comes right before
// its contents), and every entry's parent directory is itself an entry.
// The encoded manifest is a block; its CID names the version.
type Manifest struct {
	// Single marks a single-file dataset: exactly one File entry whose
	// path is the file's base name.
	Single  bool
	Entries []Entry
}

// comparePaths orders slash-separated paths segment by segment: it is a
// byte-wise comparison in which '/' sorts before every other byte.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		switch {
		case x == y:
			continue
		case x == '/':
			return -1
		case y == '/':
			return 1
		case x < y:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// checkPath returns nil if p is a valid entry path: non-empty, at most
// MaxPathLen bytes of UTF-8 without NUL, relative, and made of non-empty
// segments of at most MaxSegmentLen bytes that are neither "." nor "..".
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case len(p) > MaxPathLen:
		return fmt.Errorf("path longer than %d bytes", MaxPathLen)
	case !utf8.ValidString(p):
		return errors.New("path is not valid UTF-8")
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("path contains a NUL byte")
	case p[0] == '/':
		return errors.New("path is absolute")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return errors.New("path has an empty segment")
		case seg == "." || seg == "..":
			return fmt.Errorf("path has a %q segment", seg)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("path segment longer than %d bytes", MaxSegmentLen)
		}
	}
	return nil
}

// Validate checks every rule of a manifest: entry count, paths, order
// and uniqueness, parent directories, types, modes, chunk CIDs and sizes,
// file sizes equal to the sum of their chunks, and the total size bound.
func (m *Manifest) Validate() error {
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("%w: %d entries (max %d)", ErrInvalidManifest, len(m.Entries), MaxEntries)
	}
	if m.Single {
		if len(m.Entries) != 1 || m.Entries[0].Type != File || strings.Contains(m.Entries[0].Path, "/") {
			return fmt.Errorf("%w: a single-file manifest must have exactly one file entry whose path is a base name", ErrInvalidManifest)
		}
	}
	dirs := make(map[string]bool)
	var total int64
	for i := range m.Entries {
		e := &m.Entries[i]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: entry %d %q: %s", ErrInvalidManifest, i, e.Path, fmt.Sprintf(format, args...))
		}
		if err := checkPath(e.Path); err != nil {
			return fail("%v", err)
		}
		if i > 0 {
			switch c := comparePaths(m.Entries[i-1].Path, e.Path); {
			case c == 0:
				return fail("duplicate path")
			case c > 0:
				return fail("entries not sorted by path")
			}
		}
		if j := strings.LastIndexByte(e.Path, '/'); j >= 0 && !dirs[e.Path[:j]] {
			return fail("parent directory %q is not a directory entry", e.Path[:j])
		}
		if e.Mode&^0o777 != 0 {
			return fail("mode %#o has bits beyond 0o777", e.Mode)
		}
		switch e.Type {
		case Dir:
			if e.Size != 0 || len(e.Chunks) != 0 {
				return fail("a directory must have size 0 and no chunks")
			}
			dirs[e.Path] = true
		case File:
			if e.Size < 0 || e.Size > MaxDatasetSize {
				return fail("size %d out of range", e.Size)
			}
			var sum int64
			for k, c := range e.Chunks {
				if c.Size <= 0 || c.Size > MaxBlockSize {
					return fail("chunk %d size %d out of range 1..%d", k, c.Size, MaxBlockSize)
				}
				if err := CheckCID(c.CID); err != nil {
					return fail("chunk %d: %v", k, err)
				}
				sum += c.Size
				if sum > e.Size {
					break
				}
			}
			if sum != e.Size {
				return fail("chunk sizes add up to %d, not the file size %d", sum, e.Size)
			}
			total += e.Size
			if total > MaxDatasetSize {
				return fmt.Errorf("%w: total size exceeds %d bytes", ErrInvalidManifest, MaxDatasetSize)
			}
		default:
			return fail("unknown entry type %d", e.Type)
		}
	}
	return nil
}

// Encode validates m and returns its deterministic binary encoding
// (protobuf wire format, fields in order, zero values omitted). It fails
// with an error wrapping ErrManifestTooLarge if the encoding exceeds
// MaxBlockSize.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := appendUint(nil, 1, manifestFormat)
	if m.Single {
		b = appendUint(b, 2, 1)
	}
	var scratch []byte
	for i := range m.Entries {
		scratch = appendEntry(scratch[:0], &m.Entries[i])
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, scratch)
		if len(b) > MaxBlockSize {
			return nil, fmt.Errorf("%w: more than %d bytes after %d of %d entries; split the dataset",
				ErrManifestTooLarge, MaxBlockSize, i+1, len(m.Entries))
		}
	}
	return b, nil
}

// Block encodes m and returns the CID and bytes of the manifest block.
func (m *Manifest) Block() (cid.Cid, []byte, error) {
	b, err := m.Encode()
	if err != nil {
		return cid.Undef, nil, err
	}
	return BlockCID(b), b, nil
}

// appendEntry appends the body of one Entry message.
func appendEntry(b []byte, e *Entry) []byte {
	b = appendString(b, 1, e.Path)
	b = appendUint(b, 2, uint64(e.Type))
	b = appendUint(b, 3, uint64(e.Mode))
	b = appendUint(b, 4, uint64(e.Size))
	for _, c := range e.Chunks {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(chunkSize(c)))
		b = appendChunk(b, c)
	}
	return b
}

// chunkSize is the length of the encoded Chunk message body.
func chunkSize(c Chunk) int {
	n := 0
	if l := c.CID.ByteLen(); l > 0 {
		n += protowire.SizeTag(1) + protowire.SizeBytes(l)
	}
	if c.Size != 0 {
		n += protowire.SizeTag(2) + protowire.SizeVarint(uint64(c.Size))
	}
	return n
}

// appendChunk appends the body of one Chunk message.
func appendChunk(b []byte, c Chunk) []byte {
	if c.CID.Defined() {
		b = appendBytes(b, 1, c.CID.Bytes())
	}
	return appendUint(b, 2, uint64(c.Size))
}

// manifestFieldType gives the wire type of each Manifest field.
func manifestFieldType(n protowire.Number) (protowire.Type, bool) {
	switch n {
	case 1, 2:
		return protowire.VarintType, true
	case 3:
		return protowire.BytesType, true
	}
	return 0, false
}

// entryFieldType gives the wire type of each Entry field.
func entryFieldType(n protowire.Number) (protowire.Type, bool) {
	switch n {
	case 1, 5:
		return protowire.BytesType, true
	case 2, 3, 4:
		return protowire.VarintType, true
	}
	return 0, false
}

// chunkFieldType gives the wire type of each Chunk field.
func chunkFieldType(n protowire.Number) (protowire.Type, bool) {
	switch n {
	case 1:
		return protowire.BytesType, true
	case 2:
		return protowire.VarintType, true
	}
	return 0, false
}

// DecodeManifest decodes and validates a manifest block. It accepts only
// the canonical encoding that Encode produces, so a decoded manifest
// re-encodes to the same bytes.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxBlockSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrManifestTooLarge, len(b))
	}
	m := &Manifest{}
	r := newWireReader(b, 3)
	var format uint64
	for !r.done() {
		num, err := r.next(manifestFieldType)
		if err != nil {
			return nil, err
		}
		switch num {
		case 1:
			if format, err = r.uint(num); err != nil {
				return nil, err
			}
			if format != manifestFormat {
				return nil, fmt.Errorf("%w: unsupported manifest format %d", ErrInvalidManifest, format)
			}
		case 2:
			v, err := r.uint(num)
			if err != nil {
				return nil, err
			}
			if v != 1 {
				return nil, fmt.Errorf("%w: bad boolean %d", ErrMalformed, v)
			}
			m.Single = true
		case 3:
			eb, err := r.bytes(num, true)
			if err != nil {
				return nil, err
			}
			if len(m.Entries) >= MaxEntries {
				return nil, fmt.Errorf("%w: more than %d entries", ErrInvalidManifest, MaxEntries)
			}
			e, err := decodeEntry(eb)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", len(m.Entries), err)
			}
			m.Entries = append(m.Entries, e)
		}
	}
	if format == 0 {
		return nil, fmt.Errorf("%w: missing format version", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeEntry decodes one Entry message body.
func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	r := newWireReader(b, 5)
	for !r.done() {
		num, err := r.next(entryFieldType)
		if err != nil {
			return e, err
		}
		switch num {
		case 1:
			p, err := r.bytes(num, false)
			if err != nil {
				return e, err
			}
			e.Path = string(p)
		case 2, 3, 4:
			v, err := r.uint(num)
			if err != nil {
				return e, err
			}
			switch {
			case num == 2 && v > 255, num == 3 && v > 0o777, num == 4 && v > uint64(MaxDatasetSize):
				return e, fmt.Errorf("%w: field %d value %d out of range", ErrInvalidManifest, num, v)
			}
			switch num {
			case 2:
				e.Type = EntryType(v)
			case 3:
				e.Mode = uint32(v)
			case 4:
				e.Size = int64(v)
			}
		case 5:
			cb, err := r.bytes(num, true)
			if err != nil {
				return e, err
			}
			c, err := decodeChunk(cb)
			if err != nil {
				return e, fmt.Errorf("chunk %d: %w", len(e.Chunks), err)
			}
			e.Chunks = append(e.Chunks, c)
		}
	}
	return e, nil
}

// decodeChunk decodes one Chunk message body.
func decodeChunk(b []byte) (Chunk, error) {
	var c Chunk
	r := newWireReader(b)
	for !r.done() {
		num, err := r.next(chunkFieldType)
		if err != nil {
			return c, err
		}
		switch num {
		case 1:
			cb, err := r.bytes(num, false)
			if err != nil {
				return c, err
			}
			if c.CID, err = decodeCID(cb); err != nil {
				return c, err
			}
		case 2:
			v, err := r.uint(num)
			if err != nil {
				return c, err
			}
			if v > MaxBlockSize {
				return c, fmt.Errorf("%w: chunk size %d > %d", ErrInvalidManifest, v, MaxBlockSize)
			}
			c.Size = int64(v)
		}
	}
	return c, nil
}

// decodeCID parses binary CID bytes, requiring a CID Chorus uses in its
// canonical binary form.
func decodeCID(b []byte) (cid.Cid, error) {
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: bad CID: %v", ErrMalformed, err)
	}
	if c.KeyString() != string(b) {
		return cid.Undef, fmt.Errorf("%w: non-canonical CID bytes", ErrMalformed)
	}
	if err := CheckCID(c); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// TotalSize returns the sum of the file sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for i := range m.Entries {
		n += m.Entries[i].Size
	}
	return n
}

// FileCount returns the number of File entries.
func (m *Manifest) FileCount() int {
	n := 0
	for i := range m.Entries {
		if m.Entries[i].Type == File {
			n++
		}
	}
	return n
}

// Blocks returns the distinct chunk CIDs of m in order of first
// appearance (the manifest block itself is not included).
func (m *Manifest) Blocks() []cid.Cid {
	seen := make(map[cid.Cid]bool)
	var out []cid.Cid
	for i := range m.Entries {
		for _, c := range m.Entries[i].Chunks {
			if !seen[c.CID] {
				seen[c.CID] = true
				out = append(out, c.CID)
			}
		}
	}
	return out
}
