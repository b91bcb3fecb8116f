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
		{"measured", 8 << 20, time.Second, float64(6<<20) / 0.5, false},
		{"too new to tell", 1 << 20, unmeasuredWait / 2, priorBandwidth, false},
		{"slow so far", 1 << 20, 2 * unmeasuredWait, float64(1<<20) / (2 * unmeasuredWait).Seconds(), true},
		{"nothing delivered", 0, 2 * unmeasuredWait, minRankBandwidth, true},
	}
	for _, tt := range tests {
		pp := &peerPipe{moved: tt.moved, busy: tt.busy, queuedBytes: 123}
		if tt.name == "measured" {
			pp.flowMoved, pp.flow = 6<<20, time.Second/2
		}
		pending, bw, provisional := pp.rankLoad()
		if pending != 123 {
			t.Errorf("%s: pending = %d, want 123", tt.name, pending)
		}
		if bw != tt.want || provisional != tt.provisional {
			t.Errorf("%s: bandwidth = %.0f (provisional %v), want %.0f (%v)", tt.name, bw, provisional, tt.want, tt.provisional)
		}
	}
}

// TestMeasuredLeavesOutStart: the throughput estimate counts neither the
// time before a busy period's first completed request nor that request's
// bytes, and a period with a single request adds nothing to it.
func TestMeasuredLeavesOutStart(t *testing.T) {
	const mib = 1 << 20
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	pp := &peerPipe{inflight: 16, busySince: t0}
	done := func(at int, bytes int64) {
		pp.inflight--
		pp.noteDoneLocked(bytes, ms(at))
	}
	done(42, mib) // the start: a round trip, a new stream, windows growing
	for _, at := range []int{45, 48, 51} {
		done(at, mib)
	}
	if bw := pp.statsAtLocked(ms(51)).measured(); bw != 0 {
		t.Fatalf("measured %.0f B/s after 3 MiB past the first request, want 0 (unmeasured)", bw)
	}
	done(54, mib)
	st := pp.statsAtLocked(ms(54))
	if want := float64(4*mib) / 0.012; st.measured() != want {
		t.Fatalf("measured %.0f B/s, want %.0f (4 MiB in the 12 ms after the first request)", st.measured(), want)
	}
	if cumulative := float64(st.moved) / st.busy.Seconds(); cumulative > st.measured()/3 {
		t.Fatalf("the cumulative rate %.0f should be far below the estimate here", cumulative)
	}
	// The period ends at 60 ms; a later one with a single request leaves
	// the estimate alone.
	for pp.inflight > 1 {
		done(57, 0)
	}
	done(60, 0)
	before := pp.statsAtLocked(ms(60)).measured()
	pp.inflight, pp.busySince = 1, ms(1000)
	done(1400, 8*mib)
	if after := pp.statsAtLocked(ms(1400)).measured(); after != before {
		t.Fatalf("a one-request period changed the estimate from %.0f to %.0f", before, after)
	}
	if want := float64(4*mib) / 0.018; before != want {
		t.Fatalf("estimate after the period %.0f, want %.0f (4 MiB in 18 ms)", before, want)
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
