package overlay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// IDBits is the width of the identifier space: IDs live on a ring of
// 2^IDBits points.
const IDBits = 256

// ID is a 256-bit ring identifier, big-endian: ID[0] holds the most
// significant byte. Arithmetic on IDs is modulo 2^256.
type ID [32]byte

// HashID returns the ring ID of b: its SHA-256 digest.
func HashID(b []byte) ID { return ID(sha256.Sum256(b)) }

// Cmp compares a and b as unsigned integers and returns -1, 0 or +1.
func (a ID) Cmp(b ID) int {
	for i := 0; i < len(a); i += 8 {
		x, y := binary.BigEndian.Uint64(a[i:]), binary.BigEndian.Uint64(b[i:])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Between reports whether x lies in the open ring interval (a, b), walking
// clockwise (upwards) from a. When a == b the interval is the whole ring
// except a.
func Between(x, a, b ID) bool {
	switch c := a.Cmp(b); {
	case c < 0:
		return a.Cmp(x) < 0 && x.Cmp(b) < 0
	case c > 0:
		return a.Cmp(x) < 0 || x.Cmp(b) < 0
	default:
		return x != a
	}
}

// BetweenRightIncl reports whether x lies in the half-open ring interval
// (a, b]. When a == b the interval is the whole ring.
func BetweenRightIncl(x, a, b ID) bool {
	switch c := a.Cmp(b); {
	case c < 0:
		return a.Cmp(x) < 0 && x.Cmp(b) <= 0
	case c > 0:
		return a.Cmp(x) < 0 || x.Cmp(b) <= 0
	default:
		return true
	}
}

// Distance returns the clockwise distance from a to b: (b - a) mod 2^256.
func Distance(a, b ID) ID {
	var d ID
	var borrow uint64
	for i := 24; i >= 0; i -= 8 {
		var w uint64
		w, borrow = bits.Sub64(binary.BigEndian.Uint64(b[i:]), binary.BigEndian.Uint64(a[i:]), borrow)
		binary.BigEndian.PutUint64(d[i:], w)
	}
	return d
}

// bitLen returns the number of bits needed to represent a: 0 for zero,
// else 1 + the index of the highest set bit.
func bitLen(a ID) int {
	for i := 0; i < len(a); i += 8 {
		if w := binary.BigEndian.Uint64(a[i:]); w != 0 {
			return (len(a)-i-8)*8 + bits.Len64(w)
		}
	}
	return 0
}

// AddPow2 returns a + 2^i mod 2^256. It panics unless 0 <= i < IDBits.
func (a ID) AddPow2(i int) ID {
	if i < 0 || i >= IDBits {
		panic(fmt.Sprintf("overlay: AddPow2 exponent %d out of range", i))
	}
	byteIdx := len(a) - 1 - i/8
	carry := uint16(1) << (i % 8)
	for j := byteIdx; j >= 0 && carry != 0; j-- {
		s := uint16(a[j]) + carry
		a[j] = byte(s)
		carry = s >> 8
	}
	return a
}

// String returns the first 8 hex digits of a, enough to tell IDs apart in
// logs.
func (a ID) String() string { return hex.EncodeToString(a[:4]) }

// Hex returns all 64 hex digits of a.
func (a ID) Hex() string { return hex.EncodeToString(a[:]) }

// ParseID parses the 64 hex digits written by ID.Hex.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("overlay: parse ID: want %d hex digits, got %d", 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("overlay: parse ID: %w", err)
	}
	return id, nil
}
