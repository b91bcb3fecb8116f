package replica

import (
	"math/big"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func idOf(hexByte byte, low uint64) overlay.ID {
	id := fromUint64(low)
	id[0] = hexByte
	return id
}

func toBig(a overlay.ID) *big.Int { return new(big.Int).SetBytes(a[:]) }

func TestUint256Helpers(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 256)
	vals := []overlay.ID{{}, fromUint64(1), fromUint64(1 << 63), idOf(0x80, 0), idOf(0xff, 12345), sub1(overlay.ID{})}
	for _, a := range vals {
		for _, b := range vals {
			want := new(big.Int).Add(toBig(a), toBig(b))
			want.Mod(want, mod)
			if got := toBig(add(a, b)); got.Cmp(want) != 0 {
				t.Fatalf("add(%x, %x) = %x, want %x", a, b, got, want)
			}
		}
		want := new(big.Int).Sub(toBig(a), big.NewInt(1))
		want.Mod(want, mod)
		if got := toBig(sub1(a)); got.Cmp(want) != 0 {
			t.Fatalf("sub1(%x) = %x", a, got)
		}
		if got, want := bitLen(a), toBig(a).BitLen(); got != want {
			t.Fatalf("bitLen(%x) = %d, want %d", a, got, want)
		}
		for _, s := range []uint{0, 1, 7, 63, 64, 65, 128, 200, 255, 256} {
			r := new(big.Int).Rsh(toBig(a), s)
			if got := toBig(shr(a, s)); got.Cmp(r) != 0 {
				t.Fatalf("shr(%x, %d) = %x, want %x", a, s, got, r)
			}
			l := new(big.Int).Lsh(toBig(a), s)
			l.Mod(l, mod)
			if got := toBig(shl(a, s)); got.Cmp(l) != 0 {
				t.Fatalf("shl(%x, %d) = %x, want %x", a, s, got, l)
			}
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		r     Range
		log   uint
		parts int
	}{
		{"whole ring", Range{Lo: idOf(0x10, 0), Hi: idOf(0x10, 0)}, 4, 16},
		{"one key", Range{Lo: fromUint64(5), Hi: fromUint64(6)}, 4, 1},
		{"small range", Range{Lo: fromUint64(0), Hi: fromUint64(10)}, 4, 10},
		{"power of two", Range{Lo: fromUint64(0), Hi: fromUint64(64)}, 4, 16},
		{"wrapping", Range{Lo: idOf(0xf0, 0), Hi: idOf(0x10, 0)}, 4, 16},
		{"half ring", Range{Lo: idOf(0x00, 0), Hi: idOf(0x80, 0)}, 3, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newSplit(tt.r, tt.log)
			if sp.parts() != tt.parts {
				t.Fatalf("parts = %d, want %d", sp.parts(), tt.parts)
			}
			checkSplit(t, sp)
		})
	}
}

// checkSplit checks that the parts tile the range in order.
func checkSplit(t *testing.T, sp split) {
	t.Helper()
	if sp.parts() < 1 || sp.parts() > 1<<10 {
		t.Fatalf("%d parts", sp.parts())
	}
	if sp.part(0).Lo != sp.r.Lo || sp.part(sp.parts()-1).Hi != sp.r.Hi {
		t.Fatalf("parts do not start at Lo and end at Hi")
	}
	for i := 0; i+1 < sp.parts(); i++ {
		a, b := sp.part(i), sp.part(i+1)
		if a.Hi != b.Lo {
			t.Fatalf("part %d ends at %x, part %d starts at %x", i, a.Hi, i+1, b.Lo)
		}
		if !sp.r.Contains(a.Hi) || sp.index(a.Hi) != i || sp.index(add(a.Hi, fromUint64(1))) != i+1 {
			t.Fatalf("boundary %d misplaced", i)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte{1}, []byte{2}, []byte{3}, uint8(4))
	f.Add([]byte{0xff}, []byte{0x01}, []byte{0x00}, uint8(4))
	f.Add([]byte{7}, []byte{7}, []byte{9}, uint8(0))
	f.Fuzz(func(t *testing.T, lo, hi, k []byte, logParts uint8) {
		var r Range
		copy(r.Lo[:], lo)
		copy(r.Hi[:], hi)
		var key overlay.ID
		copy(key[:], k)
		sp := newSplit(r, uint(logParts%9))
		if sp.parts() > 1<<(logParts%9) {
			t.Fatalf("%d parts for 2^%d", sp.parts(), logParts%9)
		}
		checkSplit(t, sp)
		if !r.Contains(key) {
			return
		}
		i := sp.index(key)
		if i < 0 || i >= sp.parts() {
			t.Fatalf("index %d of %d", i, sp.parts())
		}
		if !sp.part(i).Contains(key) {
			t.Fatalf("part %d does not contain its key", i)
		}
	})
}
