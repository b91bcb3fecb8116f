package overlay

import (
	"math/rand/v2"
	"slices"
)

// Ready is what the node wants done: messages to send and user lookups that
// finished. The Nodes slices of Messages share memory with the node's state
// and with other messages: treat them as read-only.
type Ready struct {
	Messages []Message
	Lookups  []LookupResult
}

// Stats counts what a node did since it was created.
type Stats struct {
	MessagesSent     uint64 // messages handed out through Ready
	MessagesReceived uint64 // messages fed to Step
	RPCTimeouts      uint64 // requests that got no reply within RPCTimeout
	SendFailures     uint64 // messages reported through SendFailed
	LookupsStarted   uint64 // user lookups started
	LookupsFailed    uint64 // user lookups that ended with an error
	InternalLookups  uint64 // join and fix-fingers lookups started
}

// Node is one ring member's Chord state machine: successor list,
// predecessor, finger table, the maintenance protocols (stabilize/notify,
// check-predecessor, fix-fingers) and iterative lookups.
//
// A Node does no I/O and keeps no clock. The driver feeds it inbound
// messages with Step, advances its timers with Tick (NextDeadline says
// when), reports undeliverable messages with SendFailed, and drains
// Ready after every call. A Node is not safe for concurrent use.
type Node struct {
	cfg  Config
	self NodeRef
	rng  *rand.Rand

	// chain is [self, successor list...]. It is never modified in place,
	// only replaced, so outgoing messages share it instead of copying.
	// A joined node with len(chain) == 1 is a ring of one.
	chain  []NodeRef
	pred   NodeRef
	joined bool
	left   bool
	// integrated is set once a joined node's predecessor is known (the
	// ring points at it), or integrateBy has passed; Joined waits for it.
	integrated  bool
	integrateBy Time
	maintenance bool

	fingers       fingerTable
	fingerNext    int  // next finger fix-fingers looks at
	fingerInitial bool // fix fingers back to back until a round completes
	fingerBusy    bool // a fix-fingers lookup is in flight

	joinVia     NodeRef
	joinRetryAt Time // 0: no retry pending
	joining     bool // the join lookup is in flight

	stabilizeAt, fixAt, checkPredAt Time
	stabilizing                     bool // a stabilize GetState is in flight
	pinging                         bool // a check-predecessor Ping is in flight
	predHeard                       bool // the predecessor sent something since the last check

	seq        uint64
	pending    []rpc
	lookups    []*lookup
	lastLookup LookupID

	suspects []suspect // presumed dead, oldest first; nil if none

	msgs    []Message
	results []LookupResult
	stats   Stats
}

// maxRetainedMsgs bounds the outbox capacity a node keeps between Ready
// calls, so that a burst does not cost memory for good.
const maxRetainedMsgs = 16

// NewNode returns a node that is not yet in a ring. Call Create or Join to
// put it in one.
func NewNode(cfg Config) *Node {
	cfg = cfg.withDefaults()
	n := &Node{
		cfg:         cfg,
		self:        cfg.Self,
		rng:         cfg.Rand,
		maintenance: true,
	}
	n.chain = []NodeRef{n.self}
	n.fingers.reset()
	return n
}

// Create starts a new ring with n as its only member. It does nothing if n
// is already in a ring or has left.
func (n *Node) Create(now Time) {
	if n.joined || n.left {
		return
	}
	n.becomeJoined(now, nil)
}

// Join starts joining the ring through member via: a lookup of n's own ID
// through via finds n's successor. Joined reports when it is done; a failed
// attempt is retried every StabilizeInterval. Join does nothing if n is
// already in a ring or has left; joining through n itself is Create.
func (n *Node) Join(now Time, via NodeRef) {
	if n.joined || n.left {
		return
	}
	if via.ID == n.self.ID {
		n.Create(now)
		return
	}
	n.joinVia = via
	n.startJoin(now)
}

// startJoin starts the join lookup unless one is in flight.
func (n *Node) startJoin(now Time) {
	if n.joining {
		return
	}
	n.joining = true
	n.joinRetryAt = 0
	n.stats.InternalLookups++
	l := n.newLookup(now, n.self.ID, lookupJoin)
	// Not addCand: via is tried even if an earlier attempt found it dead.
	l.cands, _ = insertCand(l.cands, n.joinVia, Distance(n.joinVia.ID, l.key), 0)
	n.advance(now, l)
}

// becomeJoined installs the successor list succ (nil: a ring of one) and
// starts maintenance.
func (n *Node) becomeJoined(now Time, succ []NodeRef) {
	n.joined = true
	n.joining = false
	n.joinRetryAt = 0
	n.setSuccessors(now, succ)
	n.integrated = len(n.chain) == 1 || !n.pred.IsZero()
	n.integrateBy = now + n.cfg.RPCTimeout
	n.startTimers(now)
	if len(n.chain) > 1 {
		// Tell the successor about us at once rather than at the first
		// stabilize, then seed the finger table from the successor's
		// (fingerCopyReply); what that leaves unset is looked up back to
		// back.
		n.notify(n.chain[1])
		n.fingerInitial = true
		n.fingerBusy = true
		n.request(now, n.chain[1], rpcFingerCopy, ID{}, nil)
	}
}

