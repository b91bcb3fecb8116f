package replica

import (
	"errors"
	"slices"

	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/placement"
)

// round is one anti-entropy round: a snapshot of the items of the primary
// range, with their replica sets under the view of the round's start, and
// one sync session per successor in scope.
type round struct {
	start    overlay.Time
	deadline overlay.Time
	rng      Range
	chain    []overlay.NodeRef // self, then the successors in scope
	items    []item
	sessions []*session // sessions[j] talks to chain[j+1]
	pending  map[uint64]*request
	stats    RoundStats
	// uncertain is set when some zone in scope was unknown at the start:
	// zone-bound items were left alone, and the replies taught the zones,
	// so the next round comes soon.
	uncertain bool
}

// session is the exchange with one successor during a round.
type session struct {
	peer    overlay.NodeRef
	bit     uint64
	failed  bool
	missing map[int]bool // indexes of items the peer should hold and lacks
}

// request is one MsgSync in flight.
type request struct {
	sess     *session
	sub      Range
	deadline overlay.Time
}

// roundTimeouts bounds a whole round in request timeouts.
const roundTimeouts = 10

// startRound takes the snapshot of the primary range and opens one session
// per successor in scope.
func (n *Node) startRound(now overlay.Time) {
	n.nextRound = now + n.interval()
	r, ok := n.Primary()
	if !ok || len(n.succs) == 0 {
		return
	}
	n.prune()
	items, err := n.collect(now, r)
	if err != nil {
		n.noteErr(err)
		return
	}
	chain := make([]overlay.NodeRef, 0, 1+min(len(n.succs), n.cfg.Scope))
	chain = append(chain, n.self)
	chain = append(chain, n.succs[:min(len(n.succs), n.cfg.Scope)]...)
	index := make(map[overlay.ID]int, len(chain))
	unknown := false
	for i, s := range chain {
		index[s.ID] = i
		if _, ok := n.zoneOf(s); !ok {
			unknown = true
		}
	}
	zoneOf := func(ref overlay.NodeRef) string { z, _ := n.zoneOf(ref); return z }
	extras := make(map[string][]extraHolder)
	zoneBound := false
	for i := range items {
		it := &items[i]
		if !it.isRecord() {
			it.r = it.meta.Replicas(n.cfg.DefaultReplicas)
			it.zones = it.meta.Zones()
		}
		for _, m := range placement.ReplicaSetZones(chain, it.r, it.zones, zoneOf) {
			if j := index[m.ID]; j > 0 {
				it.members |= 1 << (j - 1)
			}
		}
		it.expect = it.members
		it.uncertain = unknown && len(it.zones) > 0
		zoneBound = zoneBound || it.uncertain
		// Keep the beliefs about holders still in scope and outside the
		// replica set; forget the others.
		for _, h := range n.extras[it.ident] {
			j, ok := index[h.id]
			if !ok || j == 0 || it.members&(1<<(j-1)) != 0 {
				continue
			}
			it.expect |= 1 << (j - 1)
			extras[it.ident] = append(extras[it.ident], h)
		}
	}
	n.extras = extras
	rd := &round{
		start:     now,
		deadline:  now + roundTimeouts*n.cfg.RPCTimeout,
		rng:       r,
		chain:     chain,
		items:     items,
		pending:   make(map[uint64]*request),
		stats:     RoundStats{Start: now, Range: r, Peers: len(chain) - 1, Items: len(items)},
		uncertain: zoneBound,
	}
	n.round = rd
	for j, s := range chain[1:] {
		sess := &session{peer: s, bit: 1 << j, missing: make(map[int]bool)}
		rd.sessions = append(rd.sessions, sess)
		n.sendSync(now, rd, sess, r)
	}
}

// prune drops queued (not yet started) transfers to nodes that left the
// view.
func (n *Node) prune() {
	keep := n.queue[:0]
	for _, t := range n.queue {
		if t.Pull || slices.ContainsFunc(n.succs, func(s overlay.NodeRef) bool { return s.ID == t.Peer.ID }) {
			keep = append(keep, t)
			continue
		}
		delete(n.queued, t.key)
	}
	clear(n.queue[len(keep):])
	n.queue = keep
}

