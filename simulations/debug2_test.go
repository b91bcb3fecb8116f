package simulations

import (
	"testing"
)

func TestDebugTiny(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, 8)
	e.at(0, func() { e.create(e.addNode()) })
	e.at(1000, func() { e.join(e.addNode()) })
	e.at(2000, func() { e.join(e.addNode()) })
	e.at(3000, func() { e.join(e.addNode()) })
	for _, T := range []int64{5000, 60000, 120000, 240000} {
		e.runUntil(overlayTime(T), nil)
		for _, i := range e.alive {
			sn := &e.nodes[i]
			var ss []string
			for _, s := range sn.n.Successors() {
				ss = append(ss, s.Addr)
			}
			t.Logf("t=%d node %d id=%s joined=%v pred=%q succ=%v", T, i, sn.ref.ID, sn.n.Joined(), sn.n.Predecessor().Addr, ss)
		}
	}
}
