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
// same chunks, however the reader splits its reads.
//
// It reads into slabs of slabMaxes*Max bytes and hands chunks out as
// slices of them, without copying: a slab is never written again where
// it has handed bytes out, and when its room runs out the bytes of the
// chunk under way (less than Max) move to a new slab. A chunk the caller
// keeps keeps its slab alive. A Chunker is not safe for concurrent use.
type Chunker struct {
	p            Params
	maskS, maskL uint64 // masks before and after the normalization point
	norm         int    // normalization point, from the chunk start
	r            io.Reader
	buf          []byte // the current slab
	start, end   int    // unconsumed bytes are buf[start:end]
	err          error  // sticky read error, io.EOF at end of input
}

// slabMaxes is the size of a Chunker's slabs in units of Max: 16 MiB with
// the default params. A larger slab moves a smaller share of the stream
// between slabs (the unfinished chunk at its end) but keeps more memory
// alive while any of its chunks is held.
const slabMaxes = 4

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

// Reset makes c read a new stream r. The rest of the current slab is
// used for it: chunks already handed out are never written over.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.start = c.end
	c.err = nil
}

// Next returns the next chunk, or io.EOF after the last chunk. The chunk
// is a slice of one of the chunker's slabs that the chunker never writes
// again, with its capacity cut to its length: the caller owns it, and
// holding it holds the slab. An empty stream has no chunks. A read error
// other than io.EOF is returned as is and repeated by every later call.
func (c *Chunker) Next() ([]byte, error) {
	for {
		if c.err != nil && c.err != io.EOF {
			return nil, c.err
		}
		avail := c.buf[c.start:c.end]
		if c.err == io.EOF || len(avail) >= c.p.Max {
			if len(avail) == 0 {
				return nil, io.EOF
			}
			return c.take(c.cut(avail)), nil
		}
		// Fewer than Max bytes and more to come: a boundary among them
		// is where the whole stream would put it.
		if n, ok := c.boundary(avail); ok {
			return c.take(n), nil
		}
		c.fill()
	}
}

// take hands out the next n unconsumed bytes.
func (c *Chunker) take(n int) []byte {
	out := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return out
}

// fill reads until the slab is full or the stream ends. A full slab is
// first replaced by a new one holding the unconsumed bytes (fewer than
// Max when Next calls it).
func (c *Chunker) fill() {
	if c.end == len(c.buf) {
		// make zeroes only memory that was used before; a fresh span
		// from the OS is zero already.
		slab := make([]byte, slabMaxes*c.p.Max)
		c.end = copy(slab, c.buf[c.start:c.end])
		c.buf, c.start = slab, 0
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
// at least Max bytes unless the stream ends within it.
func (c *Chunker) cut(data []byte) int {
	if n, ok := c.boundary(data); ok {
		return n
	}
	return min(len(data), c.p.Max)
}

// boundary returns the length of the chunk at the start of data if data
// holds a content boundary before Max, and false if it holds none. The
// loops range over subslices with the masks in locals, which keeps
// bounds checks and field loads out of the per-byte work.
func (c *Chunker) boundary(data []byte) (int, bool) {
	n := min(len(data), c.p.Max)
	if n <= c.p.Min {
		return 0, false
	}
	lo, norm := c.p.Min, min(c.norm, n)
	var h uint64
	if i, ok := scan(data[lo:norm], &h, c.maskS); ok {
		return lo + i, true
	}
	if i, ok := scan(data[norm:n], &h, c.maskL); ok {
		return norm + i, true
	}
	return 0, false
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
