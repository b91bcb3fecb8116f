package overlay

import (
	"math/big"
	"strings"
	"testing"
)

// idOf returns the ID whose last 8 bytes are v and the rest zero.
func idOf(v uint64) ID {
	var id ID
	for i := 0; i < 8; i++ {
		id[31-i] = byte(v >> (8 * i))
	}
	return id
}

// maxID is 2^256 - 1.
var maxID = func() ID {
	var id ID
	for i := range id {
		id[i] = 0xff
	}
	return id
}()

func TestBetween(t *testing.T) {
	tests := []struct {
		x, a, b   ID
		open, rin bool
	}{
		{idOf(5), idOf(1), idOf(10), true, true},
		{idOf(1), idOf(1), idOf(10), false, false},
		{idOf(10), idOf(1), idOf(10), false, true},
		{idOf(11), idOf(1), idOf(10), false, false},
		{idOf(0), idOf(1), idOf(10), false, false},
		// Wrapping intervals.
		{idOf(0), idOf(10), idOf(1), true, true},
		{maxID, idOf(10), idOf(1), true, true},
		{idOf(1), idOf(10), idOf(1), false, true},
		{idOf(5), idOf(10), idOf(1), false, false},
		{idOf(10), idOf(10), idOf(1), false, false},
		// a == b: the whole ring except a, or the whole ring.
		{idOf(7), idOf(7), idOf(7), false, true},
		{idOf(8), idOf(7), idOf(7), true, true},
		{idOf(6), idOf(7), idOf(7), true, true},
		{maxID, maxID, idOf(0), false, false},
		{idOf(0), maxID, idOf(0), false, true},
	}
	for _, tt := range tests {
		if got := Between(tt.x, tt.a, tt.b); got != tt.open {
			t.Errorf("Between(%v, %v, %v) = %v, want %v", tt.x, tt.a, tt.b, got, tt.open)
		}
		if got := BetweenRightIncl(tt.x, tt.a, tt.b); got != tt.rin {
			t.Errorf("BetweenRightIncl(%v, %v, %v) = %v, want %v", tt.x, tt.a, tt.b, got, tt.rin)
		}
	}
}

func TestDistanceAndAddPow2(t *testing.T) {
	tests := []struct {
		a, b, want ID
	}{
		{idOf(1), idOf(10), idOf(9)},
		{idOf(10), idOf(10), ID{}},
		{idOf(1), idOf(0), maxID},
		{maxID, idOf(0), idOf(1)},
		{idOf(10), idOf(1), Distance(idOf(9), ID{})},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%v, %v) = %v, want %v", tt.a, tt.b, got.Hex(), tt.want.Hex())
		}
	}
	var top ID
	top[0] = 0x80
	pow := []struct {
		a    ID
		i    int
		want ID
	}{
		{idOf(0), 0, idOf(1)},
		{idOf(1), 0, idOf(2)},
		{idOf(0xff), 0, idOf(0x100)},
		{idOf(0), 63, idOf(1 << 63)},
		{idOf(0), 255, top},
		{top, 255, ID{}},
		{maxID, 0, ID{}},
		{maxID, 8, idOf(0xff)},
	}
	for _, tt := range pow {
		if got := tt.a.AddPow2(tt.i); got != tt.want {
			t.Errorf("%v.AddPow2(%d) = %v, want %v", tt.a.Hex(), tt.i, got.Hex(), tt.want.Hex())
		}
	}
	for _, i := range []int{-1, 256} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddPow2(%d) did not panic", i)
				}
			}()
			ID{}.AddPow2(i)
		}()
	}
}

func TestBitLen(t *testing.T) {
	var top ID
	top[0] = 0x80
	tests := []struct {
		a    ID
		want int
	}{
		{ID{}, 0}, {idOf(1), 1}, {idOf(2), 2}, {idOf(3), 2}, {idOf(1 << 63), 64},
		{ID{}.AddPow2(64), 65}, {ID{}.AddPow2(200), 201}, {top, 256}, {maxID, 256},
	}
	for _, tt := range tests {
		if got := bitLen(tt.a); got != tt.want {
			t.Errorf("bitLen(%v) = %d, want %d", tt.a.Hex(), got, tt.want)
		}
	}
}

