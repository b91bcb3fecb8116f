package overlay

import (
	"encoding/binary"
	"hash/fnv"
	"runtime"
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
		if len(s.results) != 0 {
			t.Fatalf("internal lookups surfaced in Ready: %+v", s.results[0].res)
		}
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
	if t.Failed() {
		return
	}

	t.Run("recover", func(t *testing.T) {
		s.tb = t
		s.setMaintenance(true)
		r := s.truth()
		start := s.now
		if bad := s.runUntilConverged(r, cfg.SuccListLen); bad != "" {
			t.Fatalf("ring did not recover from the kill: %s", bad)
		}
		t.Logf("neighbours of the %d survivors converged in %dms", len(r.idx), s.now-start)
		st := s.runLookups(lookups/10, 1)
		if st.wrong+st.failed > 0 {
			t.Fatalf("%d wrong and %d failed lookups of %d", st.wrong, st.failed, st.n)
		}
	})
}

// TestChurnConverges joins, kills and removes nodes gracefully while the
// ring runs, then checks that it converges to the true ring.
func TestChurnConverges(t *testing.T) {
	cfg := Config{SuccListLen: 10, StabilizeJitter: 200, RPCTimeout: 500}
	s := newSimNet(t, 51, cfg)
	s.buildRing(100)
	for round := 0; round < 200; round++ {
		live := s.liveJoined()
		switch k := s.rng.IntN(3); {
		case k == 0 && len(live) > 20:
			s.kill(live[s.rng.IntN(len(live))])
		case k == 1 && len(live) > 20:
			i := live[s.rng.IntN(len(live))]
			s.nodes[i].Leave(s.now)
			s.flush(i)
			s.kill(i)
		default:
			i := s.addNode()
			s.nodes[i].Join(s.now, s.ref(live[s.rng.IntN(len(live))]))
			s.flush(i)
		}
		s.run(s.now + 100 + Time(s.rng.IntN(300)))
	}
	// Nodes still joining through dead members keep retrying; give up on
	// them so the truth is well defined.
	s.run(s.now + 10_000)
	for i, n := range s.nodes {
		if s.alive[i] && !n.Joined() {
			s.kill(i)
		}
	}
	r := s.truth()
	if bad := s.runUntilConverged(r, cfg.SuccListLen); bad != "" {
		t.Fatalf("ring of %d did not converge after churn: %s", len(r.idx), bad)
	}
	if st := s.runLookups(2000, 2); st.wrong+st.failed > 0 {
		t.Fatalf("%d wrong and %d failed lookups", st.wrong, st.failed)
	}
}

// TestLeaveClosesGap has nodes leave gracefully with maintenance frozen:
// their neighbours must close the gap from the Leave messages alone.
func TestLeaveClosesGap(t *testing.T) {
	cfg := Config{SuccListLen: 12}
	s := newSimNet(t, 11, cfg)
	s.buildRing(100)
	r := s.truth()
	if bad := s.runUntilConverged(r, cfg.SuccListLen); bad != "" {
		t.Fatal(bad)
	}
	s.setMaintenance(false)
	// Every seventh node leaves: no two leavers are neighbours.
	for p := 0; p < len(r.idx); p += 7 {
		i := r.idx[p]
		s.nodes[i].Leave(s.now)
		s.flush(i)
		s.kill(i)
	}
	s.run(s.now + 1000)
	r = s.truth()
	if len(r.idx) != 85 {
		t.Fatalf("%d nodes left in the ring, want 85", len(r.idx))
	}
	if bad := s.checkNeighbours(r, 1); bad != "" {
		t.Fatalf("gap not closed: %s", bad)
	}
	st := s.runLookups(2000, 2)
	if st.wrong+st.failed > 0 {
		t.Fatalf("%d wrong and %d failed lookups", st.wrong, st.failed)
	}
	s.setMaintenance(true)
	if bad := s.runUntilConverged(r, cfg.SuccListLen); bad != "" {
		t.Fatalf("ring did not converge after leaves: %s", bad)
	}
}

// TestKillWithSendFailed kills a quarter of the nodes, with the driver
// reporting undeliverable messages through SendFailed.
func TestKillWithSendFailed(t *testing.T) {
	s := newSimNet(t, 12, Config{SuccListLen: DefaultSuccListLen(200)})
	s.sendFail = true
	s.buildRing(200)
	if bad := s.runUntilConverged(s.truth(), 8); bad != "" {
		t.Fatal(bad)
	}
	s.setMaintenance(false)
	for _, i := range s.rng.Perm(200)[:50] {
		s.kill(i)
	}
	st := s.runLookups(2000, 1)
	if st.wrong+st.failed > 0 {
		t.Fatalf("%d wrong and %d failed lookups", st.wrong, st.failed)
	}
	if st.timeouts == 0 {
		t.Error("no failed requests counted")
	}
	t.Logf("mean hops %.3f, failed requests %.3f per lookup, mean latency %.1fms",
		st.meanHops(), float64(st.timeouts)/float64(st.n), float64(st.duration)/float64(st.n))
}

