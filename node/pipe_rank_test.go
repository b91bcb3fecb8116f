package node

import (
	"testing"
	"time"
)

// TestRankLoad: a peer is ranked by its measured throughput once it has
// delivered measureBytes, by what it delivered so far (at least
// minRankBandwidth) once it has been busy unmeasuredWait, and optimistically
// before that.
func TestRankLoad(t *testing.T) {
	tests := []struct {
		name  string
		moved int64
		busy  time.Duration
		want  float64
	}{
		{"measured", 8 << 20, time.Second, float64(8<<20) / 1},
		{"too new to tell", 1 << 20, unmeasuredWait / 2, priorBandwidth},
		{"slow so far", 1 << 20, 2 * unmeasuredWait, float64(1<<20) / (2 * unmeasuredWait).Seconds()},
		{"nothing delivered", 0, 2 * unmeasuredWait, minRankBandwidth},
	}
	for _, tt := range tests {
		pp := &peerPipe{moved: tt.moved, busy: tt.busy, queuedBytes: 123}
		pending, bw := pp.rankLoad()
		if pending != 123 {
			t.Errorf("%s: pending = %d, want 123", tt.name, pending)
		}
		if bw != tt.want {
			t.Errorf("%s: bandwidth = %.0f, want %.0f", tt.name, bw, tt.want)
		}
	}
}
