package simulations

import (
	"math"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestMetricsPopulationIntegral(t *testing.T) {
	m := newMetrics(1000)
	m.maintFrom, m.maintTo = 500, 2500
	m.setLive(0, 10, true)
	m.setLive(1500, 20, true)
	m.setLive(2200, 5, false)
	m.advance(3000)
	want := []float64{10 * 1000, 10*500 + 20*500, 20*200 + 5*800}
	if len(m.series) != 3 {
		t.Fatalf("series has %d buckets, want 3", len(m.series))
	}
	for i, w := range want {
		if m.series[i].NodeMS != w {
			t.Errorf("bucket %d NodeMS = %v, want %v", i, m.series[i].NodeMS, w)
		}
	}
	if got := [3]int{m.series[0].Live, m.series[1].Live, m.series[2].Live}; got != [3]int{10, 20, 5} {
		t.Errorf("Live = %v", got)
	}
	// Window [500,2500): 10*1000 + 20*700 + 5*300.
	if w := float64(10*1000 + 20*700 + 5*300); m.windowNodeMS != w {
		t.Errorf("windowNodeMS = %v, want %v", m.windowNodeMS, w)
	}
}

func TestMetricsLookupQuantiles(t *testing.T) {
	m := newMetrics(1000)
	// 100 answered lookups: hops 1..100 (one each), latency 10*hops.
	for h := 1; h <= 100; h++ {
		m.lookupDone(overlay.Time(h), outCorrect, h, 0, overlay.Time(10*h))
	}
	m.lookupDone(5, outFailed, 0, 3, 0)
	m.lookupDone(5, outWrong, 4, 0, 40)
	tests := []struct {
		q    float64
		want int
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.01, 2}, {0.001, 1}}
	for _, tc := range tests {
		if got := m.hopQuantile(tc.q); got != tc.want {
			t.Errorf("hopQuantile(%v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if m.answered != 101 || m.failed != 1 || m.wrong != 1 || m.timeoutSum != 3 {
		t.Errorf("counts answered=%d failed=%d wrong=%d timeouts=%d", m.answered, m.failed, m.wrong, m.timeoutSum)
	}
	if got, want := m.meanLatency(), (float64(10*5050)+40)/101; math.Abs(got-want) > 1e-9 {
		t.Errorf("meanLatency = %v, want %v", got, want)
	}
	if got := m.latencyQuantile(0.5); got != 500 {
		t.Errorf("latency p50 = %v, want 500", got)
	}
	b := m.series[0]
	if b.Lookups != 102 || b.Failed != 1 || b.Wrong != 1 {
		t.Errorf("bucket lookups=%d failed=%d wrong=%d", b.Lookups, b.Failed, b.Wrong)
	}
}

func TestMetricsTraffic(t *testing.T) {
	m := newMetrics(1000)
	m.maintFrom, m.maintTo = 1000, 2000
	m.sent(500, false, 100)
	m.sent(1500, false, 70)
	m.sent(1600, true, 30)
	m.sent(2500, false, 1)
	m.sent(2600, true, 5)
	if m.maintMsgs != 1 || m.maintBytes != 70 || m.lookupMsgs != 2 || m.lookupB != 35 {
		t.Errorf("window maint %d/%d lookup %d/%d", m.maintMsgs, m.maintBytes, m.lookupMsgs, m.lookupB)
	}
	if m.series[0].MaintBytes != 100 || m.series[1].MaintBytes != 70 || m.series[1].LookupBytes != 30 || m.series[2].MaintMsgs != 1 {
		t.Errorf("series traffic wrong: %+v", m.series)
	}
}
