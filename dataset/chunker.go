package dataset

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Params sets the chunk sizes of the content-defined chunker. The zero
// Params means DefaultParams().
type Params struct {
	// Min is the smallest chunk, except that the last chunk of a stream
	// may be shorter.
	Min int
	// Avg is the target average chunk size. The cut masks use
	// floor(log2(Avg)) bits, so a power of two is the natural choice.
	Avg int
	// Max is the largest chunk; a chunk is cut at Max if no content
	// boundary was found before.
	Max int
}

// DefaultParams returns the production chunk sizes: 256 KiB minimum,
// 1 MiB average, 4 MiB maximum.
func DefaultParams() Params {
	return Params{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20}
}

// ErrBadParams is wrapped by Params.Validate errors.
var ErrBadParams = errors.New("bad chunker params")

// withDefaults returns DefaultParams() for the zero Params and p otherwise.
func (p Params) withDefaults() Params {
	if p == (Params{}) {
		return DefaultParams()
	}
	return p
}

// Validate checks 64 <= Min < Avg < Max <= MaxBlockSize. The zero Params
// is valid (it means DefaultParams()).
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Min < 64:
		return fmt.Errorf("%w: Min %d < 64", ErrBadParams, p.Min)
	case p.Avg <= p.Min:
		return fmt.Errorf("%w: Avg %d <= Min %d", ErrBadParams, p.Avg, p.Min)
	case p.Max <= p.Avg:
		return fmt.Errorf("%w: Max %d <= Avg %d", ErrBadParams, p.Max, p.Avg)
	case p.Max > MaxBlockSize:
		return fmt.Errorf("%w: Max %d > MaxBlockSize %d", ErrBadParams, p.Max, MaxBlockSize)
	}
	return nil
}

// gear is the table of the gear rolling hash: 256 pseudo-random words
// from a fixed splitmix64 sequence. It is part of the data format:
// changing it changes every chunk boundary, hence every CID.
var gear = func() (t [256]uint64) {
	x := uint64(0x43686f7275730001) // "Chorus" + 1
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t[i] = z ^ (z >> 31)
	}
	return t
}()

// topMask returns a mask of the n most significant bits. With the gear
// hash h = h<<1 + gear[b], the high bits mix the most recent 64 bytes.
func topMask(n int) uint64 {
	return ^uint64(0) << (64 - uint(n))
}

// Chunker cuts a byte stream into content-defined chunks with a gear
// rolling hash and normalized chunking (FastCDC style): between Min and
// Avg a boundary needs more zero bits than after Avg, which pulls chunk
// sizes towards Avg. It is deterministic: the same bytes always give the
// same chunks, however the reader splits its reads. It holds at most
// 2*Max bytes of the stream. A Chunker is not safe for concurrent use.
type Chunker struct {
	p            Params
	maskS, maskL uint64 // masks before and after the normalization point
	norm         int    // normalization point, from the chunk start
	r            io.Reader
	buf          []byte
	start, end   int   // unconsumed bytes are buf[start:end]
	err          error // sticky read error, io.EOF at end of input
}

// NewChunker returns a Chunker reading r with params p (zero means
// DefaultParams()).
func NewChunker(r io.Reader, p Params) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.withDefaults()
	b := bits.Len(uint(p.Avg)) - 1
	c := &Chunker{
		p:     p,
		maskS: topMask(b + 2),
		maskL: topMask(max(b-2, 1)),
		// With Min = Avg/4, switching masks here puts the mean chunk
		// size within a few percent of Avg (the stricter mask alone
		// would overshoot it by about 15%).
		norm: p.Min + 3*(p.Avg-p.Min)/4,
	}
	c.Reset(r)
	return c, nil
}

// Reset makes c read a new stream r, reusing its buffer.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.start, c.end = 0, 0
	c.err = nil
}

// Next returns the next chunk in a freshly allocated slice that the
// caller owns, or io.EOF after the last chunk. An empty stream has no
// chunks. A read error other than io.EOF is returned as is and repeated
// by every later call.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil && c.err != io.EOF {
		return nil, c.err
	}
	if c.end-c.start < c.p.Max && c.err == nil {
		c.fill()
		if c.err != nil && c.err != io.EOF {
			return nil, c.err
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := c.cut(c.buf[c.start:c.end])
	// Appending to nil copies without first zeroing the new slice, as
	// make followed by copy would.
	out := append([]byte(nil), c.buf[c.start:c.start+n]...)
	c.start += n
	return out, nil
}

// fill moves the unconsumed bytes to the front of the buffer and reads
// until the buffer is full or the stream ends.
func (c *Chunker) fill() {
	if c.buf == nil {
		c.buf = make([]byte, 2*c.p.Max)
	}
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	empty := 0
	for c.end < len(c.buf) && c.err == nil {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = fmt.Errorf("chunker: reader returned invalid count %d", n)
			return
		}
		c.end += n
		if err != nil {
			c.err = err
			return
		}
		if n == 0 {
			if empty++; empty >= 100 {
				c.err = io.ErrNoProgress
			}
		}
	}
}

// cut returns the length of the chunk at the start of data. data holds
// at least Max bytes unless the stream ends within it. The loops range
// over subslices with the masks in locals, which keeps bounds checks and
// field loads out of the per-byte work.
func (c *Chunker) cut(data []byte) int {
	n := len(data)
	if n <= c.p.Min {
		return n
	}
	n = min(n, c.p.Max)
	lo, norm := c.p.Min, min(c.norm, n)
	var h uint64
	if i, ok := scan(data[lo:norm], &h, c.maskS); ok {
		return lo + i
	}
	if i, ok := scan(data[norm:n], &h, c.maskL); ok {
		return norm + i
	}
	return n
}

// scan rolls the gear hash *h over data and returns the length of the
// prefix after which h&mask is first zero. It takes two bytes a step:
// h<<2 + (gear[a]<<1 + gear[b]) is two single steps at once, and the
// odd position's hash h<<1 + gear[a] is computed beside it, off the chain
// of dependent operations, so every position is still checked (the
// boundaries are those of the one-byte loop) while the chain, which
// bounds the speed, is half as long.
func scan(data []byte, h *uint64, mask uint64) (int, bool) {
	x := *h
	i := 0
	for ; i+1 < len(data); i += 2 {
		ga, gb := gear[data[i]], gear[data[i+1]]
		odd := x<<1 + ga
		x = x<<2 + (ga<<1 + gb)
		if odd&mask == 0 {
			return i + 1, true
		}
		if x&mask == 0 {
			return i + 2, true
		}
	}
	if i < len(data) {
		x = x<<1 + gear[data[i]]
		if x&mask == 0 {
			return i + 1, true
		}
	}
	*h = x
	return 0, false
}
