package replica

import (
	"encoding/binary"
	"math/bits"

	"github.com/chorus-data/chorus/overlay"
)

// Range is the ring interval (Lo, Hi] of keys, walking clockwise from Lo.
// Lo == Hi is the whole ring. A node is the primary of the keys in
// (predecessor, self].
type Range struct {
	Lo, Hi overlay.ID
}

// Contains reports whether k lies in r.
func (r Range) Contains(k overlay.ID) bool { return overlay.BetweenRightIncl(k, r.Lo, r.Hi) }

// Full reports whether r is the whole ring.
func (r Range) Full() bool { return r.Lo == r.Hi }

// split divides a range into at most 2^logParts consecutive parts of equal
// width 2^shift (the last one possibly shorter). Both ends of a sync
// session compute the same split from the range alone.
type split struct {
	r     Range
	shift uint
	n     int
}

// newSplit splits r into at most 2^logParts parts.
func newSplit(r Range, logParts uint) split {
	m := sub1(overlay.Distance(r.Lo, r.Hi)) // the range holds m+1 keys
	s := uint(0)
	if l := uint(bitLen(m)); l > logParts {
		s = l - logParts
	}
	n := int(low64(shr(m, s))) + 1
	return split{r: r, shift: s, n: n}
}

// parts returns how many parts the split has.
func (s split) parts() int { return s.n }

// index returns the part of key k, which must lie in the range.
func (s split) index(k overlay.ID) int {
	off := sub1(overlay.Distance(s.r.Lo, k))
	return int(low64(shr(off, s.shift)))
}

// part returns the sub-range of part i.
func (s split) part(i int) Range {
	lo := add(s.r.Lo, shl(fromUint64(uint64(i)), s.shift))
	if i == s.n-1 {
		return Range{Lo: lo, Hi: s.r.Hi}
	}
	return Range{Lo: lo, Hi: add(s.r.Lo, shl(fromUint64(uint64(i+1)), s.shift))}
}

// The helpers below treat an overlay.ID as a big-endian 256-bit unsigned
// integer, modulo 2^256.

func limbs(a overlay.ID) [4]uint64 {
	return [4]uint64{
		binary.BigEndian.Uint64(a[24:]), binary.BigEndian.Uint64(a[16:]),
		binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(a[0:]),
	}
}

func fromLimbs(l [4]uint64) overlay.ID {
	var a overlay.ID
	binary.BigEndian.PutUint64(a[24:], l[0])
	binary.BigEndian.PutUint64(a[16:], l[1])
	binary.BigEndian.PutUint64(a[8:], l[2])
	binary.BigEndian.PutUint64(a[0:], l[3])
	return a
}

func fromUint64(v uint64) overlay.ID { return fromLimbs([4]uint64{v}) }

func low64(a overlay.ID) uint64 { return binary.BigEndian.Uint64(a[24:]) }

func add(a, b overlay.ID) overlay.ID {
	x, y := limbs(a), limbs(b)
	var out [4]uint64
	var carry uint64
	for i := range 4 {
		out[i], carry = bits.Add64(x[i], y[i], carry)
	}
	return fromLimbs(out)
}

func sub1(a overlay.ID) overlay.ID {
	x := limbs(a)
	var borrow uint64 = 1
	for i := range 4 {
		x[i], borrow = bits.Sub64(x[i], 0, borrow)
	}
	return fromLimbs(x)
}

func bitLen(a overlay.ID) int {
	x := limbs(a)
	for i := 3; i >= 0; i-- {
		if x[i] != 0 {
			return i*64 + bits.Len64(x[i])
		}
	}
	return 0
}

func shr(a overlay.ID, s uint) overlay.ID {
	if s >= 256 {
		return overlay.ID{}
	}
	x := limbs(a)
	var out [4]uint64
	w, b := int(s/64), s%64
	for i := range 4 {
		j := i + w
		if j > 3 {
			break
		}
		out[i] = x[j] >> b
		if b > 0 && j+1 <= 3 {
			out[i] |= x[j+1] << (64 - b)
		}
	}
	return fromLimbs(out)
}

func shl(a overlay.ID, s uint) overlay.ID {
	if s >= 256 {
		return overlay.ID{}
	}
	x := limbs(a)
	var out [4]uint64
	w, b := int(s/64), s%64
	for i := 3; i >= 0; i-- {
		j := i - w
		if j < 0 {
			break
		}
		out[i] = x[j] << b
		if b > 0 && j-1 >= 0 {
			out[i] |= x[j-1] >> (64 - b)
		}
	}
	return fromLimbs(out)
}
