package node

import (
	"slices"
	"sync"
)

// Large blocks travel in buffers that are recycled rather than left to the
// garbage collector: a fetch or publish moves about a thousand 1 MiB
// blocks per GiB, and allocating each one zeroes it and grows the heap,
// which took about 6% of a fetch's CPU. A buffer is recycled only where
// its one owner is known to be done with it (after a block response has
// been written to its stream, after a received block has been written to
// its file); a pooled buffer that escapes elsewhere is simply collected.
//
// Sizes are rounded up to classes a quarter of a power of two apart, so
// a buffer holds at most 25% more than asked (content-defined chunks have
// every size between 256 KiB and 4 MiB).
const (
	// poolMin is the smallest buffer worth pooling.
	poolMin = 64 << 10
	// poolMax is the largest: a whole block frame.
	poolMax = maxBlockFrame
)

// bufClasses are the pooled capacities, ascending; bufPools holds one pool
// of *[]byte per class.
var (
	bufClasses = makeBufClasses()
	bufPools   = make([]sync.Pool, len(bufClasses))
)

func makeBufClasses() []int {
	var out []int
	for base := poolMin; ; base *= 2 {
		for q := range 4 {
			c := base + q*base/4
			if c >= poolMax {
				return append(out, poolMax)
			}
			out = append(out, c)
		}
	}
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

// getBuf returns a buffer of n bytes, recycled when n is pooled. Its
// contents are undefined: the caller overwrites all of it.
func getBuf(n int) []byte {
	i := bufClass(n)
	if i < 0 {
		return make([]byte, n)
	}
	if p, ok := bufPools[i].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, bufClasses[i])
}

// putBuf recycles b, which must have come from getBuf and must not be used
// afterwards by anyone. Buffers of other capacities are left to the
// collector.
func putBuf(b []byte) {
	c := cap(b)
	i := bufClass(c)
	if i < 0 || bufClasses[i] != c {
		return
	}
	b = b[:c]
	bufPools[i].Put(&b)
}
