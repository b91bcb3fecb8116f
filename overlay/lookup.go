package overlay

import (
	"errors"
	"fmt"
	"slices"
)

// ErrLookupFailed is the Err of a LookupResult that found no live successor.
var ErrLookupFailed = errors.New("lookup failed")

var (
	errNoLiveSuccessor = fmt.Errorf("%w: no live successor found", ErrLookupFailed)
	errTimedOut        = fmt.Errorf("%w: lookup timeout", ErrLookupFailed)
	errNotJoined       = fmt.Errorf("%w: node is not in a ring", ErrLookupFailed)
	errLeft            = fmt.Errorf("%w: node left the ring", ErrLookupFailed)
)

const (
	// closerNodes is how many closest preceding nodes a FindSucc reply
	// that is not Done carries.
	closerNodes = 4
	// seedNodes is how many closest preceding nodes of its own a lookup's
	// originator starts with.
	seedNodes = 8
	// maxCandidates bounds each candidate list of a lookup.
	maxCandidates = 64
)

// LookupID names a lookup started with Node.Lookup.
type LookupID uint64

// LookupResult is a finished user lookup.
type LookupResult struct {
	ID  LookupID
	Key ID
	// Successors is the key's successor followed by that node's successor
	// list: the key's replica set.
	Successors []NodeRef
	// Hops is the depth of the chain of requests that produced the answer,
	// the final probe of the successor included: 1 when the originator's
	// own successor list held the answer, 0 when the originator is the
	// key's successor.
	Hops int
	// Timeouts counts the requests of the lookup that timed out or could
	// not be sent.
	Timeouts int
	// Err is nil or wraps ErrLookupFailed.
	Err        error
	Start, End Time
}

// lookupKind tells who started a lookup and gets its result.
type lookupKind uint8

const (
	lookupUser   lookupKind = iota // Node.Lookup: reported through Ready
	lookupJoin                     // Node.Join
	lookupFinger                   // fix-fingers
)

// candState is where a lookup stands with one candidate.
type candState uint8

const (
	candNew      candState = iota // not asked yet
	candInflight                  // request in flight
	candAnswered                  // replied
	candFailed                    // timed out or unreachable
)

// candidate is a node a lookup knows about.
type candidate struct {
	ref  NodeRef
	dist ID // to the key, in the list's sense
	// nodes is the successor list a probed successor answered with.
	nodes []NodeRef
	// depth is the number of requests in the chain that revealed the
	// node: 0 for the originator's own state.
	depth    int32
	state    candState
	gaveDone bool // answered a FindSucc with Done
	expanded bool // was asked for its successor list after gaveDone
	// waitFor marks a node preceding the key whose answer the lookup
	// waits for before it trusts a probe (see verifyVia).
	waitFor bool
}

// lookup is an iterative lookup driven by its originator, in the style of
// Kademlia: candidates ordered by closeness to the key, at most
// LookupParallelism requests in flight, dead nodes routed around.
//
// cands holds nodes that precede the key (asked with FindSucc, closest to
// the key first); probes holds candidate successors of the key (asked with
// GetState, closest to the key first). The first probe that is not dead
// and answers is the key's successor.
type lookup struct {
	id       LookupID
	kind     lookupKind
	finger   int // for lookupFinger
	key      ID
	start    Time
	deadline Time
	cands    []candidate
	probes   []candidate
	inflight int
	// verifying counts the requests in flight to waitFor candidates;
	// they are also counted in inflight.
	verifying int
	timeouts  int
	hops      int // deepest answer so far
	done      bool
	buf       [16]candidate // initial backing of cands and probes
}

// Lookup starts an iterative lookup of key and returns its ID. The result
// comes out of Ready, possibly at once (a node that is not in a ring fails
// every lookup).
func (n *Node) Lookup(now Time, key ID) LookupID {
	n.stats.LookupsStarted++
	l := n.newLookup(now, key, lookupUser)
	if !n.joined {
		err := errNotJoined
		if n.left {
			err = errLeft
		}
		n.finishLookup(now, l, nil, 0, err)
		return l.id
	}
	if n.seedLookup(now, l) {
		n.advance(now, l)
	}
	return l.id
}