func TestCmpAndText(t *testing.T) {
	if c := idOf(1).Cmp(idOf(2)); c != -1 {
		t.Errorf("Cmp = %d, want -1", c)
	}
	if c := maxID.Cmp(idOf(2)); c != 1 {
		t.Errorf("Cmp = %d, want 1", c)
	}
	if c := idOf(2).Cmp(idOf(2)); c != 0 {
		t.Errorf("Cmp = %d, want 0", c)
	}
	id := HashID([]byte("chorus"))
	if len(id.Hex()) != 64 || !strings.HasPrefix(id.Hex(), id.String()) || len(id.String()) != 8 {
		t.Errorf("Hex %q, String %q", id.Hex(), id.String())
	}
	back, err := ParseID(id.Hex())
	if err != nil || back != id {
		t.Errorf("ParseID(Hex) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("0", 63), strings.Repeat("g", 64), strings.Repeat("0", 66)} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}

// Reference implementations on math/big.

var ringMod = new(big.Int).Lsh(big.NewInt(1), IDBits)

func bigOf(a ID) *big.Int { return new(big.Int).SetBytes(a[:]) }

func idOfBig(v *big.Int) ID {
	var id ID
	v = new(big.Int).Mod(v, ringMod)
	v.FillBytes(id[:])
	return id
}

func bigDist(a, b ID) *big.Int {
	return new(big.Int).Mod(new(big.Int).Sub(bigOf(b), bigOf(a)), ringMod)
}

// idFrom pads or truncates b to an ID.
func idFrom(b []byte) ID {
	var id ID
	copy(id[:], b)
	return id
}

func FuzzBetween(f *testing.F) {
	f.Add([]byte{1}, []byte{0}, []byte{2})
	f.Add([]byte{5}, []byte{5}, []byte{5})
	f.Add([]byte{0}, []byte{0xff, 0xff}, []byte{1})
	f.Add(maxID[:], maxID[:], []byte{})
	f.Fuzz(func(t *testing.T, xb, ab, bb []byte) {
		x, a, b := idFrom(xb), idFrom(ab), idFrom(bb)
		dx, db := bigDist(a, x), bigDist(a, b)
		open := dx.Sign() > 0 && (a == b || dx.Cmp(db) < 0)
		rin := a == b || (dx.Sign() > 0 && dx.Cmp(db) <= 0)
		if got := Between(x, a, b); got != open {
			t.Errorf("Between(%v, %v, %v) = %v, want %v", x.Hex(), a.Hex(), b.Hex(), got, open)
		}
		if got := BetweenRightIncl(x, a, b); got != rin {
			t.Errorf("BetweenRightIncl(%v, %v, %v) = %v, want %v", x.Hex(), a.Hex(), b.Hex(), got, rin)
		}
	})
}

func FuzzDistance(f *testing.F) {
	f.Add([]byte{1}, []byte{2})
	f.Add([]byte{2}, []byte{1})
	f.Add(maxID[:], []byte{})
	f.Fuzz(func(t *testing.T, ab, bb []byte) {
		a, b := idFrom(ab), idFrom(bb)
		if got, want := Distance(a, b), idOfBig(bigDist(a, b)); got != want {
			t.Errorf("Distance(%v, %v) = %v, want %v", a.Hex(), b.Hex(), got.Hex(), want.Hex())
		}
		if c, want := a.Cmp(b), bigOf(a).Cmp(bigOf(b)); c != want {
			t.Errorf("Cmp(%v, %v) = %d, want %d", a.Hex(), b.Hex(), c, want)
		}
		if got, want := bitLen(a), bigOf(a).BitLen(); got != want {
			t.Errorf("bitLen(%v) = %d, want %d", a.Hex(), got, want)
		}
	})
}

func FuzzAddPow2(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(maxID[:], uint8(255))
	f.Add([]byte{0x7f, 0xff}, uint8(240))
	f.Fuzz(func(t *testing.T, ab []byte, i uint8) {
		a := idFrom(ab)
		want := idOfBig(new(big.Int).Add(bigOf(a), new(big.Int).Lsh(big.NewInt(1), uint(i))))
		if got := a.AddPow2(int(i)); got != want {
			t.Errorf("%v.AddPow2(%d) = %v, want %v", a.Hex(), i, got.Hex(), want.Hex())
		}
	})
}

func FuzzParseID(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(id.Hex(), s) {
			t.Errorf("ParseID(%q).Hex() = %q", s, id.Hex())
		}
	})
}
