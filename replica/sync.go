package replica

import (
	"errors"
	"math/bits"
	"slices"

	"github.com/ipfs/go-cid"

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
	// remote lists the blocks of the primary range that successors listed
	// and this node lacks, by identity.
	remote map[string]*remoteItem
	stats  RoundStats
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

// remoteItem is a block of the primary range this node lacks, as the
// successors listed it during a round.
type remoteItem struct {
	c     cid.Cid
	size  int64
	mhash uint64
	found uint64 // bit i: successor i listed it
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
	lacking := make(map[string][]extraHolder)
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
		// replica set, and about members still in it that lack a copy;
		// forget the others.
		for _, h := range n.extras[it.ident] {
			j, ok := index[h.id]
			if !ok || j == 0 || it.members&(1<<(j-1)) != 0 {
				continue
			}
			it.expect |= 1 << (j - 1)
			extras[it.ident] = append(extras[it.ident], h)
		}
		for _, h := range n.lacking[it.ident] {
			j, ok := index[h.id]
			if !ok || j == 0 || it.members&(1<<(j-1)) == 0 {
				continue
			}
			it.expect &^= 1 << (j - 1)
			lacking[it.ident] = append(lacking[it.ident], h)
		}
	}
	n.extras, n.lacking = extras, lacking
	rd := &round{
		start:     now,
		deadline:  now + roundTimeouts*n.cfg.RPCTimeout,
		rng:       r,
		chain:     chain,
		items:     items,
		pending:   make(map[uint64]*request),
		remote:    make(map[string]*remoteItem),
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
			it.found |= sess.bit
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
			// Blocks are pushed, if at all, when the round ends and every
			// reachable copy has been counted (see finishRound).
			sess.missing[k] = true
			if it.uncertain || !it.isRecord() {
				continue
			}
			data, err := n.store.GetRecord(it.name, it.ver)
			if err != nil {
				n.noteErr(err)
				continue
			}
			recPush = append(recPush, Record{Name: it.name, Version: it.ver, Data: data})
		case it.expect&sess.bit != 0:
			sess.missing[k] = true
			if !it.uncertain {
				n.removeBelief(it.ident, sess.peer.ID)
			}
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
		// Whether to pull it is decided when the round ends, from the
		// copies every successor listed.
		ident := entryIdent(e)
		ri := rd.remote[ident]
		if ri == nil {
			ri = &remoteItem{c: e.CID, size: e.Size, mhash: e.MetaHash}
			rd.remote[ident] = ri
		}
		ri.found |= sess.bit
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

// finishRound counts, for every block, the copies the round confirmed:
// the node's own, the replica set members' and the extra copies held by
// other successors in scope (Carbonite's rule: every reachable copy
// counts, wherever it is). Then:
//
//   - a block with fewer than its target of confirmed copies, or with a
//     zone none of them covers, gets just enough new copies, pushed to the
//     replica set members that lack one (members in the uncovered zones
//     first), at once: this is repair;
//   - a block at full strength is not copied even when members lack it (a
//     member came back offline, a node joined ahead of the holders): the
//     extra copies stand in for them. A member that has stayed in the
//     replica set lacking a copy for HandoffDelay gets one (handoff), so that
//     a stable ring converges on its replica sets;
//   - an extra copy is dropped only when, without it, the target is still
//     met by confirmed copies, and has been at every round for ExtraGrace.
//     A round where the copy was needed (the others fell short, counting
//     unreachable sessions as holding what they held before) starts the
//     grace again, so copies that absorb transient failures are kept.
func (n *Node) finishRound(now overlay.Time) {
	rd := n.round
	n.round = nil
	failed := failedBits(rd)
	rd.stats.PeersFailed += bits.OnesCount64(failed)
	drops := make(map[overlay.ID][]int)
	short := make(map[string]overlay.Time)
	for k := range rd.items {
		it := &rd.items[k]
		rd.stats.Extras += len(n.extras[it.ident])
		if it.isRecord() {
			for _, sess := range rd.sessions {
				if it.members&sess.bit != 0 && (sess.failed || sess.missing[k]) {
					rd.stats.UnderReplicated++
					break
				}
			}
			continue
		}
		if it.uncertain {
			rd.stats.UnderReplicated++
			continue
		}
		var held uint64
		for _, sess := range rd.sessions {
			if !sess.failed && (it.found&sess.bit != 0 || it.expect&sess.bit != 0 && !sess.missing[k]) {
				held |= sess.bit
			}
		}
		unknown := it.expect & failed
		count := 1 + bits.OnesCount64(held)
		uncovered := n.uncovered(rd, it, held)
		lacking := it.members &^ held &^ failed
		n.trackLacking(rd, it, lacking, it.members&failed, now)
		if count < it.r || len(uncovered) > 0 {
			rd.stats.UnderReplicated++
			for i := range n.extras[it.ident] {
				n.extras[it.ident][i].since = now // every extra copy is needed
			}
			if len(uncovered) == 0 && n.delayRepair(it.ident, count, short, now) {
				continue
			}
			rd.stats.Pushes += n.repair(rd, it, lacking, it.r-count, uncovered)
			continue
		}
		for _, h := range n.lacking[it.ident] {
			if now-h.since < n.cfg.HandoffDelay {
				continue
			}
			if j := rd.chainIndex(h.id); j > 0 && lacking&(1<<(j-1)) != 0 {
				if n.enqueue(Transfer{Peer: rd.chain[j], CID: it.c, Size: it.size}, 1) {
					rd.stats.Pushes++
				}
			}
		}
		n.dropExtras(rd, k, held, unknown, count, now, drops)
	}
	n.settleRemote(rd, failed, short, now)
	n.short = short
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

// uncovered returns the zones of it that neither this node nor a holder in
// held (bits of the round's sessions) is in.
func (n *Node) uncovered(rd *round, it *item, held uint64) []string {
	return n.uncoveredBy(rd, it.zones, held, true)
}

// uncoveredBy returns the zones among zones that no holder in held (bits
// of the round's sessions), nor this node when self is set, is in.
func (n *Node) uncoveredBy(rd *round, zones []string, held uint64, self bool) []string {
	if len(zones) == 0 {
		return nil
	}
	var out []string
	for _, z := range zones {
		if self && z == n.cfg.Zone {
			continue
		}
		found := false
		for j, s := range rd.chain[1:] {
			if held&(1<<j) == 0 {
				continue
			}
			if zs, _ := n.zoneOf(s); zs == z {
				found = true
				break
			}
		}
		if !found {
			out = append(out, z)
		}
	}
	return out
}

// trackLacking keeps the beliefs about the replica set members that lack a
// copy of it (bits in lacking): a member seen lacking for the first time
// is noted with the time, one that holds a copy is forgotten. Members
// in unsure (their session failed) keep their belief as it was.
func (n *Node) trackLacking(rd *round, it *item, lacking, unsure uint64, now overlay.Time) {
	hs := n.lacking[it.ident]
	keep := hs[:0]
	for _, h := range hs {
		j := rd.chainIndex(h.id)
		if j > 0 && (lacking|unsure)&(1<<(j-1)) != 0 {
			keep = append(keep, h)
		}
	}
	for j, s := range rd.chain[1:] {
		if lacking&(1<<j) != 0 && !slices.ContainsFunc(keep, func(h extraHolder) bool { return h.id == s.ID }) {
			keep = append(keep, extraHolder{id: s.ID, since: now})
		}
	}
	if len(keep) == 0 {
		delete(n.lacking, it.ident)
	} else {
		n.lacking[it.ident] = keep
	}
}

// repair queues pushes of it to members in lacking (bits of the round's
// sessions) until need more copies exist and every zone in uncovered has
// one: members in uncovered zones first, then the others in ring order.
// It returns the number of pushes queued.
func (n *Node) repair(rd *round, it *item, lacking uint64, need int, uncovered []string) int {
	pushed := 0
	push := func(j int) {
		lacking &^= 1 << j
		need--
		if n.enqueue(Transfer{Peer: rd.chain[j+1], CID: it.c, Size: it.size}, 0) {
			pushed++
		}
	}
	for _, z := range uncovered {
		for j, s := range rd.chain[1:] {
			if lacking&(1<<j) == 0 {
				continue
			}
			if zs, _ := n.zoneOf(s); zs == z {
				push(j)
				break
			}
		}
	}
	for j := range rd.chain[1:] {
		if need <= 0 {
			break
		}
		if lacking&(1<<j) != 0 {
			push(j)
		}
	}
	return pushed
}

// dropExtras decides, for item k at full strength, which extra copies go:
// the farthest first, each only when the confirmed copies left without it
// still meet the target and cover the zones, and only once that has been
// so at every round for ExtraGrace. An extra copy the others could not do
// without (counting the holders whose session failed as holding) has its
// grace started again.
func (n *Node) dropExtras(rd *round, k int, held, unknown uint64, count int, now overlay.Time, drops map[overlay.ID][]int) {
	it := &rd.items[k]
	hs := n.extras[it.ident]
	if len(hs) == 0 {
		return
	}
	pos := make([]int, len(hs))
	order := make([]int, len(hs))
	for i, h := range hs {
		order[i] = i
		pos[i] = rd.chainIndex(h.id) - 1
	}
	slices.SortFunc(order, func(a, b int) int { return pos[b] - pos[a] })
	var gone []overlay.ID
	for _, i := range order {
		j := pos[i]
		if j < 0 || held&(1<<j) == 0 {
			continue // not confirmed this round: neither counted nor dropped
		}
		bit := uint64(1) << j
		spare := count-1 >= it.r && len(n.uncovered(rd, it, held&^bit)) == 0
		if !spare {
			optimistic := count + bits.OnesCount64(unknown&^held)
			if optimistic-1 < it.r || len(n.uncovered(rd, it, (held|unknown)&^bit)) > 0 {
				hs[i].since = now
			}
			continue
		}
		if now-hs[i].since < n.cfg.ExtraGrace {
			continue
		}
		drops[hs[i].id] = append(drops[hs[i].id], k)
		gone = append(gone, hs[i].id)
		held &^= bit
		count--
	}
	for _, id := range gone {
		n.removeBelief(it.ident, id)
	}
}

// settleRemote decides, for the blocks of the primary range that this
// node lacks and successors hold, whether to pull them. The primary must
// hold a block to look after it, but a copy that is not needed is not
// made: a block is pulled at once when the copies listed fall short of
// its target (or of a zone), and otherwise only once this node has lacked
// it for HandoffDelay (handoff to the primary, as to any member). The
// target comes from the block's metadata: none means DefaultReplicas and
// no zones; otherwise the metadata is asked from a holder first (MsgMeta)
// and, until it is known, only a block listed once is pulled. failed holds
// the bits of the round's failed sessions.
func (n *Node) settleRemote(rd *round, failed uint64, short map[string]overlay.Time, now overlay.Time) {
	lacking := make(map[string]overlay.Time, len(rd.remote))
	metas := make(map[string]Meta)
	ids := make([]string, 0, len(rd.remote))
	for ident := range rd.remote {
		ids = append(ids, ident)
	}
	slices.Sort(ids)
	ask := make(map[int][]BlockMeta)
	for _, ident := range ids {
		ri := rd.remote[ident]
		if ri.found&^failed == 0 {
			continue
		}
		since, ok := n.selfLacking[ident]
		if !ok {
			since = now
		}
		lacking[ident] = since
		count := bits.OnesCount64(ri.found)
		first := bits.TrailingZeros64(ri.found)
		pull := func(prio int) {
			if n.enqueue(Transfer{Pull: true, Peer: rd.chain[first+1], CID: ri.c, Size: ri.size}, prio) {
				rd.stats.Pulls++
			}
		}
		var m Meta
		known := ri.mhash == 0
		if !known {
			if cm, ok := n.remoteMeta[ident]; ok && cm.Hash() == ri.mhash {
				m, known = cm, true
				metas[ident] = cm
			}
		}
		if !known {
			ask[first] = append(ask[first], BlockMeta{CID: ri.c})
			if count <= 1 {
				pull(0)
			}
			continue
		}
		r, zones := m.Replicas(n.cfg.DefaultReplicas), m.Zones()
		if uncovered := n.uncoveredBy(rd, zones, ri.found, false); count < r || len(uncovered) > 0 {
			if len(uncovered) > 0 || !n.delayRepair(ident, count, short, now) {
				pull(0)
			}
			continue
		}
		if now-since >= n.cfg.HandoffDelay {
			pull(1)
		}
	}
	n.selfLacking, n.remoteMeta = lacking, metas
	for j, bms := range ask {
		for len(bms) > 0 {
			k := min(len(bms), metaBatch)
			n.send(Message{Type: MsgMeta, To: rd.chain[j+1], Metas: bms[:k]})
			bms = bms[k:]
		}
	}
}

// chainIndex returns the position of id in the round's chain (0 is this
// node, j+1 the peer of sessions[j]), or -1.
func (rd *round) chainIndex(id overlay.ID) int {
	return slices.IndexFunc(rd.chain, func(s overlay.NodeRef) bool { return s.ID == id })
}

// failedBits returns the bits of the round's failed sessions.
func failedBits(rd *round) uint64 {
	var b uint64
	for _, sess := range rd.sessions {
		if sess.failed {
			b |= sess.bit
		}
	}
	return b
}

// delayRepair reports whether the repair of a block with count reachable
// copies, short of its target, is to wait: RepairDelay (LastCopyDelay
// when a single copy is reachable) has not passed since a round first
// found it short (and every round since did). It notes the block in
// short, the shortages of this round, and asks for a round when the delay
// ends. The clock is this core's: a new primary starts it again, which is
// why a lone copy must not wait the whole delay (primaries with sessions
// shorter than the delay would put its repair off for ever).
func (n *Node) delayRepair(ident string, count int, short map[string]overlay.Time, now overlay.Time) bool {
	delay := n.cfg.RepairDelay
	if count <= 1 {
		delay = n.cfg.LastCopyDelay // the last copy reachable: do not wait as long
	}
	if delay <= 0 {
		return false
	}
	since, ok := n.short[ident]
	if !ok {
		since = now
	}
	short[ident] = since
	if now-since >= delay {
		return false
	}
	n.nextRound = min(n.nextRound, since+delay)
	return true
}