// Joined reports whether n is in a ring: it has a successor, and its
// predecessor has told it so (notified it), or RPCTimeout has passed since
// the join lookup ended. Until then lookups through the ring could still
// pass n by: the nodes before it learn of it only when its notifications
// arrive.
func (n *Node) Joined() bool { return n.joined && !n.left && n.integrated }

// Left reports whether Leave was called.
func (n *Node) Left() bool { return n.left }

// SetMaintenance pauses (on=false) or resumes stabilize, check-predecessor
// and fix-fingers. RPC and lookup timeouts keep firing while paused, so
// lookups still work on a frozen ring. Experiments use it to measure
// lookups while the ring cannot repair itself.
func (n *Node) SetMaintenance(now Time, on bool) {
	if on == n.maintenance {
		return
	}
	n.maintenance = on
	if on {
		n.startTimers(now)
	}
}

// Step feeds one inbound message addressed to n.
func (n *Node) Step(now Time, m Message) {
	if n.left {
		return
	}
	n.stats.MessagesReceived++
	n.clearSuspect(now, m.From.ID)
	switch m.Type {
	case MsgFindSucc:
		n.handleFindSucc(now, m)
	case MsgGetState:
		// A node outside the ring stays silent: its empty state must not
		// pass for a ring of one, and the asker should move on.
		if n.joined {
			n.send(Message{Type: MsgGetStateReply, To: m.From, Seq: m.Seq, Pred: n.pred, Nodes: n.succs()})
		}
	case MsgNotify:
		n.handleNotify(now, m.From)
	case MsgPing:
		if n.joined {
			n.send(Message{Type: MsgPong, To: m.From, Seq: m.Seq})
		}
	case MsgGetFingers:
		if n.joined {
			n.send(Message{Type: MsgGetFingersReply, To: m.From, Seq: m.Seq, Nodes: n.fingers.appendDistinct(nil, n.self.ID)})
		}
	case MsgLeave:
		n.handleLeave(now, m)
	case MsgFindSuccReply, MsgGetStateReply, MsgPong, MsgGetFingersReply:
		if r, ok := n.takeRPC(m.Seq, m.From.ID, m.Type); ok {
			n.rpcDone(now, r, m)
		}
	}
	if !n.pred.IsZero() && m.From.ID == n.pred.ID {
		n.predHeard = true
	}
}

// Tick advances n's timers to now: it expires requests and lookups and
// runs the maintenance protocols that are due.
func (n *Node) Tick(now Time) {
	if n.left {
		return
	}
	n.expireRPCs(now)
	n.expireLookups(now)
	if !n.joined {
		if n.joinRetryAt != 0 && n.joinRetryAt <= now {
			n.startJoin(now)
		}
		return
	}
	if !n.integrated && n.integrateBy <= now {
		n.integrated = true
	}
	if !n.maintenance {
		return
	}
	if n.stabilizeAt <= now {
		n.stabilizeAt = now + n.interval(n.cfg.StabilizeInterval)
		n.stabilize(now)
	}
	if n.checkPredAt <= now {
		n.checkPredAt = n.stabilizeAt
		if n.cfg.CheckPredInterval != n.cfg.StabilizeInterval {
			n.checkPredAt = now + n.interval(n.cfg.CheckPredInterval)
		}
		n.checkPredecessor(now)
	}
	if n.fixAt <= now {
		n.fixAt = n.stabilizeAt
		if n.cfg.FixFingersInterval != n.cfg.StabilizeInterval {
			n.fixAt = now + n.interval(n.cfg.FixFingersInterval)
		}
		n.fixFingers(now)
	}
}

// NextDeadline is the earliest time at which Tick has work to do, or Never.
// A driver that calls Tick only at NextDeadline (and after Step, Lookup,
// SendFailed as needed) loses nothing.
func (n *Node) NextDeadline() Time {
	if n.left {
		return Never
	}
	d := Never
	for i := range n.pending {
		d = min(d, n.pending[i].deadline)
	}
	for _, l := range n.lookups {
		d = min(d, l.deadline)
	}
	if !n.joined {
		if n.joinRetryAt != 0 {
			d = min(d, n.joinRetryAt)
		}
		return d
	}
	if !n.integrated {
		d = min(d, n.integrateBy)
	}
	if n.maintenance {
		d = min(d, n.stabilizeAt, n.checkPredAt, n.fixAt)
	}
	return d
}

// SendFailed tells n that m, which n asked to send, could not be delivered.
// A request fails at once as if it had timed out, and the peer is dropped
// from n's routing state.
func (n *Node) SendFailed(now Time, m Message) {
	if n.left {
		return
	}
	n.stats.SendFailures++
	switch m.Type {
	case MsgFindSucc, MsgGetState, MsgPing, MsgGetFingers:
		if r, ok := n.takeRPC(m.Seq, m.To.ID, replyType(m.Type)); ok {
			n.rpcFailed(now, r, true)
			return
		}
	}
	n.dropNode(now, m.To.ID)
}

