package simulations

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/chorus-data/chorus/overlay"
)

// noTick marks a node with no pending tick event.
const noTick overlay.Time = overlay.Never

// simNode is the engine's record of one simulated node. Indices into
// engine.nodes are never reused: a node that leaves stays dead, and a node
// that joins later is a new index with a new ID, so an address names exactly
// one incarnation.
type simNode struct {
	n      *overlay.Node
	ref    overlay.NodeRef
	pos    point
	alive  bool
	joined bool // in the oracle: Joined() has been true while alive
	// tickAt is the time of the node's current tick event, or noTick.
	// Older tick events still in the queue are stale and ignored.
	tickAt  overlay.Time
	aliveAt int32 // index in engine.alive, or -1
	joinAt  int32 // index in engine.joined, or -1
	pending int32 // user lookups in flight from this node
	leaving bool  // Leave has been called: results drained now are aborted
}

// pendingMsg is a message in flight.
type pendingMsg struct {
	m      overlay.Message
	from   int32
	sentAt overlay.Time
	user   bool
}

// nodeParams are the overlay parameters every simulated node gets.
type nodeParams struct {
	succListLen       int
	stabilize, jitter overlay.Time
	rpcTimeout        overlay.Time
	lookupTimeout     overlay.Time
	parallelism       int
}

// engine is the discrete-event simulator: a virtual clock, an event queue
// ordered by (time, sequence number), one random source, the nodes, the
// network, the oracle and the metrics.
type engine struct {
	now   overlay.Time
	seq   uint64
	queue eventQueue
	rng   *rand.Rand

	params nodeParams
	net    *network
	nodes  []simNode
	alive  []int32 // live node indices (joined or joining)
	joined []int32 // live node indices that are in the ring
	oracle *oracle
	met    *metrics

	msgs     []pendingMsg
	freeMsgs []int32
	actions  []func()
	freeActs []int32

	// onAfter, if set, runs after every call into a live node's overlay
	// core, once its Ready is drained: the durability scenario feeds the
	// node's ring view to its replication core from here, as node/'s ring
	// loop does after every event.
	onAfter func(i int32)

	stopped bool   // the scenario is over: runUntil returns
	events  uint64 // events processed
	err     error  // first internal inconsistency, ends the run
}

func newEngine(seed uint64, p nodeParams, net NetConfig, bucket overlay.Time, capacity int) *engine {
	return &engine{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		params: p,
		net:    newNetwork(net),
		oracle: newOracle(capacity),
		met:    newMetrics(bucket),
		nodes:  make([]simNode, 0, capacity),
	}
}

func (e *engine) push(at overlay.Time, kind eventKind, target, ref int32) {
	e.seq++
	e.queue.push(event{at: at, seq: e.seq, kind: kind, target: target, ref: ref})
}

// at schedules f to run at virtual time t (not before now).
func (e *engine) at(t overlay.Time, f func()) {
	var i int32
	if n := len(e.freeActs); n > 0 {
		i = e.freeActs[n-1]
		e.freeActs = e.freeActs[:n-1]
		e.actions[i] = f
	} else {
		e.actions = append(e.actions, f)
		i = int32(len(e.actions) - 1)
	}
	e.push(max(t, e.now), evAction, 0, i)
}

// randomID draws a ring ID from the run's random source. A real node's ID
// is the SHA-256 of its key; a uniform draw has the same distribution.
func (e *engine) randomID() overlay.ID {
	var id overlay.ID
	for i := 0; i < 4; i++ {
		v := e.rng.Uint64()
		for j := 0; j < 8; j++ {
			id[8*i+j] = byte(v >> (56 - 8*j))
		}
	}
	return id
}

// addNode creates a new, not yet joined, live node with a random ID and
// returns its index.
func (e *engine) addNode() int32 {
	return e.addNodeID(e.randomID()) // a collision of 256-bit draws is not a concern
}

// addNodeID creates a new, not yet joined, live node with the given ID and
// returns its index.
func (e *engine) addNodeID(id overlay.ID) int32 {
	i := int32(len(e.nodes))
	ref := overlay.NodeRef{ID: id, Addr: strconv.Itoa(int(i))}
	n := overlay.NewNode(overlay.Config{
		Self:              ref,
		SuccListLen:       e.params.succListLen,
		StabilizeInterval: e.params.stabilize,
		StabilizeJitter:   e.params.jitter,
		RPCTimeout:        e.params.rpcTimeout,
		LookupTimeout:     e.params.lookupTimeout,
		LookupParallelism: e.params.parallelism,
		Rand:              e.rng,
	})
	e.nodes = append(e.nodes, simNode{
		n: n, ref: ref, pos: e.net.place(e.rng), alive: true,
		tickAt: noTick, aliveAt: int32(len(e.alive)), joinAt: -1,
	})
	e.alive = append(e.alive, i)
	e.met.setLive(e.now, len(e.alive), true)
	return i
}