// newLookup registers a new lookup.
func (n *Node) newLookup(now Time, key ID, kind lookupKind) *lookup {
	n.lastLookup++
	l := &lookup{id: n.lastLookup, kind: kind, key: key, start: now, deadline: now + n.cfg.LookupTimeout}
	l.cands, l.probes = l.buf[:0:10], l.buf[10:10]
	n.lookups = append(n.lookups, l)
	return l
}

// seedLookup does the originator's part of lookup l from its own state,
// without messages. It reports false if that finished the lookup.
func (n *Node) seedLookup(now Time, l *lookup) bool {
	succ := n.succs()
	if len(succ) == 0 || (!n.pred.IsZero() && BetweenRightIncl(l.key, n.pred.ID, n.self.ID)) {
		n.finishLookup(now, l, n.chain, 0, nil)
		return false
	}
	for i, s := range succ {
		if BetweenRightIncl(l.key, n.self.ID, s.ID) {
			for _, r := range succ[i:] {
				n.addProbe(now, l, r, 0)
			}
			if i > 0 {
				n.verifyVia(now, l, succ[i-1], 0)
			}
			break
		}
	}
	// Preceding nodes too: should every listed successor be dead, they
	// lead to the live one.
	var buf [seedNodes]NodeRef
	for _, r := range n.closestPreceding(now, buf[:0], l.key, seedNodes) {
		n.addCand(now, l, r, 0)
	}
	return true
}

// handleFindSucc answers a FindSucc request m (see MsgFindSuccReply).
func (n *Node) handleFindSucc(now Time, m Message) {
	reply := Message{Type: MsgFindSuccReply, To: m.From, Seq: m.Seq, Key: m.Key}
	if n.joined {
		key, succ := m.Key, n.succs()
		if len(succ) == 0 || (!n.pred.IsZero() && BetweenRightIncl(key, n.pred.ID, n.self.ID)) {
			reply.Done, reply.Nodes = true, n.chain
		} else {
			for i, s := range succ {
				if BetweenRightIncl(key, n.self.ID, s.ID) {
					reply.Done, reply.Nodes = true, succ[i:]
					if i > 0 {
						// The entry before the key's successor: its
						// own successor is fresher than our deep entry.
						reply.Pred = succ[i-1]
					}
					break
				}
			}
			if !reply.Done {
				reply.Nodes = n.closestPreceding(now, make([]NodeRef, 0, closerNodes), key, closerNodes)
			}
		}
	}
	n.send(reply)
}

// closestPreceding appends to dst up to want (at most 16) nodes of n's
// successor list and fingers that lie in (self, key), closest to key
// first. Nodes suspected at now are left out, so that live ones further
// back make the list.
func (n *Node) closestPreceding(now Time, dst []NodeRef, key ID, want int) []NodeRef {
	type entry struct {
		d ID // from self: larger is closer to key
		r NodeRef
	}
	var best [16]entry
	want = min(want, len(best))
	cnt := 0
	dk := Distance(n.self.ID, key)
	// consider reports false for a node it leaves out for good.
	consider := func(r NodeRef) bool {
		if r.IsZero() {
			return false
		}
		d := Distance(n.self.ID, r.ID)
		if d == (ID{}) || d.Cmp(dk) >= 0 {
			return false // n itself, or not before key
		}
		if len(n.suspects) > 0 && n.suspected(now, r.ID) {
			return false
		}
		pos := cnt
		for pos > 0 && best[pos-1].d.Cmp(d) < 0 {
			pos--
		}
		if pos >= want || (pos > 0 && best[pos-1].d == d) {
			return true
		}
		if cnt < want {
			cnt++
		}
		copy(best[pos+1:cnt], best[pos:cnt-1])
		best[pos] = entry{d, r}
		return true
	}
	// The successor list is in clockwise order: only its entries before
	// the key count, and the last of them are the closest.
	succ := n.succs()
	k, _ := slices.BinarySearchFunc(succ, dk, func(r NodeRef, dk ID) int {
		return Distance(n.self.ID, r.ID).Cmp(dk)
	})
	for i, taken := k-1, 0; i >= 0 && taken < want; i-- {
		if consider(succ[i]) {
			taken++
		}
	}
	for _, fr := range n.fingers.runs {
		consider(fr.node)
	}
	for _, e := range best[:cnt] {
		dst = append(dst, e.r)
	}
	return dst
}

