package node

import (
	"slices"
	"sync/atomic"
)

// Large blocks travel in buffers that are recycled rather than left to the
// garbage collector: a fetch or publish moves about a thousand 1 MiB
// blocks per GiB, and allocating each one zeroes it and grows the heap,
// which took about 6% of a fetch's CPU. A buffer is recycled only where
// its one owner is known to be done with it (after a block response has
// been written to its stream, after a received block has been written to
// its file); a pooled buffer that escapes elsewhere is simply collected.
//
// Sizes are rounded up to classes an eighth of a power of two apart, so
// a new buffer holds at most 12.5% more than asked (content-defined chunks
// have every size between 256 KiB and 4 MiB). A request takes the
// smallest idle buffer of its class or up to reuseSpan classes above (less
// than twice its class): with exact classes alone, the 16 MiB of idle
// buffers were mostly of sizes nobody was asking for just then, and two
// thirds of a fetch's requests missed.
//
// The pool is bounded: idle buffers add up to at most poolBytes, and any
// beyond are left to the collector. (A sync.Pool keeps every buffer freed
// over the last two collections, which counts as live heap and let a
// 10 GiB fetch grow past its 256 MiB memory target.)
const (
	// poolMin is the smallest buffer worth pooling.
	poolMin = 64 << 10
	// poolMax is the largest: a whole block frame.
	poolMax = maxBlockFrame
	// poolBytes bounds the bytes of idle pooled buffers.
	poolBytes = 16 << 20
	// poolSlots is how many idle buffers a class can hold at most.
	poolSlots = 64
	// reuseSpan is how many classes, its own included, a request may
	// take an idle buffer from: eight is a factor of two.
	reuseSpan = 8
)

// bufClasses are the pooled capacities, ascending; bufFree holds the idle
// buffers of each class and bufIdle the bytes they add up to.
var (
	bufClasses = makeBufClasses()
	bufFree    = makeBufFree()
	bufIdle    atomic.Int64
)

func makeBufClasses() []int {
	var out []int
	for base := poolMin; ; base *= 2 {
		for q := range 8 {
			c := base + q*base/8
			if c >= poolMax {
				return append(out, poolMax)
			}
			out = append(out, c)
		}
	}
}

func makeBufFree() []chan []byte {
	out := make([]chan []byte, len(bufClasses))
	for i := range out {
		out[i] = make(chan []byte, min(poolSlots, poolBytes/bufClasses[i]))
	}
	return out
}

// bufClass returns the index of the smallest class of at least n bytes,
// or -1 when n is not pooled.
func bufClass(n int) int {
	if n < poolMin || n > poolMax {
		return -1
	}
	i, _ := slices.BinarySearch(bufClasses, n)
	return i
}

// getBuf returns a buffer of n bytes, recycled when n is pooled and an
// idle buffer of its class or one of the next reuseSpan-1 classes is
// there (the smallest such). Its contents are undefined: the caller
// overwrites all of it.
func getBuf(n int) []byte {
	i := bufClass(n)
	if i < 0 {
		return make([]byte, n)
	}
	for j := i; j < min(i+reuseSpan, len(bufClasses)); j++ {
		select {
		case b := <-bufFree[j]:
			bufIdle.Add(-int64(cap(b)))
			return b[:n]
		default:
		}
	}
	return make([]byte, n, bufClasses[i])
}

// putBuf recycles b, which must have come from getBuf and must not be used
// afterwards by anyone. Buffers of other capacities, and any beyond the
// pool's bound, are left to the collector.
func putBuf(b []byte) {
	c := cap(b)
	i := bufClass(c)
	if i < 0 || bufClasses[i] != c {
		return
	}
	if bufIdle.Add(int64(c)) > poolBytes {
		bufIdle.Add(-int64(c))
		return
	}
	select {
	case bufFree[i] <- b[:c]:
	default:
		bufIdle.Add(-int64(c))
	}
}
