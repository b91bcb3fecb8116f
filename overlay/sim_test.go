package overlay

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// This file holds simNet, a deterministic in-memory network that drives
// Nodes for the tests: one event queue ordered by (time, sequence), a fixed
// seeded latency per pair of nodes, no goroutines and no sleeping.

// simEvent is a message delivery, a timer or a lookup start.
type simEvent struct {
	kind uint8
	node int32
	msg  Message // delivery: the message; lookup: Key
}

const (
	evDeliver uint8 = iota
	evTimer
	evLookup
)

// heapEntry orders events; slot indexes simNet.slab.
type heapEntry struct {
	at   Time
	seq  uint64
	slot int32
}

// simResult is a finished user lookup and the node that ran it.
type simResult struct {
	node int
	res  LookupResult
}

// simNet is the simulated network.
type simNet struct {
	tb   testing.TB
	seed uint64
	rng  *rand.Rand
	now  Time
	cfg  Config // template for new nodes; Self and Rand are set per node

	nodes   []*Node
	alive   []bool
	timerAt []Time

	heap []heapEntry
	slab []simEvent
	free []int32
	seq  uint64

	outbox    []Message
	lookupBuf []LookupResult

	sendFail bool // report messages to dead nodes with SendFailed
	results  []simResult
	events   int
}

func newSimNet(tb testing.TB, seed uint64, cfg Config) *simNet {
	return &simNet{
		tb:   tb,
		seed: seed,
		rng:  rand.New(rand.NewPCG(seed, 0x5eed)),
		cfg:  cfg,
	}
}

// addNode creates a node (not yet in the ring) and returns its index.
func (s *simNet) addNode() int {
	i := len(s.nodes)
	addr := fmt.Sprintf("n%d", i)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	cfg := s.cfg
	cfg.Self = NodeRef{ID: HashID(b[:]), Addr: addr}
	cfg.Rand = rand.New(rand.NewPCG(s.seed, uint64(i)+1))
	s.nodes = append(s.nodes, NewNode(cfg))
	s.alive = append(s.alive, true)
	s.timerAt = append(s.timerAt, Never)
	return i
}

func (s *simNet) ref(i int) NodeRef { return s.nodes[i].Self() }

// latency is the fixed one-way delay between a and b: 10 to 99 ms.
func (s *simNet) latency(a, b int) Time {
	if a > b {
		a, b = b, a
	}
	x := s.seed ^ uint64(a)<<32 ^ uint64(b)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return 10 + Time(x%90)
}

