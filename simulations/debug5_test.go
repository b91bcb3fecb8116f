package simulations

import (
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestDebugJoinCorrect(t *testing.T) {
	n := 2000
	e := newEngine(1, nodeParams{succListLen: overlay.DefaultSuccListLen(n), stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, n)
	jp := overlay.Time(90 * 1000 * 11)
	bad, total := 0, 0
	shown := 0
	e.onJoin = func(i int32) {
		total++
		sn := &e.nodes[i]
		s := sn.n.Successors()
		want, w, _ := e.oracle.Successor(sn.ref.ID.AddPow2(0))
		if len(s) == 0 || s[0].ID != want {
			bad++
			if shown < 5 {
				shown++
				_, wp, _ := e.oracle.Successor(sn.ref.ID)
				_ = wp
				t.Logf("t=%d join of %s got succ %s:%s want %d:%s (want's pred %s)", e.now, sn.ref.ID, s[0].Addr, s[0].ID, w, want, e.nodes[w].n.Predecessor().Addr)
			}
		}
	}
	scheduleBuild(e, n, jp)
	e.runUntil(jp/2+200000, nil)
	t.Logf("joins %d, wrong successor at join %d", total, bad)
}
