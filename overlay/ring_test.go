package overlay

import (
	"testing"
)

// ringSize returns the ring size of the large tests: 1,000, or 200 with
// -short (use -short with -race).
func ringSize() (nodes, lookups int) {
	if testing.Short() {
		return 200, 2000
	}
	return 1000, 10_000
}

// TestRing builds a ring by joins, checks it converges to the true ring,
// runs lookups on it, and then runs lookups with a quarter of the nodes
// dead and maintenance frozen.
func TestRing(t *testing.T) {
	size, lookups := ringSize()
	cfg := Config{SuccListLen: DefaultSuccListLen(size), StabilizeJitter: 100}
	s := newSimNet(t, 1, cfg)

	t.Run("join", func(t *testing.T) {
		s.tb = t
		s.buildRing(size)
		joinedAt := s.now
		r := s.truth()
		if len(r.idx) != size {
			t.Fatalf("%d nodes joined, want %d", len(r.idx), size)
		}
		var bad string
		ok := s.runChecked(s.now+300_000, 1000, func() bool {
			bad = s.checkNeighbours(r, cfg.SuccListLen)
			return bad == ""
		})
		if !ok {
			t.Fatalf("ring did not converge: %s", bad)
		}
		t.Logf("%d nodes joined by t=%dms, neighbours converged %dms later; %d events", size, joinedAt, s.now-joinedAt, s.events)
		convergedAt := s.now
		ok = s.runChecked(s.now+300_000, 1000, func() bool {
			bad = s.checkFingers(r)
			return bad == ""
		})
		if !ok {
			t.Fatalf("fingers did not converge: %s", bad)
		}
		t.Logf("fingers converged %dms later", s.now-convergedAt)
		if bad := s.checkNeighbours(r, cfg.SuccListLen); bad != "" {
			t.Fatalf("ring diverged: %s", bad)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("lookups", func(t *testing.T) {
		s.tb = t
		st := s.runLookups(lookups, 1)
		if st.wrong+st.failed > 0 {
			t.Fatalf("%d wrong and %d failed lookups of %d", st.wrong, st.failed, st.n)
		}
		t.Logf("N=%d R=%d: %d lookups, mean hops %.3f (max %d), mean latency %.1fms, timeouts %d",
			size, cfg.SuccListLen, st.n, st.meanHops(), st.maxHops, float64(st.duration)/float64(st.n), st.timeouts)
		if testing.Verbose() {
			println("overlay: mean hops", size, "nodes:", st.meanHops())
		}
	})
	if t.Failed() {
		return
	}

	t.Run("kill25", func(t *testing.T) {
		s.tb = t
		s.setMaintenance(false)
		perm := s.rng.Perm(size)
		for _, i := range perm[:size/4] {
			s.kill(i)
		}
		st := s.runLookups(lookups, 1)
		if st.wrong+st.failed > 0 {
			t.Fatalf("%d wrong and %d failed lookups of %d", st.wrong, st.failed, st.n)
		}
		t.Logf("N=%d, %d killed, maintenance frozen: %d lookups, mean hops %.3f (max %d), mean latency %.1fms, timeouts %.3f per lookup",
			size, size/4, st.n, st.meanHops(), st.maxHops, float64(st.duration)/float64(st.n), float64(st.timeouts)/float64(st.n))
	})
}