// scenarioDigest runs a small scenario and hashes everything observable.
func scenarioDigest(t *testing.T, seed uint64) uint64 {
	s := newSimNet(t, seed, Config{SuccListLen: 10, StabilizeJitter: 200})
	s.buildRing(120)
	s.run(s.now + 10_000)
	h := fnv.New64a()
	put := func(v uint64) { _ = binary.Write(h, binary.LittleEndian, v) }
	digest := func(st lookupStats) {
		put(uint64(st.hops))
		put(uint64(st.timeouts))
		for _, r := range s.results {
			put(uint64(r.node))
			h.Write(r.res.Key[:])
			put(uint64(r.res.Hops))
			put(uint64(r.res.End))
			for _, x := range r.res.Successors {
				h.Write(x.ID[:])
			}
		}
	}
	digest(s.runLookups(300, 3))
	for _, i := range s.rng.Perm(120)[:20] {
		s.kill(i)
	}
	digest(s.runLookups(300, 3))
	for i, n := range s.nodes {
		if !s.alive[i] {
			continue
		}
		st := n.Stats()
		put(st.MessagesSent)
		put(st.RPCTimeouts)
		for _, x := range n.Successors() {
			h.Write(x.ID[:])
		}
		for _, x := range n.Fingers() {
			h.Write(x.ID[:])
		}
	}
	put(uint64(s.events))
	return h.Sum64()
}

func TestDeterminism(t *testing.T) {
	a, b := scenarioDigest(t, 21), scenarioDigest(t, 21)
	if a != b {
		t.Fatalf("same seed, different runs: %x != %x", a, b)
	}
	if c := scenarioDigest(t, 22); c == a {
		t.Fatalf("different seeds, same digest %x", c)
	}
}

// installIdeal puts the nodes of s into the ring they would converge to:
// true successor lists, predecessors and fingers, maintenance scheduled.
func (s *simNet) installIdeal() *ring {
	for _, n := range s.nodes {
		n.joined, n.integrated = true, true
	}
	r := s.truth()
	for _, i := range r.idx {
		n := s.nodes[i]
		succ := make([]NodeRef, 0, n.cfg.SuccListLen)
		for k := 1; k <= n.cfg.SuccListLen && k < len(r.idx); k++ {
			succ = append(succ, s.ref(r.after(i, k)))
		}
		n.setSuccessors(s.now, succ)
		n.pred = s.ref(r.after(i, -1))
		for f := 0; f < IDBits; {
			x := s.ref(r.succOf(n.self.ID.AddPow2(f)))
			g := f + 1
			for g < IDBits && s.ref(r.succOf(n.self.ID.AddPow2(g))) == x {
				g++
			}
			n.fingers.set(f, g, x)
			f = g
		}
		n.startTimers(s.now)
		s.flush(i)
	}
	return r
}

// TestLookupHops10k checks the hop count of a stabilized ring of 10,000
// nodes with 27 successors: about 0.5 log2 N - 0.5 log2 R + 1 = 5.3.
func TestLookupHops10k(t *testing.T) {
	if testing.Short() {
		t.Skip("large ring")
	}
	const size = 10_000
	cfg := Config{SuccListLen: 27, StabilizeJitter: 100}
	s := newSimNet(t, 31, cfg)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range size {
		s.addNode()
	}
	r := s.installIdeal()
	runtime.GC()
	runtime.ReadMemStats(&after)
	installed := float64(after.HeapAlloc-before.HeapAlloc) / size
	// Let maintenance run a couple of rounds: the ring must stay as it is.
	s.run(s.now + 2500)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perNode := float64(after.HeapAlloc-before.HeapAlloc) / size
	if bad := s.checkNeighbours(r, cfg.SuccListLen); bad != "" {
		t.Fatalf("ideal ring changed: %s", bad)
	}
	if bad := s.checkFingers(r); bad != "" {
		t.Fatalf("ideal fingers changed: %s", bad)
	}
	st := s.runLookups(10_000, 10)
	if st.wrong+st.failed > 0 {
		t.Fatalf("%d wrong and %d failed lookups", st.wrong, st.failed)
	}
	t.Logf("N=%d R=%d: mean hops %.3f (max %d), mean latency %.1fms; heap per node (simulator included): %.0f bytes installed, %.0f bytes running",
		size, cfg.SuccListLen, st.meanHops(), st.maxHops, float64(st.duration)/float64(st.n), installed, perNode)
	if h := st.meanHops(); h > 5.8 {
		t.Errorf("mean hops %.3f, want at most 5.8", h)
	}
	if perNode > 20_000 {
		t.Errorf("%.0f bytes per node, want at most 20,000", perNode)
	}
}

// TestHopsGrowLogarithmically checks that hops grow by about half a hop
// per doubling of the ring.
func TestHopsGrowLogarithmically(t *testing.T) {
	var hops []float64
	for _, size := range []int{250, 1000} {
		s := newSimNet(t, 41, Config{SuccListLen: 8})
		for range size {
			s.addNode()
		}
		s.installIdeal()
		st := s.runLookups(3000, 1)
		if st.wrong+st.failed > 0 {
			t.Fatalf("N=%d: %d wrong and %d failed lookups", size, st.wrong, st.failed)
		}
		hops = append(hops, st.meanHops())
	}
	// Two doublings: about one hop more.
	if d := hops[1] - hops[0]; d < 0.6 || d > 1.4 {
		t.Errorf("hops %.3f at N=250 and %.3f at N=1000: grew by %.3f, want about 1", hops[0], hops[1], d)
	}
}
