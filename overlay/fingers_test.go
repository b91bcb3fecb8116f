package overlay

import (
	"math/rand/v2"
	"testing"
)

func TestFingerTable(t *testing.T) {
	a, b, c := sampleRef(1), sampleRef(2), sampleRef(3)
	var ft fingerTable
	ft.reset()
	steps := []struct {
		lo, hi int
		r      NodeRef
		runs   int
	}{
		{0, 256, a, 1},
		{10, 20, b, 3},
		{20, 30, b, 3},   // extends b's run
		{0, 10, b, 2},    // b from 0 to 30
		{100, 256, c, 3}, // b, a, c
		{30, 100, c, 2},  // b, c
		{0, 256, NodeRef{}, 1},
	}
	for _, s := range steps {
		ft.set(s.lo, s.hi, s.r)
		for i := s.lo; i < s.hi; i++ {
			if ft.get(i) != s.r {
				t.Fatalf("after set(%d, %d): finger %d is %v", s.lo, s.hi, i, ft.get(i))
			}
		}
		if len(ft.runs) != s.runs {
			t.Errorf("after set(%d, %d): %d runs, want %d", s.lo, s.hi, len(ft.runs), s.runs)
		}
	}
	ft.set(0, 128, a)
	ft.set(128, 256, b)
	ft.drop(a.ID)
	if !ft.get(0).IsZero() || ft.get(200) != b || !ft.unset() {
		t.Errorf("drop: %v %v", ft.get(0), ft.get(200))
	}
	if got := ft.appendDistinct(nil, c.ID); len(got) != 1 || got[0] != b {
		t.Errorf("appendDistinct = %v", got)
	}
	if got := ft.appendDistinct(nil, b.ID); len(got) != 0 {
		t.Errorf("appendDistinct without self = %v", got)
	}
}

// TestFingerTableModel checks the run-length table against a plain array
// under random updates.
func TestFingerTableModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	refs := []NodeRef{{}, sampleRef(1), sampleRef(2), sampleRef(3)}
	var ft fingerTable
	ft.reset()
	var model [IDBits]NodeRef
	for step := 0; step < 5000; step++ {
		if rng.IntN(10) == 0 {
			r := refs[1+rng.IntN(3)]
			ft.drop(r.ID)
			for i := range model {
				if model[i] == r {
					model[i] = NodeRef{}
				}
			}
		} else {
			lo := rng.IntN(IDBits)
			hi := lo + 1 + rng.IntN(IDBits-lo)
			r := refs[rng.IntN(len(refs))]
			ft.set(lo, hi, r)
			for i := lo; i < hi; i++ {
				model[i] = r
			}
		}
		for i := range model {
			if ft.get(i) != model[i] {
				t.Fatalf("step %d: finger %d is %v, want %v", step, i, ft.get(i), model[i])
			}
		}
		for k := 1; k < len(ft.runs); k++ {
			if ft.runs[k].lo <= ft.runs[k-1].lo || ft.runs[k].node == ft.runs[k-1].node {
				t.Fatalf("step %d: runs not normal: %v", step, ft.runs)
			}
		}
		if ft.runs[0].lo != 0 {
			t.Fatalf("step %d: first run starts at %d", step, ft.runs[0].lo)
		}
	}
}