// failed reports whether id is known dead to lookup l.
func (l *lookup) failed(id ID) bool {
	for _, list := range [2][]candidate{l.cands, l.probes} {
		for i := range list {
			if list[i].state == candFailed && list[i].ref.ID == id {
				return true
			}
		}
	}
	return false
}

// insertCand inserts r at distance d into list, sorted by dist, unless it
// is there, and returns the list and r's index, or -1 if r was not added.
func insertCand(list []candidate, r NodeRef, d ID, depth int32) ([]candidate, int) {
	i := len(list)
	for k := range list {
		if c := list[k].dist.Cmp(d); c >= 0 {
			if c == 0 {
				return list, k // same distance: same node
			}
			i = k
			break
		}
	}
	if i >= maxCandidates {
		return list, -1
	}
	list = slices.Insert(list, i, candidate{ref: r, dist: d, depth: depth})
	if len(list) > maxCandidates && list[len(list)-1].state == candNew {
		list = list[:len(list)-1]
	}
	return list, i
}

// addCand adds r, learned at depth, to l's nodes preceding the key,
// unless r is known or presumed dead.
func (n *Node) addCand(now Time, l *lookup, r NodeRef, depth int32) {
	if r.IsZero() || r.ID == n.self.ID || l.failed(r.ID) || n.suspected(now, r.ID) {
		return
	}
	l.cands, _ = insertCand(l.cands, r, Distance(r.ID, l.key), depth)
}

// addProbe adds r, learned at depth, to l's candidate successors and
// returns it (nil if it was not added: known or presumed dead).
func (n *Node) addProbe(now Time, l *lookup, r NodeRef, depth int32) *candidate {
	if r.IsZero() || (r.ID == n.self.ID && l.kind == lookupJoin) || l.failed(r.ID) || n.presumedDead(now, r.ID) {
		return nil
	}
	var i int
	l.probes, i = insertCand(l.probes, r, Distance(l.key, r.ID), depth)
	if i < 0 {
		return nil
	}
	if p := n.pred; r.ID == n.self.ID && !p.IsZero() && (p.ID == l.key || Between(p.ID, l.key, r.ID)) {
		// n's own predecessor lies between the key and n: a closer
		// successor than n.
		n.addProbe(now, l, p, depth)
		i = slices.IndexFunc(l.probes, func(c candidate) bool { return c.ref.ID == r.ID })
	}
	return &l.probes[i]
}

// find returns the entry of id in list, or nil.
func find(list []candidate, id ID) *candidate {
	for i := range list {
		if list[i].ref.ID == id {
			return &list[i]
		}
	}
	return nil
}

// advance sends what lookup l can send now, or finishes it. The first
// probe that is not dead decides: answered, it is the result; otherwise
// the lookup waits for it (probing the next ones alongside once requests
// of the lookup have failed). Without probes, up to LookupParallelism
// preceding nodes are asked, closest to the key first. When everything has
// been tried, the originator's own state is consulted again (reseed), and
// then nodes that answered are asked for their successor lists (whose
// entries may lead past dead nodes), before the lookup fails.
func (n *Node) advance(now Time, l *lookup) {
	// Verification requests do not take the slots of the others.
	alpha := n.cfg.LookupParallelism + l.verifying
	// Once a request of this lookup has failed, dead successors are likely
	// about: probe the next candidates alongside the first.
	ahead := 1
	if l.timeouts > 0 {
		ahead = alpha
	}
	waiting := 0
	for i := range l.probes {
		c := &l.probes[i]
		if c.state == candFailed {
			continue
		}
		if waiting == 0 && l.verifying == 0 {
			switch {
			case c.state == candAnswered:
				n.finishLookup(now, l, successorsOf(c.ref, c.nodes), int(c.depth)+1, nil)
				return
			case c.ref.ID == n.self.ID:
				n.finishLookup(now, l, n.chain, int(c.depth), nil)
				return
			}
		}
		if c.state == candNew && c.ref.ID != n.self.ID && l.inflight < alpha {
			c.state = candInflight
			l.inflight++
			n.request(now, c.ref, rpcProbe, l.key, l)
		}
		if waiting++; waiting >= ahead {
			break
		}
	}
	if waiting > 0 {
		return
	}
	for {
		for i := 0; i < len(l.cands) && l.inflight < alpha; i++ {
			if c := &l.cands[i]; c.state == candNew {
				c.state = candInflight
				l.inflight++
				n.request(now, c.ref, rpcQuery, l.key, l)
			}
		}
		if l.inflight > 0 {
			return
		}
		if !n.reseed(now, l) {
			break
		}
	}
	for i := range l.cands {
		if c := &l.cands[i]; c.state == candAnswered && !c.expanded {
			c.expanded = true
			l.inflight++
			n.request(now, c.ref, rpcExpand, l.key, l)
			return
		}
	}
	n.finishLookup(now, l, nil, 0, errNoLiveSuccessor)
}

