package replica

import (
	"errors"
	"math/rand/v2"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/overlay"
)

// Transfer is a block move the core asks the driver to carry out, then to
// report with TransferDone. A push reads the local copy and its metadata
// and stores both on Peer (which merges the metadata into its own); a pull
// fetches the block and its metadata from Peer, verifies the block,
// stores it and merges the metadata locally.
type Transfer struct {
	ID   uint64
	Pull bool
	Peer overlay.NodeRef
	CID  cid.Cid
	Size int64
}

// Ready is what the core wants done: messages to send and transfers to
// start. Both slices belong to the caller.
type Ready struct {
	Messages  []Message
	Transfers []Transfer
}

// extraHolder is a node believed to hold a copy outside the replica set
// (in Node.extras), or a replica set member believed to lack one (in
// Node.lacking). For an extra holder, since is when the copy was last
// needed (the others did not make the target without it) or first seen;
// for a lacking member, since is when it was first seen lacking while in
// the replica set.
type extraHolder struct {
	id    overlay.ID
	since overlay.Time
}

// Node is one node's replication state machine. It keeps every key the
// node is primary for (those in (predecessor, self]) at full strength:
// each round it compares digests of those keys with each successor in
// scope and counts the copies confirmed anywhere in scope; a block short
// of its target gets new copies on the replica set members that lack one
// (after RepairDelay, if set), a member that stayed in the replica set
// lacking a copy for HandoffDelay is handed one, the node pulls what it
// lacks itself when the block is short or after HandoffDelay, metadata that
// differ are merged, and holders of extra copies are asked to drop them
// once the target has been confirmed without them for ExtraGrace (see
// finishRound). It also answers the same requests from its predecessors.
//
// Like overlay.Node it does no I/O of its own except through the Store and
// keeps no clock: the driver feeds views (SetView), messages (Step), timer
// ticks (Tick, at NextDeadline) and transfer outcomes (TransferDone), and
// drains Ready. A Node is not safe for concurrent use.
type Node struct {
	cfg   Config
	self  overlay.NodeRef
	rng   *rand.Rand
	store Store

	pred    overlay.NodeRef
	succs   []overlay.NodeRef
	viewSet bool
	zones   map[overlay.ID]string

	nextRound overlay.Time
	round     *round
	seq       uint64

	extras  map[string][]extraHolder
	lacking map[string][]extraHolder
	short   map[string]overlay.Time // blocks short of one copy: since when
	// Blocks of the primary range this node lacks: since when, and the
	// metadata holders answered with.
	selfLacking map[string]overlay.Time
	remoteMeta  map[string]Meta

	queue    []*task
	queued   map[taskKey]bool
	inflight map[uint64]*task
	bucket   *TokenBucket

	records      []recordItem
	recordsAt    overlay.Time
	recordsDirty bool

	msgs      []Message
	transfers []Transfer

	totals Totals
	last   RoundStats
	errs   []error
}

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("replica: bad config")

// New returns a core for cfg.
func New(cfg Config) (*Node, error) {
	if cfg.Store == nil || cfg.Self.ID == (overlay.ID{}) && cfg.Self.Addr == "" {
		return nil, ErrConfig
	}
	cfg = cfg.withDefaults()
	return &Node{
		cfg:          cfg,
		self:         cfg.Self,
		rng:          cfg.Rand,
		store:        cfg.Store,
		zones:        make(map[overlay.ID]string),
		nextRound:    overlay.Never,
		extras:       make(map[string][]extraHolder),
		lacking:      make(map[string][]extraHolder),
		short:        make(map[string]overlay.Time),
		selfLacking:  make(map[string]overlay.Time),
		remoteMeta:   make(map[string]Meta),
		queued:       make(map[taskKey]bool),
		inflight:     make(map[uint64]*task),
		bucket:       NewTokenBucket(cfg.Bandwidth, cfg.Burst),
		recordsDirty: true,
	}, nil
}

// Self returns the node's reference.
func (n *Node) Self() overlay.NodeRef { return n.self }

// SetView tells the core the node's current ring neighbourhood: its
// predecessor (zero if unknown) and its live successor list. A change
// schedules a round ViewSettle later; that is how the death of a holder
// (it leaves the list) and the join of a node ahead (it enters the list,
// or becomes the predecessor) lead to repair and handoff.
func (n *Node) SetView(now overlay.Time, pred overlay.NodeRef, succs []overlay.NodeRef) {
	clean := make([]overlay.NodeRef, 0, len(succs))
	for _, s := range succs {
		if s.IsZero() || s.ID == n.self.ID || slices.ContainsFunc(clean, func(x overlay.NodeRef) bool { return x.ID == s.ID }) {
			continue
		}
		clean = append(clean, s)
	}
	if pred.ID == n.self.ID {
		pred = overlay.NodeRef{}
	}
	changed := !n.viewSet || pred != n.pred || !slices.Equal(clean, n.succs)
	n.pred, n.succs, n.viewSet = pred, clean, true
	if changed {
		n.nextRound = min(n.nextRound, now+n.cfg.ViewSettle)
	}
}

