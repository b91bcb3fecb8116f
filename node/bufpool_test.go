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
		{n: poolMin + 1, pooled: true, wantCap: poolMin + poolMin/8},
		{n: 1 << 20, pooled: true, wantCap: 1 << 20},
		{n: 1<<20 + 1, pooled: true, wantCap: 1<<20 + 1<<17},
		{n: 3<<20 + 5, pooled: true, wantCap: 3<<20 + 1<<18},
		{n: poolMax, pooled: true, wantCap: poolMax},
		{n: poolMax + 1},
	}
	drainBufPool() // new buffers only
	for _, tt := range tests {
		b := getBuf(tt.n)
		if len(b) != tt.n {
			t.Errorf("getBuf(%d) has length %d", tt.n, len(b))
		}
		if tt.pooled {
			if cap(b) != tt.wantCap {
				t.Errorf("getBuf(%d) has capacity %d, want %d", tt.n, cap(b), tt.wantCap)
			}
			if cap(b) > tt.n+tt.n/8+1 {
				t.Errorf("getBuf(%d) wastes %d bytes, more than an eighth", tt.n, cap(b)-tt.n)
			}
		} else if cap(b) != tt.n {
			t.Errorf("getBuf(%d) has capacity %d, want exactly %d (not pooled)", tt.n, cap(b), tt.n)
		}
	}
}

// TestBufRecycled: a buffer put back is handed out again for a size of
// its class, and buffers of foreign capacities are not taken in.
func TestBufRecycled(t *testing.T) {
	drainBufPool()
	b := getBuf(1 << 20)
	b[0] = 42
	putBuf(b)
	if c := getBuf(1<<20 - 100); &c[:1][0] != &b[:1][0] {
		t.Error("a recycled buffer was not handed out again")
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

// TestBufReuseLarger: a request takes an idle buffer of a larger class
// when it is less than twice its own class, the smallest that is there,
// and leaves alone one of twice its class or more.
func TestBufReuseLarger(t *testing.T) {
	drainBufPool()
	defer drainBufPool()
	const n = 1 << 20 // a class of its own
	i := bufClass(n)
	near := make([]byte, bufClasses[i+3])
	nearer := make([]byte, bufClasses[i+1])
	far := make([]byte, bufClasses[i+reuseSpan]) // twice n
	for _, b := range [][]byte{far, near, nearer} {
		putBuf(b)
	}
	for _, want := range [][]byte{nearer, near} {
		got := getBuf(n)
		if len(got) != n {
			t.Fatalf("getBuf(%d) has length %d", n, len(got))
		}
		if &got[:1][0] != &want[:1][0] {
			t.Fatalf("getBuf(%d) took a buffer of capacity %d, want the idle one of %d", n, cap(got), cap(want))
		}
	}
	if got := getBuf(n); cap(got) != n {
		t.Errorf("getBuf(%d) took capacity %d, want a new buffer of %d (the idle one of %d is twice too large)", n, cap(got), n, cap(far))
	}
	if got := getBuf(2 * n); &got[:1][0] != &far[:1][0] {
		t.Errorf("getBuf(%d) did not take the idle buffer of its own class", 2*n)
	}
}

// TestBufPoolBounded: idle buffers never add up to more than poolBytes.
func TestBufPoolBounded(t *testing.T) {
	drainBufPool()
	var held [][]byte
	for range 2 * poolBytes / (1 << 20) {
		held = append(held, getBuf(1<<20))
	}
	for _, b := range held {
		putBuf(b)
	}
	if idle := bufIdle.Load(); idle > poolBytes || idle < poolBytes/2 {
		t.Errorf("%d bytes idle after returning %d MiB, want at most %d and most of it", idle, len(held), poolBytes)
	}
	// Drain, so other tests start from an empty pool.
	for range held {
		getBuf(1 << 20)
	}
	if idle := bufIdle.Load(); idle != 0 {
		t.Errorf("%d bytes idle after taking everything back", idle)
	}
}

// drainBufPool empties the pool, which earlier tests may have filled.
func drainBufPool() {
	for _, ch := range bufFree {
		for len(ch) > 0 {
			b := <-ch
			bufIdle.Add(-int64(cap(b)))
		}
	}
}
