package node

import "testing"

func TestBufClasses(t *testing.T) {
	tests := []struct {
		n       int
		pooled  bool
		wantCap int
	}{
		{n: 0},
		{n: poolMin - 1},
		{n: poolMin, pooled: true, wantCap: poolMin},
		{n: poolMin + 1, pooled: true, wantCap: poolMin + poolMin/4},
		{n: 1 << 20, pooled: true, wantCap: 1 << 20},
		{n: 1<<20 + 1, pooled: true, wantCap: 1<<20 + 1<<18},
		{n: 3<<20 + 5, pooled: true, wantCap: 3<<20 + 1<<19},
		{n: poolMax, pooled: true, wantCap: poolMax},
		{n: poolMax + 1},
	}
	for _, tt := range tests {
		b := getBuf(tt.n)
		if len(b) != tt.n {
			t.Errorf("getBuf(%d) has length %d", tt.n, len(b))
		}
		if tt.pooled {
			if cap(b) != tt.wantCap {
				t.Errorf("getBuf(%d) has capacity %d, want %d", tt.n, cap(b), tt.wantCap)
			}
			if cap(b) > tt.n+tt.n/4+1 {
				t.Errorf("getBuf(%d) wastes %d bytes, more than a quarter", tt.n, cap(b)-tt.n)
			}
		} else if cap(b) != tt.n {
			t.Errorf("getBuf(%d) has capacity %d, want exactly %d (not pooled)", tt.n, cap(b), tt.n)
		}
	}
}

// TestBufRecycled: a buffer put back is handed out again for a size of
// its class, and buffers of foreign capacities are not taken in.
func TestBufRecycled(t *testing.T) {
	b := getBuf(1 << 20)
	b[0] = 42
	putBuf(b)
	// sync.Pool may drop items at any time (a GC in between); retry a few
	// times, which in practice gets the buffer back at once.
	found := false
	for range 10 {
		c := getBuf(1<<20 - 100)
		if &c[:1][0] == &b[:1][0] {
			found = true
			break
		}
		putBuf(c)
	}
	if !found {
		t.Error("a recycled buffer was never handed out again")
	}
	foreign := make([]byte, 1<<20+3)
	putBuf(foreign) // not a class capacity: must be ignored
	for range 10 {
		c := getBuf(1<<20 + 3)
		if cap(c) == cap(foreign) {
			t.Fatalf("a buffer of foreign capacity %d entered the pool", cap(foreign))
		}
	}
}
