package overlay

// maxSuspects bounds the nodes a node remembers as presumed dead.
const maxSuspects = 16

// suspect is a node presumed dead since a request to it failed.
type suspect struct {
	id    ID
	until Time
	sure  bool // presumed dead, not just late once
}

// suspectNode remembers id as presumed dead until now+LookupTimeout, so
// that lookups do not try it again when other nodes' stale state names it.
// The oldest entry makes room when the list is full.
func (n *Node) suspectNode(now Time, id ID, sure bool) {
	until := now + n.cfg.LookupTimeout
	for i := range n.suspects {
		if n.suspects[i].id == id {
			n.suspects[i].until = until
			n.suspects[i].sure = n.suspects[i].sure || sure
			return
		}
	}
	if len(n.suspects) == maxSuspects {
		copy(n.suspects, n.suspects[1:])
		n.suspects = n.suspects[:maxSuspects-1]
	}
	n.suspects = append(n.suspects, suspect{id: id, until: until, sure: sure})
}

// suspected reports whether id is presumed dead at now.
func (n *Node) suspected(now Time, id ID) bool {
	for i := range n.suspects {
		if n.suspects[i].id == id {
			return n.suspects[i].until > now
		}
	}
	return false
}

// presumedDead reports whether id is suspected at now on sure grounds
// (suspectNode with sure set).
func (n *Node) presumedDead(now Time, id ID) bool {
	for i := range n.suspects {
		if n.suspects[i].id == id {
			return n.suspects[i].sure && n.suspects[i].until > now
		}
	}
	return false
}

// clearSuspect forgets a suspicion of id: it was heard from. Expired
// entries go too.
func (n *Node) clearSuspect(now Time, id ID) {
	if len(n.suspects) == 0 {
		return
	}
	k := 0
	for _, s := range n.suspects {
		if s.id != id && s.until > now {
			n.suspects[k] = s
			k++
		}
	}
	n.suspects = n.suspects[:k]
	if k == 0 {
		n.suspects = nil
	}
}