// create makes node i the first member of a new ring.
func (e *engine) create(i int32) {
	e.nodes[i].n.Create(e.now)
	e.after(i, false, false)
}

// join makes node i join through a random ring member. It returns false if
// there is no member to join through.
func (e *engine) join(i int32) bool {
	if len(e.joined) == 0 {
		return false
	}
	via := e.joined[e.rng.IntN(len(e.joined))]
	e.nodes[i].n.Join(e.now, e.nodes[via].ref)
	e.after(i, false, false)
	return true
}

// lookup starts a user lookup of a random key at a random ring member. It
// returns false if the ring is empty.
func (e *engine) lookup() bool {
	if len(e.joined) == 0 {
		return false
	}
	i := e.joined[e.rng.IntN(len(e.joined))]
	key := e.randomID()
	e.met.issued++
	e.nodes[i].pending++
	e.nodes[i].n.Lookup(e.now, key)
	e.after(i, true, false)
	return true
}

// kill removes live node i: a crash (graceful false: it just stops) or a
// departure (graceful true: it says goodbye through Leave first).
func (e *engine) kill(i int32, graceful bool) {
	sn := &e.nodes[i]
	if !sn.alive {
		return
	}
	if graceful {
		sn.leaving = true
		sn.n.Leave(e.now)
		e.after(i, false, false)
	}
	e.met.aborted += int64(sn.pending)
	sn.pending = 0
	sn.alive = false
	sn.n = nil // free the state; nothing will reach it any more
	sn.tickAt = noTick
	// Swap-remove from the live lists.
	last := e.alive[len(e.alive)-1]
	e.alive[sn.aliveAt] = last
	e.nodes[last].aliveAt = sn.aliveAt
	e.alive = e.alive[:len(e.alive)-1]
	sn.aliveAt = -1
	if sn.joined {
		last := e.joined[len(e.joined)-1]
		e.joined[sn.joinAt] = last
		e.nodes[last].joinAt = sn.joinAt
		e.joined = e.joined[:len(e.joined)-1]
		sn.joinAt = -1
		e.oracle.Delete(sn.ref.ID)
	}
	e.met.setLive(e.now, len(e.alive), false)
}

// freeze pauses maintenance (stabilize, check-predecessor, fix-fingers) on
// every live node; RPC and lookup timeouts keep firing.
func (e *engine) freeze() {
	for _, i := range e.alive {
		e.nodes[i].n.SetMaintenance(e.now, false)
		e.after(i, false, false)
	}
}

// after carries out what node i asked for in the call just made: it sends
// the node's messages, scores its finished lookups, notes a completed join
// and schedules the node's next tick. user tells whether the call was made
// on behalf of a user lookup, so that the messages it caused are counted as
// lookup traffic rather than maintenance. ticked tells whether the call was
// Tick.
func (e *engine) after(i int32, user, ticked bool) {
	sn := &e.nodes[i]
	rd := sn.n.Ready()
	for k := range rd.Messages {
		e.send(i, rd.Messages[k], user)
	}
	for k := range rd.Lookups {
		e.score(i, &rd.Lookups[k])
	}
	if !sn.joined && sn.alive && !sn.leaving && sn.n.Joined() {
		sn.joined = true
		sn.joinAt = int32(len(e.joined))
		e.joined = append(e.joined, i)
		e.oracle.Insert(sn.ref.ID, i)
	}
	if !sn.alive || sn.leaving {
		return
	}
	if e.onAfter != nil {
		e.onAfter(i)
	}
	d := sn.n.NextDeadline()
	if d == overlay.Never {
		return
	}
	if d < e.now || (ticked && d == e.now) {
		// A deadline in the past is due now; one that Tick(now) left at
		// now would loop, so it waits a millisecond.
		d = e.now
		if ticked {
			d = e.now + 1
		}
	}
	if d < sn.tickAt {
		sn.tickAt = d
		e.push(d, evTick, i, 0)
	}
}

