package node

import (
	"slices"
	"testing"
	"time"
)

// TestRankLoad: a peer is ranked by its measured throughput once it has
// delivered measureBytes, by what it delivered so far (at least
// minRankBandwidth) once it has been busy unmeasuredWait, and optimistically
// before that.
func TestRankLoad(t *testing.T) {
	tests := []struct {
		name        string
		moved       int64
		busy        time.Duration
		want        float64
		provisional bool
	}{
		{"measured", 8 << 20, time.Second, float64(8<<20) / 1, false},
		{"too new to tell", 1 << 20, unmeasuredWait / 2, priorBandwidth, false},
		{"slow so far", 1 << 20, 2 * unmeasuredWait, float64(1<<20) / (2 * unmeasuredWait).Seconds(), true},
		{"nothing delivered", 0, 2 * unmeasuredWait, minRankBandwidth, true},
	}
	for _, tt := range tests {
		pp := &peerPipe{moved: tt.moved, busy: tt.busy, queuedBytes: 123}
		pending, bw, provisional := pp.rankLoad()
		if pending != 123 {
			t.Errorf("%s: pending = %d, want 123", tt.name, pending)
		}
		if bw != tt.want || provisional != tt.provisional {
			t.Errorf("%s: bandwidth = %.0f (provisional %v), want %.0f (%v)", tt.name, bw, provisional, tt.want, tt.provisional)
		}
	}
}

// TestLiftProvisional: provisional figures rise to the best of them;
// measured and prior ones stay.
func TestLiftProvisional(t *testing.T) {
	tests := []struct {
		name        string
		bws         []float64
		provisional []bool
		want        []float64
	}{
		{"none", []float64{5, 9}, []bool{false, false}, []float64{5, 9}},
		{"all ramping", []float64{4.4, 1.4, 1.0}, []bool{true, true, true}, []float64{4.4, 4.4, 4.4}},
		{"measured one untouched", []float64{20, 1, 3}, []bool{false, true, true}, []float64{20, 3, 3}},
		{"prior untouched", []float64{priorBandwidth, 2}, []bool{false, true}, []float64{priorBandwidth, 2}},
		{"empty", nil, nil, nil},
	}
	for _, tt := range tests {
		bws := slices.Clone(tt.bws)
		liftProvisional(bws, tt.provisional)
		if !slices.Equal(bws, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, bws, tt.want)
		}
	}
}
