package overlay

import "slices"

// fingerRun says that fingers lo, lo+1, ... up to the next run's lo all
// point at node (the zero NodeRef: unset).
type fingerRun struct {
	lo   int
	node NodeRef
}

// fingerTable is Chord's finger table: finger i is the successor of
// self+2^i. Neighbouring fingers mostly agree (in a ring of N nodes there
// are only about log2 N distinct ones), so the table is stored as runs of
// equal entries, sorted by lo, covering [0, IDBits). That keeps a node at a
// few hundred bytes of fingers instead of 256 NodeRefs.
type fingerTable struct {
	runs []fingerRun
}

// reset unsets every finger.
func (t *fingerTable) reset() {
	t.runs = append(t.runs[:0], fingerRun{lo: 0})
}

// find returns the index of the run holding finger i.
func (t *fingerTable) find(i int) int {
	k, found := slices.BinarySearchFunc(t.runs, i, func(r fingerRun, i int) int { return r.lo - i })
	if !found {
		k--
	}
	return k
}

// get returns finger i.
func (t *fingerTable) get(i int) NodeRef { return t.runs[t.find(i)].node }

// runEnd returns the first finger after i that lies outside i's run.
func (t *fingerTable) runEnd(i int) int {
	if k := t.find(i); k+1 < len(t.runs) {
		return t.runs[k+1].lo
	}
	return IDBits
}

// split makes a run start at i (0 < i < IDBits) and returns its index.
func (t *fingerTable) split(i int) int {
	k := t.find(i)
	if t.runs[k].lo == i {
		return k
	}
	t.runs = slices.Insert(t.runs, k+1, fingerRun{lo: i, node: t.runs[k].node})
	return k + 1
}

// set points fingers lo..hi-1 at r.
func (t *fingerTable) set(lo, hi int, r NodeRef) {
	if lo >= hi {
		return
	}
	if k := t.find(lo); t.runs[k].node == r && (k+1 == len(t.runs) || t.runs[k+1].lo >= hi) {
		return // already so
	}
	a := t.split(lo)
	b := len(t.runs)
	if hi < IDBits {
		b = t.split(hi)
	}
	t.runs[a].node = r
	t.runs = slices.Delete(t.runs, a+1, b)
	t.merge()
}

// drop unsets every finger that points at id.
func (t *fingerTable) drop(id ID) {
	changed := false
	for k := range t.runs {
		if n := &t.runs[k].node; !n.IsZero() && n.ID == id {
			*n = NodeRef{}
			changed = true
		}
	}
	if changed {
		t.merge()
	}
}

// merge joins neighbouring runs that point at the same node.
func (t *fingerTable) merge() {
	out := t.runs[:1]
	for _, r := range t.runs[1:] {
		if r.node == out[len(out)-1].node {
			continue
		}
		out = append(out, r)
	}
	clear(t.runs[len(out):])
	t.runs = out
}

// appendDistinct appends the distinct set fingers other than self to dst,
// in finger order.
func (t *fingerTable) appendDistinct(dst []NodeRef, self ID) []NodeRef {
	start := len(dst)
	for _, r := range t.runs {
		if r.node.IsZero() || r.node.ID == self || slices.Contains(dst[start:], r.node) {
			continue
		}
		dst = append(dst, r.node)
	}
	return dst
}

// unset reports whether any finger is still unset.
func (t *fingerTable) unset() bool {
	for _, r := range t.runs {
		if r.node.IsZero() {
			return true
		}
	}
	return false
}

// fixFingers refreshes the finger table, walking the fingers from 0 up.
// Fingers whose start lies within the span of the successor list are
// filled from it without messages; the first one beyond that starts a
// lookup, and fixFingers stops until it finishes (fingerDone). After a
// join the table is filled back to back; afterwards one lookup runs per
// FixFingersInterval.
func (n *Node) fixFingers(now Time) {
	if !n.joined || n.fingerBusy {
		return
	}
	for n.fingerNext < IDBits {
		i := n.fingerNext
		if j, s, ok := n.localFingers(i); ok {
			n.fingers.set(i, j, s)
			n.fingerNext = j
			continue
		}
		f := n.fingers.get(i)
		if n.fingerInitial && !f.IsZero() {
			// Filling the table: a finger that is set (copied from the
			// successor, or by an earlier lookup) is left for the checks.
			n.fingerNext = n.fingers.runEnd(i)
			continue
		}
		if !n.fingerInitial && !f.IsZero() && f.ID != n.self.ID {
			// A finger that is set is checked with one request rather
			// than looked up again (fingerCheckReply).
			n.fingerBusy = true
			n.request(now, f, rpcFingerCheck, ID{}, nil)
			return
		}
		n.fingerBusy = true
		n.stats.InternalLookups++
		l := n.newLookup(now, n.self.ID.AddPow2(i), lookupFinger)
		l.finger = i
		if n.seedLookup(now, l) {
			n.advance(now, l)
		}
		return
	}
	n.fingerNext = 0
	n.fingerInitial = false
}

