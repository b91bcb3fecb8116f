package dataset

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// chunkAll returns every chunk of r.
func chunkAll(t testing.TB, r io.Reader, p Params) [][]byte {
	t.Helper()
	c, err := NewChunker(r, p)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, c)
}

// drain returns the chunks c gives until io.EOF.
func drain(t testing.TB, c *Chunker) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		b, err := c.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		p  Params
		ok bool
	}{
		{Params{}, true},
		{DefaultParams(), true},
		{testParams, true},
		{Params{Min: 64, Avg: 256, Max: 1024}, true},
		{Params{Min: 63, Avg: 256, Max: 1024}, false},
		{Params{Min: 256, Avg: 256, Max: 1024}, false},
		{Params{Min: 64, Avg: 1024, Max: 1024}, false},
		{Params{Min: 1 << 20, Avg: 2 << 20, Max: MaxBlockSize + 1}, false},
		{Params{Min: 1 << 20, Avg: 2 << 20, Max: MaxBlockSize}, true},
		{Params{Avg: 1 << 20, Max: 4 << 20}, false},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.p, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadParams) {
			t.Errorf("%+v.Validate() = %v, want ErrBadParams", tt.p, err)
		}
	}
}

func TestChunkerEmpty(t *testing.T) {
	if got := chunkAll(t, bytes.NewReader(nil), Params{}); len(got) != 0 {
		t.Fatalf("empty input gave %d chunks", len(got))
	}
}

func TestChunkerSizesAndAverage(t *testing.T) {
	for _, tc := range []struct {
		p Params
		n int
	}{
		{testParams, 16 << 20},
		{DefaultParams(), 64 << 20},
	} {
		data := randBytes(7, tc.n)
		chunks := chunkAll(t, bytes.NewReader(data), tc.p)
		var joined []byte
		for i, c := range chunks {
			if len(c) > tc.p.Max || (len(c) < tc.p.Min && i != len(chunks)-1) {
				t.Fatalf("chunk %d has size %d outside [%d, %d]", i, len(c), tc.p.Min, tc.p.Max)
			}
			joined = append(joined, c...)
		}
		if !bytes.Equal(joined, data) {
			t.Fatal("chunks do not concatenate to the input")
		}
		avg := float64(len(data)) / float64(len(chunks))
		ratio := avg / float64(tc.p.Avg)
		t.Logf("%+v: %d chunks, mean %.0f bytes (%.3f of target)", tc.p, len(chunks), avg, ratio)
		if ratio < 0.7 || ratio > 1.3 {
			t.Errorf("mean chunk size %.0f is not within 30%% of %d", avg, tc.p.Avg)
		}
	}
}

func TestChunkerDeterministicAcrossReadSizes(t *testing.T) {
	data := randBytes(3, 1<<20+12345)
	want := chunkAll(t, bytes.NewReader(data), testParams)
	readers := map[string]io.Reader{
		"one byte":   iotest.OneByteReader(bytes.NewReader(data)),
		"half":       iotest.HalfReader(bytes.NewReader(data)),
		"data+EOF":   iotest.DataErrReader(bytes.NewReader(data)),
		"random":     &jitterReader{r: bytes.NewReader(data), rng: rand.New(rand.NewPCG(1, 1))},
		"same again": bytes.NewReader(data),
	}
	for name, r := range readers {
		got := chunkAll(t, r, testParams)
		if len(got) != len(want) {
			t.Fatalf("%s: %d chunks, want %d", name, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: chunk %d differs", name, i)
			}
		}
	}
}

// jitterReader returns reads of random sizes, sometimes zero.
type jitterReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (j *jitterReader) Read(p []byte) (int, error) {
	n := j.rng.IntN(5000)
	if n == 0 {
		return 0, nil
	}
	return j.r.Read(p[:min(n, len(p))])
}

// TestChunkerChunksAreOwned: chunks are handed out of the chunker's slabs
// without a copy, so none may be written over later, by the chunker
// (more reads, a new slab, a Reset onto another stream) or by an append
// to its neighbour.
func TestChunkerChunksAreOwned(t *testing.T) {
	streams := [][]byte{randBytes(4, 1<<20+333), randBytes(5, 300<<10), randBytes(6, 7)}
	c, _ := NewChunker(nil, testParams)
	var chunks, copies [][]byte
	for _, data := range streams {
		// Odd read sizes leave partial chunks at slab ends.
		c.Reset(&jitterReader{r: bytes.NewReader(data), rng: rand.New(rand.NewPCG(2, 2))})
		for _, x := range drain(t, c) {
			if cap(x) != len(x) {
				t.Fatalf("chunk of %d bytes has capacity %d: an append would write over what follows", len(x), cap(x))
			}
			chunks = append(chunks, x)
			copies = append(copies, bytes.Clone(x))
		}
	}
	for i := range chunks {
		_ = append(chunks[i], 0xff) // must reallocate, never write in place
	}
	var all []byte
	for i := range chunks {
		if !bytes.Equal(chunks[i], copies[i]) {
			t.Fatalf("chunk %d was written over after it was returned", i)
		}
		all = append(all, chunks[i]...)
	}
	if !bytes.Equal(all, bytes.Join(streams, nil)) {
		t.Fatal("the chunks do not add up to the streams")
	}
}