// Poke asks for a round soon (ViewSettle from now), for instance after
// the driver merged new claims into blocks: the primary then brings the
// replica sets to the new targets without waiting for the next period.
func (n *Node) Poke(now overlay.Time) {
	n.nextRound = min(n.nextRound, now+n.cfg.ViewSettle)
}

// Primary returns the range of keys the node is primary for, and false
// when it does not know its predecessor.
func (n *Node) Primary() (Range, bool) {
	if n.pred.IsZero() {
		if len(n.succs) == 0 && n.viewSet {
			return Range{Lo: n.self.ID, Hi: n.self.ID}, true // alone: the whole ring
		}
		return Range{}, false
	}
	return Range{Lo: n.pred.ID, Hi: n.self.ID}, true
}

// zoneOf returns the zone of r and whether it is known.
func (n *Node) zoneOf(r overlay.NodeRef) (string, bool) {
	if r.ID == n.self.ID {
		return n.cfg.Zone, true
	}
	if n.cfg.ZoneOf != nil {
		return n.cfg.ZoneOf(r), true
	}
	z, ok := n.zones[r.ID]
	return z, ok
}

// Tick advances the core's timers: it starts a round when one is due,
// expires sync requests and starts transfers the bucket allows.
func (n *Node) Tick(now overlay.Time) {
	if n.round != nil {
		n.expire(now)
	}
	if n.round == nil && now >= n.nextRound {
		n.startRound(now)
	}
	n.pump(now)
}

// NextDeadline returns when Tick should next be called.
func (n *Node) NextDeadline() overlay.Time {
	d := n.nextRound
	if n.round != nil {
		d = n.round.deadline
		for _, rq := range n.round.pending {
			d = min(d, rq.deadline)
		}
	}
	if len(n.queue) > 0 && len(n.inflight) < n.cfg.MaxInflight {
		d = min(d, n.bucket.readyAt())
	}
	return d
}

// Step handles one inbound message.
func (n *Node) Step(now overlay.Time, m Message) {
	if m.From.IsZero() || m.From.ID == n.self.ID {
		return
	}
	if n.cfg.ZoneOf == nil {
		n.zones[m.From.ID] = m.Zone
	}
	switch m.Type {
	case MsgSync:
		n.answerSync(now, m)
	case MsgSyncReply:
		n.handleSyncReply(now, m)
	case MsgMeta:
		n.answerMeta(m)
	case MsgMetaReply:
		n.mergeMetas(m.Metas)
	case MsgDrop:
		n.handleDrop(m)
	case MsgRecords:
		n.storeRecords(m.Records)
	case MsgRecordsReq:
		n.answerRecords(m)
	}
	n.pump(now)
}

// SendFailed tells the core that m could not be delivered.
func (n *Node) SendFailed(now overlay.Time, m Message) {
	if m.Type != MsgSync || n.round == nil {
		return
	}
	if rq, ok := n.round.pending[m.Session]; ok {
		n.requestFailed(now, m.Session, rq)
	}
}

// send queues a message.
func (n *Node) send(m Message) {
	m.From, m.Zone = n.self, n.cfg.Zone
	n.msgs = append(n.msgs, m)
}

// Ready returns and clears what the core wants done.
func (n *Node) Ready() Ready {
	rd := Ready{Messages: n.msgs, Transfers: n.transfers}
	n.msgs, n.transfers = nil, nil
	return rd
}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool { return len(n.msgs) > 0 || len(n.transfers) > 0 }

// noteErr keeps the last few store errors for Status.
func (n *Node) noteErr(err error) {
	if err == nil {
		return
	}
	n.totals.StoreErrors++
	n.errs = append(n.errs, err)
	if len(n.errs) > 8 {
		n.errs = n.errs[len(n.errs)-8:]
	}
}

// interval draws the period until the next round.
func (n *Node) interval() overlay.Time {
	j := n.cfg.SyncJitter
	if j <= 0 {
		return n.cfg.SyncInterval
	}
	return n.cfg.SyncInterval - j + overlay.Time(n.rng.Int64N(int64(2*j+1)))
}

// believed returns the extra holders believed for ident.
func (n *Node) believed(ident string) []extraHolder { return n.extras[ident] }

// addBelief records that id holds an extra copy of ident.
func (n *Node) addBelief(ident string, id overlay.ID, now overlay.Time) {
	hs := n.extras[ident]
	if slices.ContainsFunc(hs, func(h extraHolder) bool { return h.id == id }) {
		return
	}
	n.extras[ident] = append(hs, extraHolder{id: id, since: now})
}

// removeBelief forgets that id holds an extra copy of ident.
func (n *Node) removeBelief(ident string, id overlay.ID) {
	hs := n.extras[ident]
	i := slices.IndexFunc(hs, func(h extraHolder) bool { return h.id == id })
	if i < 0 {
		return
	}
	hs = slices.Delete(hs, i, i+1)
	if len(hs) == 0 {
		delete(n.extras, ident)
	} else {
		n.extras[ident] = hs
	}
}
