package simulations

import (
	"math/rand/v2"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestNetworkLatency(t *testing.T) {
	n := newNetwork(NetConfig{})
	tests := []struct {
		name string
		a, b point
		want overlay.Time
	}{
		{"same point", point{0, 0}, point{0, 0}, 5},
		{"3-4-5", point{0, 0}, point{3, 4}, 10},
		{"symmetric", point{3, 4}, point{0, 0}, 10},
		{"far", point{-60, 0}, point{60, 0}, 125},
	}
	for _, tc := range tests {
		if got := n.latency(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: latency = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNetworkPlacementRange(t *testing.T) {
	n := newNetwork(NetConfig{})
	rng := rand.New(rand.NewPCG(3, 4))
	var pts []point
	for i := 0; i < 2000; i++ {
		pts = append(pts, n.place(rng))
	}
	var sum, maxL overlay.Time
	cnt := 0
	for i := 0; i < len(pts); i += 7 {
		for j := 1; j < len(pts); j += 13 {
			l := n.latency(pts[i], pts[j])
			sum += l
			cnt++
			maxL = max(maxL, l)
		}
	}
	mean := float64(sum) / float64(cnt)
	// Five regions on a circle 120 ms across: the mean one-way latency
	// should be in the tens of milliseconds, the maximum below ~200 ms.
	if mean < 40 || mean > 120 {
		t.Errorf("mean latency %.1f ms out of the expected range", mean)
	}
	if maxL > 200 {
		t.Errorf("max latency %d ms too large", maxL)
	}
}

func TestNetworkLoss(t *testing.T) {
	src := rand.NewPCG(5, 6)
	rng := rand.New(src)
	none := newNetwork(NetConfig{})
	before := *src
	for i := 0; i < 100; i++ {
		if none.lost(rng) {
			t.Fatal("loss-free network lost a message")
		}
	}
	if *src != before {
		t.Error("loss-free network consumed randomness")
	}
	some := newNetwork(NetConfig{Loss: 0.1})
	lost := 0
	for i := 0; i < 100000; i++ {
		if some.lost(rng) {
			lost++
		}
	}
	if lost < 9000 || lost > 11000 {
		t.Errorf("lost %d of 100000 at 10%%", lost)
	}
}
