package simulations

import (
	"fmt"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func ringCheck(e *engine) (badSucc, badPred int) {
	for _, i := range e.joined {
		sn := &e.nodes[i]
		s := sn.n.Successors()
		want, _, _ := e.oracle.Successor(sn.ref.ID.AddPow2(0))
		if len(s) == 0 || s[0].ID != want {
			badSucc++
		}
		p := sn.n.Predecessor()
		if p.IsZero() {
			badPred++
			continue
		}
		ps, _, _ := e.oracle.Successor(p.ID.AddPow2(0))
		if ps != sn.ref.ID {
			badPred++
		}
	}
	return
}

func TestDebugSlowJoin(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, 8)
	e.at(0, func() { e.create(e.addNode()) })
	for k := 1; k < 40; k++ {
		e.at(overlay.Time(k*5000), func() { e.join(e.addNode()) })
	}
	for T := int64(5000); T < 400000; T += 5000 {
		e.runUntil(overlay.Time(T)+1000, nil)
		bs, bp := ringCheck(e)
		if bs > 0 || T%50000 == 0 {
			// find bad ones
			t.Logf("t=%d joined=%d badSucc=%d badPred=%d", T, len(e.joined), bs, bp)
		}
	}
}

func TestDebugSlowJoin2(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, 8)
	e.at(0, func() { e.create(e.addNode()) })
	for k := 1; k < 40; k++ {
		e.at(overlay.Time(k*5000), func() { e.join(e.addNode()) })
	}
	e.runUntil(395000, nil)
	name := func(r overlay.NodeRef) string { return r.Addr + ":" + r.ID.String() }
	for _, i := range e.joined {
		sn := &e.nodes[i]
		s := sn.n.Successors()
		_, w, _ := e.oracle.Successor(sn.ref.ID.AddPow2(0))
		if s[0].Addr != e.nodes[w].ref.Addr {
			t.Logf("node %s succ=%s want %s (its pred %s) next deadline %d tickAt %d", name(sn.ref), name(s[0]), name(e.nodes[w].ref), name(e.nodes[w].n.Predecessor()), sn.n.NextDeadline(), sn.tickAt)
			var ss []string
			for _, x := range s {
				ss = append(ss, name(x))
			}
			t.Logf("  succs %v stats %+v", ss, sn.n.Stats())
		}
	}
}

func TestDebugSlowJoin3(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, 8)
	e.at(0, func() { e.create(e.addNode()) })
	for k := 1; k < 40; k++ {
		e.at(overlay.Time(k*5000), func() { e.join(e.addNode()) })
	}
	name := func(r overlay.NodeRef) string { return r.Addr + ":" + r.ID.String() }
	for T := overlay.Time(300000); T < 400000; T += 10000 {
		e.runUntil(T, nil)
		for _, i := range []int{35, 3, 21, 10, 17} {
			sn := &e.nodes[i]
			t.Logf("t=%d %s pred=%s succ=%s", T, name(sn.ref), name(sn.n.Predecessor()), name(sn.n.Successors()[0]))
		}
	}
}

func TestDebugSlowJoin4(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, 8)
	e.at(0, func() { e.create(e.addNode()) })
	for k := 1; k < 40; k++ {
		e.at(overlay.Time(k*5000), func() { e.join(e.addNode()) })
	}
	name := func(r overlay.NodeRef) string { return r.Addr + ":" + r.ID.String() }
	last := ""
	for T := overlay.Time(15000); T < 300000; T += 1 {
		e.runUntil(T, nil)
		sn := &e.nodes[3]
		var ss []string
		for _, x := range sn.n.Successors() {
			ss = append(ss, name(x))
		}
		_, w, _ := e.oracle.Successor(sn.ref.ID.AddPow2(0))
		cur := fmt.Sprintf("pred=%s succs=%v want=%s", name(sn.n.Predecessor()), ss, name(e.nodes[w].ref))
		if cur != last {
			t.Logf("t=%d %s", T, cur)
			last = cur
		}
	}
}