// Leave says goodbye: n sends MsgLeave to its predecessor and successor
// with its predecessor and successor list, so that both close the gap at
// once. Lookups in flight fail. n is inert afterwards.
func (n *Node) Leave(now Time) {
	if n.left {
		return
	}
	if n.joined {
		succ := n.succs()
		if len(succ) > 0 {
			n.send(Message{Type: MsgLeave, To: succ[0], Pred: n.pred, Nodes: succ})
		}
		if !n.pred.IsZero() && n.pred.ID != n.self.ID && (len(succ) == 0 || n.pred.ID != succ[0].ID) {
			n.send(Message{Type: MsgLeave, To: n.pred, Pred: n.pred, Nodes: succ})
		}
	}
	n.left = true
	n.joined = false
	for len(n.lookups) > 0 {
		n.finishLookup(now, n.lookups[0], nil, 0, errLeft)
	}
	n.pending = nil
}

// Ready drains what n wants done. It is cheap when there is nothing; the
// returned slices belong to the caller.
func (n *Node) Ready() Ready {
	var rd Ready
	rd.Messages, rd.Lookups = n.AppendReady(nil, nil)
	return rd
}

// AppendReady is Ready for drivers that reuse their buffers: it appends
// what n wants done to msgs and lookups and returns the extended slices.
func (n *Node) AppendReady(msgs []Message, lookups []LookupResult) ([]Message, []LookupResult) {
	if len(n.msgs) > 0 {
		msgs = append(msgs, n.msgs...)
		if cap(n.msgs) > maxRetainedMsgs {
			n.msgs = nil
		} else {
			clear(n.msgs)
			n.msgs = n.msgs[:0]
		}
	}
	if len(n.results) > 0 {
		lookups = append(lookups, n.results...)
		clear(n.results)
		n.results = n.results[:0]
	}
	return msgs, lookups
}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool { return len(n.msgs) > 0 || len(n.results) > 0 }

// Self returns the node's own reference.
func (n *Node) Self() NodeRef { return n.self }

// Successors returns a copy of the successor list. In a ring of one it is
// [Self]; before joining it is empty.
func (n *Node) Successors() []NodeRef {
	if !n.joined {
		return nil
	}
	if len(n.chain) == 1 {
		return []NodeRef{n.self}
	}
	return slices.Clone(n.succs())
}

// Predecessor returns the predecessor, or the zero NodeRef.
func (n *Node) Predecessor() NodeRef { return n.pred }

// Fingers returns the distinct finger entries other than n itself, in
// finger order.
func (n *Node) Fingers() []NodeRef { return n.fingers.appendDistinct(nil, n.self.ID) }

// KnownNodes returns how many distinct other nodes n's routing state
// (successor list, predecessor, fingers) names.
func (n *Node) KnownNodes() int {
	all := n.fingers.appendDistinct(slices.Clone(n.succs()), n.self.ID)
	if !n.pred.IsZero() && n.pred.ID != n.self.ID {
		all = append(all, n.pred)
	}
	slices.SortFunc(all, func(a, b NodeRef) int { return a.ID.Cmp(b.ID) })
	return len(slices.CompactFunc(all, func(a, b NodeRef) bool { return a.ID == b.ID }))
}

// Stats returns n's counters.
func (n *Node) Stats() Stats { return n.stats }

// succs returns the successor list without self (empty in a ring of one).
// The slice is shared and must not be modified.
func (n *Node) succs() []NodeRef { return n.chain[1:] }

// interval draws one period of a maintenance timer with base b.
func (n *Node) interval(b Time) Time {
	j := min(n.cfg.StabilizeJitter, b-1)
	if j <= 0 {
		return b
	}
	return b - j + Time(n.rng.Int64N(int64(2*j+1)))
}

// startTimers draws the first deadlines of the maintenance protocols.
// Those whose period is the stabilize period run in the same Tick as
// stabilize: one timer instead of three.
func (n *Node) startTimers(now Time) {
	n.stabilizeAt = now + n.firstPhase(n.cfg.StabilizeInterval)
	n.checkPredAt, n.fixAt = n.stabilizeAt, n.stabilizeAt
	if n.cfg.CheckPredInterval != n.cfg.StabilizeInterval {
		n.checkPredAt = now + n.firstPhase(n.cfg.CheckPredInterval)
	}
	if n.cfg.FixFingersInterval != n.cfg.StabilizeInterval {
		n.fixAt = now + n.firstPhase(n.cfg.FixFingersInterval)
	}
}

// firstPhase draws the first period of a maintenance timer uniformly from
// [1, b], so that nodes started together do not run in lock step.
func (n *Node) firstPhase(b Time) Time { return 1 + Time(n.rng.Int64N(int64(b))) }