// score records a finished user lookup of node i, checking its answer
// against the oracle at this very moment.
func (e *engine) score(i int32, r *overlay.LookupResult) {
	sn := &e.nodes[i]
	if sn.leaving {
		return // counted as aborted by kill
	}
	if sn.pending > 0 {
		sn.pending--
	}
	lat := r.End - r.Start
	switch {
	case r.Err != nil:
		if !errors.Is(r.Err, overlay.ErrLookupFailed) && e.err == nil {
			e.err = fmt.Errorf("node %d: lookup ended with unexpected error: %w", i, r.Err)
		}
		e.met.lookupDone(e.now, outFailed, r.Hops, r.Timeouts, lat)
	default:
		out := outCorrect
		want, _, ok := e.oracle.Successor(r.Key)
		if !ok || len(r.Successors) == 0 || r.Successors[0].ID != want {
			out = outWrong
		}
		e.met.lookupDone(e.now, out, r.Hops, r.Timeouts, lat)
	}
}

// parseAddr turns a simulator address (a decimal node index) back into the
// index. It reports false for anything else.
func parseAddr(s string) (int32, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	var v int32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int32(c-'0')
	}
	return v, true
}

// send puts message m from node `from` on the simulated network.
func (e *engine) send(from int32, m overlay.Message, user bool) {
	e.met.sent(e.now, user, m.WireSize())
	to, ok := parseAddr(m.To.Addr)
	if !ok || int(to) >= len(e.nodes) || e.nodes[to].ref.ID != m.To.ID {
		// Nobody has this address: the dial fails at once.
		e.met.dropped(e.now)
		slot := e.storeMsg(pendingMsg{m: m, from: from, sentAt: e.now, user: user})
		e.push(e.now, evSendFailed, from, slot)
		return
	}
	if e.net.lost(e.rng) {
		e.met.dropped(e.now)
		return // the sender's per-hop timeout handles it
	}
	lat := e.net.latency(e.nodes[from].pos, e.nodes[to].pos)
	slot := e.storeMsg(pendingMsg{m: m, from: from, sentAt: e.now, user: user})
	e.push(e.now+lat, evDeliver, to, slot)
}

func (e *engine) storeMsg(p pendingMsg) int32 {
	if n := len(e.freeMsgs); n > 0 {
		i := e.freeMsgs[n-1]
		e.freeMsgs = e.freeMsgs[:n-1]
		e.msgs[i] = p
		return i
	}
	e.msgs = append(e.msgs, p)
	return int32(len(e.msgs) - 1)
}

func (e *engine) takeMsg(i int32) pendingMsg {
	p := e.msgs[i]
	e.msgs[i] = pendingMsg{}
	e.freeMsgs = append(e.freeMsgs, i)
	return p
}

// runUntil processes events up to and including virtual time end, until
// the queue is empty or until the scenario stops the run; the clock is then
// set to end (unless end is Never or the run was stopped). progress, if not nil,
// is called every so often.
func (e *engine) runUntil(end overlay.Time, progress func()) error {
	for e.queue.Len() > 0 && e.queue.peek().at <= end && e.err == nil && !e.stopped {
		ev := e.queue.pop()
		e.now = ev.at
		e.events++
		e.met.bucket(e.now).Events++
		if progress != nil && e.events&0xffff == 0 {
			progress()
		}
		switch ev.kind {
		case evDeliver:
			p := e.takeMsg(ev.ref)
			sn := &e.nodes[ev.target]
			if !sn.alive {
				e.met.dropped(e.now) // the sender's per-hop timeout handles it
				continue
			}
			sn.n.Step(e.now, p.m)
			e.after(ev.target, p.user, false)
		case evTick:
			sn := &e.nodes[ev.target]
			if !sn.alive || sn.tickAt != ev.at {
				continue // stale
			}
			sn.tickAt = noTick
			sn.n.Tick(e.now)
			e.after(ev.target, false, true)
		case evSendFailed:
			p := e.takeMsg(ev.ref)
			sn := &e.nodes[ev.target]
			if !sn.alive {
				continue
			}
			sn.n.SendFailed(e.now, p.m)
			e.after(ev.target, p.user, false)
		case evAction:
			f := e.actions[ev.ref]
			e.actions[ev.ref] = nil
			e.freeActs = append(e.freeActs, ev.ref)
			f()
		}
	}
	if e.err != nil {
		return e.err
	}
	if !e.stopped && end != overlay.Never {
		e.now = max(e.now, end)
	}
	e.met.advance(e.now)
	return nil
}