func (s *simNet) push(at Time, ev simEvent) {
	var slot int32
	if k := len(s.free); k > 0 {
		slot = s.free[k-1]
		s.free = s.free[:k-1]
		s.slab[slot] = ev
	} else {
		slot = int32(len(s.slab))
		s.slab = append(s.slab, ev)
	}
	s.seq++
	s.heap = append(s.heap, heapEntry{at: at, seq: s.seq, slot: slot})
	for i := len(s.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
}

func (s *simNet) less(i, j int) bool {
	a, b := s.heap[i], s.heap[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (s *simNet) pop() (Time, simEvent) {
	top := s.heap[0]
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap = s.heap[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && s.less(l, m) {
			m = l
		}
		if r < last && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
	ev := s.slab[top.slot]
	s.slab[top.slot] = simEvent{}
	s.free = append(s.free, top.slot)
	return top.at, ev
}

// flush carries out what node i wants done and re-arms its timer.
func (s *simNet) flush(i int) {
	n := s.nodes[i]
	for n.HasReady() {
		msgs, lookups := n.AppendReady(s.outbox[:0], s.lookupBuf[:0])
		s.outbox, s.lookupBuf = msgs, lookups
		var failed []Message
		for _, m := range msgs {
			if m.From != n.Self() {
				s.tb.Fatalf("node %d sent a message from %v", i, m.From)
			}
			j, err := strconv.Atoi(strings.TrimPrefix(m.To.Addr, "n"))
			if err != nil || j < 0 || j >= len(s.nodes) || !s.alive[j] {
				if s.sendFail {
					failed = append(failed, m)
				}
				continue
			}
			s.push(s.now+s.latency(i, j), simEvent{kind: evDeliver, node: int32(j), msg: m})
		}
		for _, r := range lookups {
			s.results = append(s.results, simResult{node: i, res: r})
		}
		for _, m := range failed {
			n.SendFailed(s.now, m)
		}
	}
	d := n.NextDeadline()
	if d != Never {
		d = max(d, s.now)
	}
	if d != s.timerAt[i] {
		s.timerAt[i] = d
		if d != Never {
			s.push(d, simEvent{kind: evTimer, node: int32(i)})
		}
	}
}

// step runs the next event.
func (s *simNet) step() {
	at, ev := s.pop()
	s.now = at
	s.events++
	i := int(ev.node)
	if !s.alive[i] {
		return
	}
	switch ev.kind {
	case evDeliver:
		s.nodes[i].Step(s.now, ev.msg)
	case evTimer:
		if s.timerAt[i] != at {
			return // superseded
		}
		s.timerAt[i] = Never
		s.nodes[i].Tick(s.now)
	case evLookup:
		s.nodes[i].Lookup(s.now, ev.msg.Key)
	}
	s.flush(i)
}

// run runs every event up to and including time t.
func (s *simNet) run(t Time) {
	for len(s.heap) > 0 && s.heap[0].at <= t {
		s.step()
	}
	s.now = max(s.now, t)
}

// runUntil runs events until cond holds (checked after every event) or
// time passes limit; it reports whether cond holds.
func (s *simNet) runUntil(limit Time, cond func() bool) bool {
	for !cond() {
		if len(s.heap) == 0 || s.heap[0].at > limit {
			s.now = max(s.now, limit)
			return cond()
		}
		s.step()
	}
	return true
}

// runChecked runs in steps of every ms until cond holds or limit passes.
func (s *simNet) runChecked(limit, every Time, cond func() bool) bool {
	for !cond() {
		if s.now >= limit {
			return false
		}
		s.run(min(s.now+every, limit))
	}
	return true
}

// kill stops node i silently: its timers stop and messages to it vanish.
func (s *simNet) kill(i int) { s.alive[i] = false }

// setMaintenance pauses or resumes maintenance on every live node.
func (s *simNet) setMaintenance(on bool) {
	for i, n := range s.nodes {
		if s.alive[i] {
			n.SetMaintenance(s.now, on)
			s.flush(i)
		}
	}
}

// liveJoined returns the indexes of the live nodes that are in the ring.
func (s *simNet) liveJoined() []int {
	var out []int
	for i, n := range s.nodes {
		if s.alive[i] && n.Joined() {
			out = append(out, i)
		}
	}
	return out
}

// buildRing creates node 0's ring and joins size-1 more nodes one by one,
// each through a random member, waiting for each join to finish.
func (s *simNet) buildRing(size int) {
	s.nodes[s.addNode()].Create(s.now)
	s.flush(0)
	for len(s.nodes) < size {
		i := s.addNode()
		members := s.liveJoined()
		via := members[s.rng.IntN(len(members))]
		s.nodes[i].Join(s.now, s.ref(via))
		s.flush(i)
		if !s.runUntil(s.now+30_000, s.nodes[i].Joined) {
			s.tb.Fatalf("node %d did not join within 30 s", i)
		}
		s.run(s.now + Time(s.rng.IntN(50)))
	}
}

// ring is the true ring of the live joined nodes, sorted by ID.
type ring struct {
	idx []int // node indexes in ID order
	ids []ID
	pos map[int]int // node index -> position in idx
}

func (s *simNet) truth() *ring {
	r := &ring{idx: s.liveJoined(), pos: make(map[int]int)}
	slices.SortFunc(r.idx, func(a, b int) int { return s.ref(a).ID.Cmp(s.ref(b).ID) })
	for p, i := range r.idx {
		r.ids = append(r.ids, s.ref(i).ID)
		r.pos[i] = p
	}
	return r
}

// succOf returns the node index of the key's true successor.
func (r *ring) succOf(key ID) int {
	p, _ := slices.BinarySearchFunc(r.ids, key, func(a, k ID) int { return a.Cmp(k) })
	return r.idx[p%len(r.idx)]
}

// after returns the node k places clockwise of node i.
func (r *ring) after(i, k int) int {
	n := len(r.idx)
	return r.idx[((r.pos[i]+k)%n+n)%n]
}

// checkNeighbours returns a description of the first node whose
// successor list (the first want entries) or predecessor is wrong, or "".
func (s *simNet) checkNeighbours(r *ring, want int) string {
	want = min(want, len(r.idx)-1)
	for _, i := range r.idx {
		n := s.nodes[i]
		succ := n.Successors()
		if len(r.idx) == 1 {
			if len(succ) != 1 || succ[0] != n.Self() {
				return fmt.Sprintf("node %d alone has successors %v", i, succ)
			}
			continue
		}
		if len(succ) < want {
			return fmt.Sprintf("node %d has %d successors, want %d", i, len(succ), want)
		}
		for k := 0; k < want; k++ {
			if succ[k] != s.ref(r.after(i, k+1)) {
				return fmt.Sprintf("node %d successor %d is %v, want %v", i, k, succ[k].ID, s.ref(r.after(i, k+1)).ID)
			}
		}
		if p := n.Predecessor(); p != s.ref(r.after(i, -1)) {
			return fmt.Sprintf("node %d predecessor is %v, want %v", i, p.ID, s.ref(r.after(i, -1)).ID)
		}
	}
	return ""
}

// checkFingers returns a description of the first wrong finger, or "".
func (s *simNet) checkFingers(r *ring) string {
	for _, i := range r.idx {
		n := s.nodes[i]
		for f := 0; f < IDBits; f++ {
			want := s.ref(r.succOf(n.Self().ID.AddPow2(f)))
			if got := n.fingers.get(f); got != want {
				return fmt.Sprintf("node %d finger %d is %v, want %v", i, f, got.ID, want.ID)
			}
		}
	}
	return ""
}

// lookupStats summarises a batch of lookups.
type lookupStats struct {
	n, wrong, failed  int
	hops, timeouts    int
	maxHops, duration Time
}

func (st lookupStats) meanHops() float64 { return float64(st.hops) / float64(st.n) }

// runLookups starts count lookups of random keys from random live nodes,
// perMs of them every ms, runs until all finish and checks every result
// against the true successor among the live nodes.
func (s *simNet) runLookups(count, perMs int) lookupStats {
	s.results = s.results[:0]
	live := s.liveJoined()
	start := s.now
	for k := 0; k < count; k++ {
		var key ID
		for j := 0; j < len(key); j += 8 {
			binary.BigEndian.PutUint64(key[j:], s.rng.Uint64())
		}
		node := live[s.rng.IntN(len(live))]
		s.push(start+Time(k/perMs), simEvent{kind: evLookup, node: int32(node), msg: Message{Key: key}})
	}
	limit := start + Time(count/perMs) + 10*s.nodes[0].cfg.LookupTimeout
	if !s.runUntil(limit, func() bool { return len(s.results) == count }) {
		s.tb.Fatalf("only %d of %d lookups finished", len(s.results), count)
	}
	r := s.truth()
	var st lookupStats
	for _, sr := range s.results {
		res := sr.res
		st.n++
		st.timeouts += res.Timeouts
		if res.Err != nil {
			st.failed++
			if st.failed <= 5 {
				s.tb.Errorf("lookup %v from node %d failed: %v", res.Key, sr.node, res.Err)
			}
			continue
		}
		st.hops += res.Hops
		st.maxHops = max(st.maxHops, Time(res.Hops))
		st.duration += res.End - res.Start
		if want := s.ref(r.succOf(res.Key)); len(res.Successors) == 0 || res.Successors[0] != want {
			st.wrong++
			if st.wrong <= 5 {
				s.tb.Errorf("lookup %v from node %d: got %v, want %v", res.Key, sr.node, res.Successors, want)
			}
		}
	}
	return st
}

// runUntilConverged runs until every node's neighbours are right, for at
// most five minutes of simulated time, and returns what is still wrong.
func (s *simNet) runUntilConverged(r *ring, succ int) string {
	var bad string
	s.runChecked(s.now+300_000, 500, func() bool { bad = s.checkNeighbours(r, succ); return bad == "" })
	return bad
}
