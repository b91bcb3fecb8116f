package node

import (
	"context"
	"encoding/binary"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/overlay"
)

// shares returns, for each node of a ring, the fraction of the key space
// whose replica set of r includes it: the r arcs ending at it and its
// r-1 predecessors.
func shares(ids []overlay.ID, r int) []float64 {
	sorted := append([]overlay.ID(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Cmp(sorted[j]) < 0 })
	n := len(sorted)
	arc := make([]float64, n) // arc[i]: the keys node i is the successor of
	for i := range sorted {
		d := overlay.Distance(sorted[(i-1+n)%n], sorted[i])
		arc[i] = float64(binary.BigEndian.Uint64(d[:8])) / math.Exp2(64)
	}
	out := make([]float64, n)
	for i := range sorted {
		for k := range min(r, n) {
			out[i] += arc[(i+k)%n]
		}
	}
	return out
}

func spread(s []float64) (lo, hi float64) {
	mean := 0.0
	for _, v := range s {
		mean += v
	}
	mean /= float64(len(s))
	lo, hi = math.Inf(1), 0
	for _, v := range s {
		lo, hi = min(lo, v/mean), max(hi, v/mean)
	}
	return lo, hi
}

// TestBalancedPlacement starts nodes one after another, each joining
// through the first, and checks that what each would store at r=3 is
// within 2x of the mean: the balance criterion, met by the place
// new nodes choose rather than by the test.
func TestBalancedPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 12 nodes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes, err := StartLocalRing(ctx, t.TempDir(), 12, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	}()
	ids := make([]overlay.ID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.self.ID
	}
	for _, r := range []int{1, 3} {
		lo, hi := spread(shares(ids, r))
		t.Logf("r=%d: shares from %.2f to %.2f of the mean", r, lo, hi)
		if r == 3 && (lo < 0.5 || hi > 2) {
			t.Errorf("r=3 shares from %.2f to %.2f of the mean, want within 2x", lo, hi)
		}
	}
}

func TestGrindKeyLandsInTheArc(t *testing.T) {
	var from overlay.ID
	from[0] = 0x40
	arc := overlay.Arc{From: from, Width: 1 << 61} // an eighth of the ring
	priv, tries, err := grindKey(arc, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !arc.MiddleThird(refOf(id).ID) {
		t.Fatalf("after %d tries the key's ring ID %s is not in the middle third of the arc", tries, refOf(id).ID)
	}
}

func TestCutArc(t *testing.T) {
	id := func(b byte) overlay.ID { return overlay.ID{b} }
	runs := [][]overlay.ID{{id(1), id(2), id(5)}, {id(2), id(5), id(6), id(2), id(5)}, {id(7)}}
	got := cutArc(runs, id(2), id(5))
	want := [][]overlay.ID{{id(1), id(2)}, {id(5)}, {id(2)}, {id(5), id(6), id(2)}, {id(5)}, {id(7)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cutArc = %v, want %v", got, want)
	}
	if _, _, ok := overlay.WidestArcAt(got); !ok {
		t.Fatal("no arc left")
	}
}
