package overlay

import "slices"

// stabilize asks the successor for its predecessor and successor list
// (MsgGetState); stabilizeReply finishes the round. In a ring of one it
// adopts the predecessor, if any, as successor.
func (n *Node) stabilize(now Time) {
	if !n.joined || n.stabilizing || !n.maintenance {
		return
	}
	if len(n.chain) == 1 {
		if n.pred.IsZero() {
			return
		}
		n.setSuccessors(now, []NodeRef{n.pred})
	}
	n.stabilizing = true
	n.request(now, n.chain[1], rpcStabilize, ID{}, nil)
}

// stabilizeReply finishes a stabilize round with the reply m of successor
// s: adopt s's predecessor if it lies between n and s, rebuild the
// successor list from s's, and notify the (new) successor.
func (n *Node) stabilizeReply(now Time, s NodeRef, m Message) {
	n.stabilizing = false
	if len(n.chain) < 2 || n.chain[1].ID != s.ID {
		return // the successor changed meanwhile; the next round will do
	}
	head := [2]NodeRef{m.Pred, s}
	first := head[1:]
	if p := m.Pred; !p.IsZero() && Between(p.ID, n.self.ID, s.ID) && !n.presumedDead(now, p.ID) {
		first = head[:]
	}
	n.setSuccessors(now, first, m.Nodes)
	if len(n.chain) > 1 {
		n.notify(n.chain[1])
	}
}

// notify tells s that n believes it is s's predecessor.
func (n *Node) notify(s NodeRef) {
	n.send(Message{Type: MsgNotify, To: s})
}

// handleNotify adopts p as predecessor if it is closer than the current
// one. A node alone in its ring also takes p as its successor, and so does
// a node whose successor lies beyond p: p has just joined between them and
// tells its predecessor-to-be (joinDone). It is notified back at once, so
// that it learns its predecessor.
func (n *Node) handleNotify(now Time, p NodeRef) {
	if !n.joined || p.IsZero() || p.ID == n.self.ID {
		return
	}
	if len(n.chain) > 1 && Between(p.ID, n.self.ID, n.chain[1].ID) {
		n.setSuccessors(now, []NodeRef{p}, n.succs())
		n.notify(p)
		return
	}
	if n.pred.IsZero() || Between(p.ID, n.pred.ID, n.self.ID) {
		n.pred = p
		n.integrated = true
	}
	if len(n.chain) == 1 {
		n.setSuccessors(now, []NodeRef{p})
		n.stabilize(now)
	}
}

// checkPredecessor pings the predecessor; it is cleared if the ping fails.
// A predecessor heard from since the last check (it notifies n every
// stabilize round) is known to be alive and is not pinged.
func (n *Node) checkPredecessor(now Time) {
	if n.pred.IsZero() || n.pinging {
		return
	}
	if n.predHeard {
		n.predHeard = false
		return
	}
	n.pinging = true
	n.request(now, n.pred, rpcCheckPred, ID{}, nil)
}

// handleLeave closes the gap left by m.From: its successor list replaces
// ours if it was our successor, its predecessor becomes ours if it was our
// predecessor, and it disappears from our routing state either way.
func (n *Node) handleLeave(now Time, m Message) {
	if !n.joined {
		return
	}
	from := m.From.ID
	if !n.pred.IsZero() && n.pred.ID == from {
		n.pred = NodeRef{}
		if p := m.Pred; !p.IsZero() && p.ID != n.self.ID && p.ID != from {
			n.pred = p
			n.integrated = true
		}
	}
	if len(n.chain) > 1 && n.chain[1].ID == from {
		// from's list is fresher than ours; ours backs it up. from itself
		// is dropped below should a stale list still name it.
		n.setSuccessors(now, m.Nodes, n.chain[2:])
		if len(n.chain) > 1 {
			n.notify(n.chain[1])
		}
	}
	n.dropNode(now, from)
}

// succFilter accepts the entries of a successor list in clockwise order
// from node.self: duplicates, self, entries out of order (a wrapped or
// stale list) and nodes presumed dead are skipped, and at most max entries
// are accepted.
type succFilter struct {
	node *Node
	now  Time
	max  int
	n    int
	last ID
}

func (f *succFilter) accept(r NodeRef) bool {
	if f.n >= f.max || r.IsZero() || f.node.presumedDead(f.now, r.ID) {
		return false
	}
	d := Distance(f.node.self.ID, r.ID)
	if d == (ID{}) || (f.n > 0 && d.Cmp(f.last) <= 0) {
		return false
	}
	f.last = d
	f.n++
	return true
}

// setSuccessors makes the concatenation of parts the successor list at
// time now, as
// filtered by succFilter and truncated to SuccListLen. An empty result
// makes n a ring of one. n.chain is replaced only if the list changed.
func (n *Node) setSuccessors(now Time, parts ...[]NodeRef) {
	f := succFilter{node: n, now: now, max: n.cfg.SuccListLen}
	same := true
	for _, p := range parts {
		for _, r := range p {
			if f.accept(r) && same && (f.n >= len(n.chain) || n.chain[f.n] != r) {
				same = false
			}
		}
	}
	if same && f.n+1 == len(n.chain) {
		return
	}
	out := make([]NodeRef, 1, f.n+1)
	out[0] = n.self
	f = succFilter{node: n, now: now, max: n.cfg.SuccListLen}
	for _, p := range parts {
		for _, r := range p {
			if f.accept(r) {
				out = append(out, r)
			}
		}
	}
	n.chain = out
}

// dropNode forgets the presumed-dead node id: it leaves the successor list
// (if the list runs empty, the closest other known node, or else n itself,
// becomes the successor), the predecessor and the fingers.
func (n *Node) dropNode(now Time, id ID) {
	if id == n.self.ID {
		return
	}
	if !n.pred.IsZero() && n.pred.ID == id {
		n.pred = NodeRef{}
	}
	n.fingers.drop(id)
	if !n.joined {
		return
	}
	i := slices.IndexFunc(n.chain, func(r NodeRef) bool { return r.ID == id })
	if i < 0 {
		return
	}
	if len(n.chain) > 2 {
		n.setSuccessors(now, n.chain[1:i], n.chain[i+1:])
		return
	}
	// The last successor is gone: fall back on the closest other node we
	// know, or else on ourselves.
	list := n.fingers.appendDistinct(nil, n.self.ID)
	if !n.pred.IsZero() {
		list = append(list, n.pred)
	}
	slices.SortFunc(list, func(a, b NodeRef) int {
		return Distance(n.self.ID, a.ID).Cmp(Distance(n.self.ID, b.ID))
	})
	n.setSuccessors(now, list[:min(len(list), 1)])
}
