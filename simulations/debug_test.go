package simulations

import (
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestDebugMassfail(t *testing.T) {
	cfg := Config{Scenario: ScenarioMassFail, Nodes: 400, SuccListLen: 20, FailFraction: 0.5, Seed: 3,
		Warmup: 300000, Lookups: 2000}.withDefaults()
	e := newEngine(cfg.Seed, nodeParams{succListLen: cfg.SuccListLen, stabilize: cfg.Stabilize,
		jitter: cfg.StabilizeJitter, rpcTimeout: cfg.RPCTimeout, lookupTimeout: cfg.LookupTimeout}, cfg.Net, cfg.Bucket, cfg.Nodes)
	e.onFail = func(i int32, r *overlay.LookupResult) {
		t.Logf("node %d key %s failed: %v hops %d timeouts %d dur %d", i, r.Key, r.Err, r.Hops, r.Timeouts, r.End-r.Start)
	}
	scheduleBuild(e, cfg.Nodes, cfg.JoinPhase)
	b := cfg.JoinPhase + cfg.Warmup
	e.at(b, func() { e.freeze(); failFraction(e, 0.5) })
	scheduleEvenLookups(e, b, cfg.LookupWindow, cfg.Lookups)
	e.runUntil(b+cfg.LookupWindow+10000, nil)
}