// localFingers tells finger i from n's own state if it can: fingers i..j-1
// all point at s.
//
// Finger i's start lies 2^i clockwise of n, so a successor at distance d
// covers it iff d >= 2^i, that is, iff bitLen(d) > i. The successor list
// is in clockwise order, so the first entry with bitLen(d) > i is finger
// i, and it stays so for every finger below bitLen(d).
func (n *Node) localFingers(i int) (j int, s NodeRef, ok bool) {
	succ := n.succs()
	k, _ := slices.BinarySearchFunc(succ, i, func(r NodeRef, i int) int {
		if bitLen(Distance(n.self.ID, r.ID)) > i {
			return 1
		}
		return -1
	})
	if k < len(succ) {
		return bitLen(Distance(n.self.ID, succ[k].ID)), succ[k], true
	}
	if len(succ) < n.cfg.SuccListLen {
		// The list holds the whole ring: the rest falls to n itself.
		return IDBits, n.self, true
	}
	if !n.pred.IsZero() && i >= bitLen(Distance(n.self.ID, n.pred.ID)) {
		// Finger i's start lies in (pred, n]: it falls to n itself.
		return IDBits, n.self, true
	}
	return 0, NodeRef{}, false
}

// fingerCheckReply finishes the check of finger n.fingerNext, which
// pointed at f, with f's state m: f stays the finger unless its
// predecessor lies at or after the finger's start (a node that joined
// since), which then takes its place. The fingers after it whose starts
// lie before f are set too.
func (n *Node) fingerCheckReply(now Time, f NodeRef, m Message) {
	n.fingerBusy = false
	i := n.fingerNext
	if n.left || i >= IDBits || n.fingers.get(i).ID != f.ID {
		return
	}
	var buf [2]NodeRef
	list := buf[:0]
	start := n.self.ID.AddPow2(i)
	if p := m.Pred; !p.IsZero() && p.ID != n.self.ID && (p.ID == start || Between(p.ID, start, f.ID)) && !n.suspected(now, p.ID) {
		list = append(list, p)
	}
	list = append(list, f)
	n.fingerNext = n.fillFingers(i, list)
}

// fingerCopyReply seeds the finger table of a node that has just joined
// from the fingers m of its successor s. s lies just after n, so s's
// finger i, the successor of s+2^i, is n's finger i or a node just after
// it: close enough to route by, and fingerCheckReply moves it back onto
// the right node later. Each finger that n's successor list does not give
// becomes the first of s's fingers at least 2^i clockwise of n. Fingers
// still unset are then looked up back to back.
func (n *Node) fingerCopyReply(now Time, m Message) {
	n.fingerBusy = false
	if n.left {
		return
	}
	far := m.Nodes
	for i := 0; i < IDBits; {
		if j, s, ok := n.localFingers(i); ok {
			n.fingers.set(i, j, s)
			i = j
			continue
		}
		// The first of far at least 2^i clockwise of n; far is in finger
		// order, so entries before it can be skipped for good.
		for len(far) > 0 && (far[0].IsZero() || far[0].ID == n.self.ID || bitLen(Distance(n.self.ID, far[0].ID)) <= i) {
			far = far[1:]
		}
		if len(far) == 0 {
			break
		}
		j := bitLen(Distance(n.self.ID, far[0].ID))
		if !n.suspected(now, far[0].ID) {
			n.fingers.set(i, j, far[0])
		}
		i = j
	}
	n.fingerNext = 0
	if !n.fingers.unset() {
		n.fingerInitial = false
		return
	}
	n.fixFingers(now)
}

// fingerDone finishes the lookup of finger l.finger with the successor
// list succ of its start. The fingers after it whose start that list
// covers are filled too.
func (n *Node) fingerDone(now Time, l *lookup, succ []NodeRef, err error) {
	n.fingerBusy = false
	if n.left {
		return
	}
	i := l.finger
	n.fingerNext = i + 1
	if err == nil && len(succ) > 0 {
		n.fingerNext = n.fillFingers(i, succ)
	}
	if n.fingerInitial {
		n.fixFingers(now)
	}
}

// fillFingers sets finger i and the following fingers whose starts succ,
// the successor list of finger i's start, covers. It returns the first
// finger it did not set.
func (n *Node) fillFingers(i int, succ []NodeRef) int {
	base := n.self.ID.AddPow2(i)
	k, kd := 0, Distance(base, succ[0].ID)
	j, lo := i, i // fingers lo..j-1 point at succ[k]
walk:
	for ; j < IDBits; j++ {
		dj := Distance(base, n.self.ID.AddPow2(j))
		for kd.Cmp(dj) < 0 { // succ[k] lies before finger j's start
			if k+1 == len(succ) {
				break walk
			}
			next := Distance(base, succ[k+1].ID)
			if next.Cmp(kd) <= 0 {
				break walk // out of order: trust no more of the list
			}
			n.fingers.set(lo, j, succ[k])
			lo, k, kd = j, k+1, next
		}
	}
	n.fingers.set(lo, j, succ[k])
	return j
}
