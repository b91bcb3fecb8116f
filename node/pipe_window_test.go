package node

import (
	"testing"
	"time"
)

func TestInflightWindow(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name string
		bw   float64
		rtt  time.Duration
		req  float64
		want int
	}{
		{"not measured", 0, time.Millisecond, mib, pipeWindow},
		{"no round trip yet", 20e6, 0, mib, pipeWindow},
		{"no request size", 20e6, time.Millisecond, 0, pipeWindow},
		{"20 MB/s on loopback", 20e6, time.Millisecond, mib, 3},
		{"20 MB/s across 150 ms", 20e6, 150 * time.Millisecond, mib, 6},
		{"slow link floors at the minimum", 1e6, time.Millisecond, mib, minPipeWindow},
		{"fast loopback capped", 800e6, 300 * time.Microsecond, mib, pipeWindow},
		{"small batched requests", 20e6, time.Millisecond, 64 << 10, pipeWindow},
	}
	for _, tt := range tests {
		if got := inflightWindow(tt.bw, tt.rtt, tt.req); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestInflightWindowGrowsWhenSelfLimited: when the measured throughput is
// only what the window itself carries per round trip, the next window is
// larger, up to pipeWindow.
func TestInflightWindowGrowsWhenSelfLimited(t *testing.T) {
	const req = 1 << 20
	rtt := 50 * time.Millisecond
	w := minPipeWindow
	for range 10 {
		bw := float64(w*req) / rtt.Seconds()
		next := inflightWindow(bw, rtt, req)
		if next < w || next == w && w < pipeWindow {
			t.Fatalf("window %d measured at %.0f B/s gave %d", w, bw, next)
		}
		w = next
	}
	if w != pipeWindow {
		t.Fatalf("window settled at %d, want %d", w, pipeWindow)
	}
}
