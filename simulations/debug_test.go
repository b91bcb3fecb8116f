package simulations

import (
	"github.com/chorus-data/chorus/overlay"
	"testing"
)

func TestDebugRing(t *testing.T) {
	cfg := Config{Scenario: ScenarioStable, Nodes: 300, Seed: 1, Duration: 300000, Lookups: 100}.withDefaults()
	e := newEngine(cfg.Seed, nodeParams{succListLen: cfg.SuccListLen, stabilize: cfg.Stabilize, jitter: cfg.StabilizeJitter, rpcTimeout: cfg.RPCTimeout}, cfg.Net, cfg.Bucket, cfg.Nodes)
	scheduleBuild(e, cfg.Nodes, cfg.JoinPhase)
	for _, T := range []int64{60000, 120000, 240000, 400000} {
		if err := e.runUntil(overlayTime(T), nil); err != nil {
			t.Fatal(err)
		}
		badSucc, badPred := 0, 0
		for _, i := range e.joined {
			sn := &e.nodes[i]
			s := sn.n.Successors()
			next := sn.ref.ID.AddPow2(0)
			want, _, _ := e.oracle.Successor(next)
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
		// Follow successor pointers from node 0.
		cur := e.joined[0]
		steps, wraps := 0, 0
		seen := map[int32]bool{}
		for !seen[cur] && steps < 10000 {
			seen[cur] = true
			s := e.nodes[cur].n.Successors()
			if len(s) == 0 {
				break
			}
			nx, _ := parseAddr(s[0].Addr)
			if e.nodes[nx].ref.ID.Cmp(e.nodes[cur].ref.ID) <= 0 {
				wraps++
			}
			cur = nx
			steps++
		}
		t.Logf("cycle: steps=%d wraps=%d", steps, wraps)
		var st overlay.Stats
		for _, i := range e.joined {
			x := e.nodes[i].n.Stats()
			st.MessagesSent += x.MessagesSent
			st.RPCTimeouts += x.RPCTimeouts
			st.SendFailures += x.SendFailures
			st.InternalLookups += x.InternalLookups
		}
		t.Logf("stats %+v events=%d", st, e.events)
		t.Logf("t=%ds alive=%d joined=%d badSucc=%d badPred=%d", T/1000, len(e.alive), len(e.joined), badSucc, badPred)
	}
}

func overlayTime(ms int64) overlay.Time { return overlay.Time(ms) }