// sendSync sends the digest of sub, as expected at the session's peer.
func (n *Node) sendSync(now overlay.Time, rd *round, sess *session, sub Range) {
	i, j := within(rd.items, rd.rng.Lo, sub)
	hashes, counts := digest(rd.items[i:j], sub, sess.bit)
	n.seq++
	rd.pending[n.seq] = &request{sess: sess, sub: sub, deadline: now + n.cfg.RPCTimeout}
	rd.stats.Requests++
	n.totals.Requests++
	n.send(Message{Type: MsgSync, To: sess.peer, Session: n.seq, Range: sub, Hashes: hashes, Counts: counts})
}

// handleSyncReply descends into the parts the peer asks for and settles
// the parts it listed.
func (n *Node) handleSyncReply(now overlay.Time, m Message) {
	rd := n.round
	if rd == nil {
		return
	}
	rq, ok := rd.pending[m.Session]
	if !ok || m.From.ID != rq.sess.peer.ID || m.Range != rq.sub {
		return
	}
	delete(rd.pending, m.Session)
	sp := newSplit(rq.sub, SyncLogParts)
	for _, d := range m.Descend {
		if int(d) < sp.parts() {
			n.sendSync(now, rd, rq.sess, sp.part(int(d)))
		}
	}
	for _, l := range m.Leaves {
		if int(l.Part) < sp.parts() {
			n.settleLeaf(now, rd, rq.sess, sp.part(int(l.Part)), l.Entries)
		}
	}
	n.maybeFinish(now)
}

// settleLeaf compares what the peer holds in part with what it should
// hold, and queues what follows: pushes of what a replica set member
// lacks, pulls of what this node lacks, metadata merges where the copies
// disagree, and beliefs about extra copies.
func (n *Node) settleLeaf(now overlay.Time, rd *round, sess *session, part Range, entries []Entry) {
	rd.stats.Leaves++
	rd.stats.LeafEntries += len(entries)
	have := make(map[string]int, len(entries))
	for i, e := range entries {
		have[entryIdent(e)] = i
	}
	matched := make([]bool, len(entries))
	var metas []BlockMeta
	var recPush []Record
	var recPull []RecordRef
	i, j := within(rd.items, rd.rng.Lo, part)
	for k := i; k < j; k++ {
		it := &rd.items[k]
		member := it.members&sess.bit != 0
		if ei, ok := have[it.ident]; ok {
			matched[ei] = true
			if !member && !it.uncertain {
				n.addBelief(it.ident, sess.peer.ID, now)
			}
			if !it.isRecord() && entries[ei].MetaHash != it.mhash {
				metas = append(metas, BlockMeta{CID: it.c, Meta: it.meta})
			}
			continue
		}
		switch {
		case member:
			sess.missing[k] = true
			if it.uncertain {
				continue
			}
			if it.isRecord() {
				data, err := n.store.GetRecord(it.name, it.ver)
				if err != nil {
					n.noteErr(err)
					continue
				}
				recPush = append(recPush, Record{Name: it.name, Version: it.ver, Data: data})
				continue
			}
			prio := 0
			if len(n.believed(it.ident)) > 0 {
				prio = 1 // other copies exist: a handoff, not a repair
			}
			if n.enqueue(Transfer{Peer: sess.peer, CID: it.c, Size: it.size}, prio) {
				rd.stats.Pushes++
			}
		case it.expect&sess.bit != 0 && !it.uncertain:
			n.removeBelief(it.ident, sess.peer.ID)
		}
	}
	for ei, e := range entries {
		if matched[ei] {
			continue
		}
		// The peer holds something this node lacks (or got after the
		// snapshot): pull it, as the primary of its key.
		if e.IsRecord() {
			if n.cfg.NameKey == nil || !part.Contains(n.cfg.NameKey(e.Name)) {
				continue
			}
			if _, err := n.store.GetRecord(e.Name, e.Version); errors.Is(err, ErrNotFound) {
				recPull = append(recPull, RecordRef{Name: e.Name, Version: e.Version})
			}
			continue
		}
		k, err := BlockKey(e.CID)
		if err != nil || !part.Contains(overlay.ID(k)) {
			continue
		}
		if has, err := n.store.HasBlock(e.CID); err != nil || has {
			n.noteErr(err)
			continue
		}
		if n.enqueue(Transfer{Pull: true, Peer: sess.peer, CID: e.CID, Size: e.Size}, 0) {
			rd.stats.Pulls++
		}
	}
	for len(metas) > 0 {
		k := min(len(metas), metaBatch)
		n.send(Message{Type: MsgMeta, To: sess.peer, Metas: metas[:k]})
		rd.stats.MetaSyncs += k
		metas = metas[k:]
	}
	n.sendRecords(sess.peer, recPush)
	rd.stats.RecordPushes += len(recPush)
	for len(recPull) > 0 {
		k := min(len(recPull), MaxItems)
		n.send(Message{Type: MsgRecordsReq, To: sess.peer, Refs: recPull[:k]})
		rd.stats.RecordPulls += k
		recPull = recPull[k:]
	}
}