// reseed adds to lookup l the closest preceding nodes of the originator's
// own state that l has not tried: the state has lost the nodes found dead
// meanwhile, so fresh ones come up. It reports whether any was added.
func (n *Node) reseed(now Time, l *lookup) bool {
	if l.kind == lookupJoin || !n.joined {
		return false
	}
	before := len(l.cands)
	var buf [seedNodes]NodeRef
	for _, r := range n.closestPreceding(now, buf[:0], l.key, seedNodes) {
		n.addCand(now, l, r, 0)
	}
	return len(l.cands) > before
}

// verifyVia makes user and join lookup l ask p, a node that precedes the
// key according to a successor list entry learned at depth, about the key,
// and wait for the answer before it trusts a probe. The deeper a successor
// list entry, the staler: a node that joined between p and the key
// appears first in p's own successor, which p's stabilize keeps fresh, and
// only rounds later deep in the lists of the nodes before p. A lookup that
// trusted such an entry would skip the newcomer; asking p costs one
// request in parallel with the probe, and a hop only when p knows better.
func (n *Node) verifyVia(now Time, l *lookup, p NodeRef, depth int32) {
	if l.kind == lookupFinger || p.IsZero() || p.ID == n.self.ID || l.failed(p.ID) || n.presumedDead(now, p.ID) {
		return
	}
	var i int
	l.cands, i = insertCand(l.cands, p, Distance(p.ID, l.key), depth)
	if i < 0 {
		return
	}
	c := &l.cands[i]
	if c.waitFor || (c.state != candNew && c.state != candInflight) {
		return
	}
	c.waitFor = true
	l.verifying++
	if c.state == candNew {
		c.state = candInflight
		l.inflight++
		n.request(now, c.ref, rpcQuery, l.key, l)
	}
}

// successorsOf returns [s] followed by list without s.
func successorsOf(s NodeRef, list []NodeRef) []NodeRef {
	out := make([]NodeRef, 1, 1+len(list))
	out[0] = s
	for _, r := range list {
		if r.ID != s.ID {
			out = append(out, r)
		}
	}
	return out
}

// queryReply handles the reply m to a FindSucc of lookup l.
func (n *Node) queryReply(now Time, l *lookup, m Message) {
	l.inflight--
	c := find(l.cands, m.From.ID)
	if c == nil {
		return
	}
	if c.waitFor && c.state == candInflight {
		l.verifying--
	}
	c.state = candAnswered
	depth := c.depth + 1
	l.hops = max(l.hops, int(depth))
	if m.Done {
		c.gaveDone = true
		if p := m.Pred; !p.IsZero() && Between(p.ID, m.From.ID, l.key) {
			n.verifyVia(now, l, p, depth)
		}
		nodes := m.Nodes
		if len(nodes) > 0 && nodes[0].ID == m.From.ID {
			// The replier is the key's successor itself: no probe needed.
			if p := n.addProbe(now, l, m.From, c.depth); p != nil && p.state != candFailed {
				p.state, p.nodes = candAnswered, nodes[1:]
			}
			nodes = nodes[1:]
		}
		for _, r := range nodes {
			n.addProbe(now, l, r, depth)
		}
	} else {
		far := Distance(m.From.ID, l.key)
		for _, r := range m.Nodes {
			if Distance(r.ID, l.key).Cmp(far) < 0 {
				n.addCand(now, l, r, depth)
			}
		}
	}
	n.advance(now, l)
}