// sharedFraction returns the fraction of b's chunks (by bytes) that also
// occur in a.
func sharedFraction(a, b [][]byte) float64 {
	seen := make(map[string]bool)
	for _, c := range a {
		seen[BlockCID(c).KeyString()] = true
	}
	var shared, total int
	for _, c := range b {
		total += len(c)
		if seen[BlockCID(c).KeyString()] {
			shared += len(c)
		}
	}
	return float64(shared) / float64(total)
}

func TestChunkerEditLocality(t *testing.T) {
	orig := randBytes(11, 20<<20)
	base := chunkAll(t, bytes.NewReader(orig), Params{})
	edits := map[string][]byte{
		"insert 100 bytes at 1000": append(append(append([]byte{}, orig[:1000]...), randBytes(12, 100)...), orig[1000:]...),
		"insert 1 byte at 0":       append([]byte{42}, orig...),
		"delete 5000 bytes at 7MB": append(append([]byte{}, orig[:7<<20]...), orig[7<<20+5000:]...),
	}
	for name, edited := range edits {
		got := chunkAll(t, bytes.NewReader(edited), Params{})
		f := sharedFraction(base, got)
		t.Logf("%s: %d chunks, %.1f%% of bytes in shared chunks", name, len(got), 100*f)
		if f < 0.8 {
			t.Errorf("%s: only %.1f%% of bytes in shared chunks", name, 100*f)
		}
	}
	// Without content-defined cuts nothing would be shared; make sure the
	// test can fail: a fresh random file shares nothing.
	if f := sharedFraction(base, chunkAll(t, bytes.NewReader(randBytes(13, 4<<20)), Params{})); f != 0 {
		t.Errorf("unrelated data shares %.1f%%", 100*f)
	}
}

func TestChunkerZerosCutAtMax(t *testing.T) {
	data := make([]byte, 5*testParams.Max+17)
	chunks := chunkAll(t, bytes.NewReader(data), testParams)
	if len(chunks) != 6 || len(chunks[5]) != 17 {
		t.Fatalf("zeros: %d chunks", len(chunks))
	}
	for _, c := range chunks[:5] {
		if len(c) != testParams.Max {
			t.Fatalf("zeros: chunk of %d bytes, want %d", len(c), testParams.Max)
		}
	}
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(randBytes(5, 10000)), iotest.ErrReader(boom))
	c, _ := NewChunker(r, testParams)
	for i := 0; i < 3; i++ {
		if _, err := c.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want boom (sticky)", err)
		}
	}
}

func TestChunkerReset(t *testing.T) {
	a, b := randBytes(1, 100<<10), randBytes(2, 50<<10)
	c, _ := NewChunker(bytes.NewReader(a), testParams)
	c.Next()
	c.Reset(bytes.NewReader(b))
	var got []byte
	for {
		x, err := c.Next()
		if err == io.EOF {
			break
		}
		got = append(got, x...)
	}
	if !bytes.Equal(got, b) {
		t.Fatal("Reset did not start a new stream")
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randBytes(9, 64<<20)
	b.SetBytes(int64(len(data)))
	c, _ := NewChunker(nil, Params{})
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(); err == io.EOF {
				break
			}
		}
	}
}

// cutOneByte is the chunker's cut as first written, one byte a step: the
// reference the two-byte loop must agree with at every boundary.
func cutOneByte(c *Chunker, data []byte) int {
	n := len(data)
	if n <= c.p.Min {
		return n
	}
	n = min(n, c.p.Max)
	norm := min(c.norm, n)
	var h uint64
	for i := c.p.Min; i < n; i++ {
		h = h<<1 + gear[data[i]]
		mask := c.maskL
		if i < norm {
			mask = c.maskS
		}
		if h&mask == 0 {
			return i + 1
		}
	}
	return n
}

// FuzzCutMatchesOneByteLoop: for any bytes and small parameters (so that
// boundaries are frequent and odd and even positions both occur), cut
// finds the boundary the one-byte loop finds.
func FuzzCutMatchesOneByteLoop(f *testing.F) {
	f.Add([]byte("some bytes to chunk, and then some more bytes to chunk"), uint8(0))
	f.Add(bytes.Repeat([]byte{0}, 4096), uint8(1))
	f.Add(randBytes(5, 8192), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, shift uint8) {
		lo := 64 << (shift % 3)
		c, err := NewChunker(nil, Params{Min: lo, Avg: 4 * lo, Max: 16 * lo})
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			got, want := c.cut(data), cutOneByte(c, data)
			if got != want {
				t.Fatalf("cut = %d, one-byte loop = %d (len %d)", got, want, len(data))
			}
			data = data[got:]
		}
	})
}