// metaBatch bounds the metadata entries of one message (each at most a
// few KiB).
const metaBatch = 128

// sendRecords sends records to peer in messages of bounded size.
func (n *Node) sendRecords(peer overlay.NodeRef, recs []Record) {
	var batch []Record
	size := 0
	flush := func() {
		if len(batch) > 0 {
			n.send(Message{Type: MsgRecords, To: peer, Records: batch})
			n.totals.RecordsSent += uint64(len(batch))
		}
		batch, size = nil, 0
	}
	for _, r := range recs {
		if len(batch) == MaxRecords || size+len(r.Data)+len(r.Name)+32 > MaxMessageSize/2 {
			flush()
		}
		batch = append(batch, r)
		size += len(r.Data) + len(r.Name) + 32
	}
	flush()
}

// expire fails the requests whose time is up.
func (n *Node) expire(now overlay.Time) {
	rd := n.round
	var due []uint64
	for seq, rq := range rd.pending {
		if now >= rq.deadline || now >= rd.deadline {
			due = append(due, seq)
		}
	}
	slices.Sort(due)
	for _, seq := range due {
		if rq, ok := rd.pending[seq]; ok {
			n.requestFailed(now, seq, rq)
		}
	}
	if n.round != nil && now >= rd.deadline {
		n.finishRound(now)
	}
}

// requestFailed marks a request's session as failed: nothing it would
// have confirmed counts this round.
func (n *Node) requestFailed(now overlay.Time, seq uint64, rq *request) {
	delete(n.round.pending, seq)
	rq.sess.failed = true
	n.maybeFinish(now)
}

// maybeFinish ends the round once no request is in flight.
func (n *Node) maybeFinish(now overlay.Time) {
	if n.round != nil && len(n.round.pending) == 0 {
		n.finishRound(now)
	}
}

// finishRound counts what the round confirmed and asks holders of extra
// copies past their grace period to drop them, for items whose whole
// replica set confirmed its copy.
func (n *Node) finishRound(now overlay.Time) {
	rd := n.round
	n.round = nil
	for _, sess := range rd.sessions {
		if sess.failed {
			rd.stats.PeersFailed++
		}
	}
	drops := make(map[overlay.ID][]int)
	for k := range rd.items {
		it := &rd.items[k]
		confirmed := true
		for _, sess := range rd.sessions {
			if it.members&sess.bit != 0 && (sess.failed || sess.missing[k]) {
				confirmed = false
				break
			}
		}
		hs := n.extras[it.ident]
		rd.stats.Extras += len(hs)
		if !confirmed {
			rd.stats.UnderReplicated++
			continue
		}
		if it.isRecord() || it.uncertain {
			continue
		}
		for _, h := range slices.Clone(hs) {
			if now-h.since >= n.cfg.ExtraGrace {
				drops[h.id] = append(drops[h.id], k)
				n.removeBelief(it.ident, h.id)
			}
		}
	}
	for _, s := range rd.chain[1:] {
		ks := drops[s.ID]
		for len(ks) > 0 {
			b := min(len(ks), MaxItems)
			m := Message{Type: MsgDrop, To: s}
			for _, k := range ks[:b] {
				m.CIDs = append(m.CIDs, rd.items[k].c)
			}
			n.send(m)
			rd.stats.Drops += b
			n.totals.DropsSent += uint64(b)
			ks = ks[b:]
		}
	}
	rd.stats.End = now
	if rd.uncertain {
		n.nextRound = min(n.nextRound, now+n.cfg.ViewSettle)
	}
	n.last = rd.stats
	n.totals.Rounds++
}