// probeReply handles the reply m to a GetState probe of lookup l.
func (n *Node) probeReply(now Time, l *lookup, m Message) {
	l.inflight--
	c := find(l.probes, m.From.ID)
	if c == nil {
		return
	}
	c.state, c.nodes = candAnswered, m.Nodes
	depth := c.depth + 1
	l.hops = max(l.hops, int(depth))
	// A predecessor of the probed node that lies at or after the key is a
	// closer successor (it joined recently); try it first.
	if p := m.Pred; !p.IsZero() && (p.ID == l.key || Between(p.ID, l.key, m.From.ID)) {
		n.addProbe(now, l, p, depth)
	}
	n.advance(now, l)
}

// expandReply handles the successor list m of a node that answered l with
// Done: its entries before the key become candidates, the others probes.
func (n *Node) expandReply(now Time, l *lookup, m Message) {
	l.inflight--
	c := find(l.cands, m.From.ID)
	if c == nil {
		return
	}
	depth := c.depth + 1
	far := Distance(m.From.ID, l.key)
	for _, r := range m.Nodes {
		if Distance(r.ID, l.key).Cmp(far) < 0 {
			n.addCand(now, l, r, depth)
		} else {
			n.addProbe(now, l, r, depth)
		}
	}
	n.advance(now, l)
}

// lookupRPCFailed handles a request of lookup r.lk that failed.
func (n *Node) lookupRPCFailed(now Time, r rpc) {
	l := r.lk
	l.inflight--
	l.timeouts++
	for _, list := range [2][]candidate{l.cands, l.probes} {
		if c := find(list, r.to.ID); c != nil {
			if c.waitFor && c.state == candInflight {
				l.verifying--
			}
			c.state = candFailed
		}
	}
	n.advance(now, l)
}

// expireLookups fails every lookup whose LookupTimeout has passed.
func (n *Node) expireLookups(now Time) {
	for {
		i := slices.IndexFunc(n.lookups, func(l *lookup) bool { return l.deadline <= now })
		if i < 0 {
			return
		}
		n.finishLookup(now, n.lookups[i], nil, 0, errTimedOut)
	}
}

// finishLookup ends lookup l with successor list succ (nil on error) and
// hands the result to whoever started it.
func (n *Node) finishLookup(now Time, l *lookup, succ []NodeRef, hops int, err error) {
	if l.done {
		return
	}
	l.done = true
	n.dropLookupRPCs(l)
	if i := slices.Index(n.lookups, l); i >= 0 {
		n.lookups = slices.Delete(n.lookups, i, i+1)
	}
	switch l.kind {
	case lookupUser:
		res := LookupResult{ID: l.id, Key: l.key, Hops: hops, Timeouts: l.timeouts, Err: err, Start: l.start, End: now}
		if err != nil {
			n.stats.LookupsFailed++
			res.Hops = l.hops
		} else {
			res.Successors = slices.Clone(succ)
		}
		n.results = append(n.results, res)
	case lookupJoin:
		n.joinDone(now, succ, l.precedingDone(), err)
	case lookupFinger:
		n.fingerDone(now, l, succ, err)
	}
}

// precedingDone returns the node closest before l's key that answered it
// with Done, that is, the node that took the key's successor for its own:
// the predecessor of the key as far as the lookup knows. It returns the
// zero NodeRef if there is none.
func (l *lookup) precedingDone() NodeRef {
	for i := range l.cands {
		if c := &l.cands[i]; c.gaveDone && c.state == candAnswered {
			return c.ref
		}
	}
	return NodeRef{}
}

// joinDone finishes the join lookup with the successor list succ and pred,
// the node that answered the lookup (zero if none).
func (n *Node) joinDone(now Time, succ []NodeRef, pred NodeRef, err error) {
	n.joining = false
	if n.joined || n.left {
		return
	}
	if err != nil || len(succ) == 0 {
		n.joinRetryAt = now + n.cfg.StabilizeInterval
		return
	}
	n.becomeJoined(now, succ)
	// Tell the predecessor-to-be at once too: it takes n as its successor
	// (handleNotify) instead of waiting for its stabilize to find n, during
	// which lookups through it would skip n.
	if !pred.IsZero() && pred.ID != n.self.ID && len(n.chain) > 1 && pred.ID != n.chain[1].ID {
		n.notify(pred)
	}
}
