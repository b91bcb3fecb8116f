package placement

import "github.com/chorus-data/chorus/overlay"

// ReplicaSet returns the replica set of a key: the first r distinct nodes of
// succs (the key's successor list, in ring order) that dead does not report
// as dead. A nil dead treats every node as live. Fewer than r nodes are
// returned when succs holds fewer distinct live nodes. The result is a new
// slice; succs is not modified.
func ReplicaSet(succs []overlay.NodeRef, r int, dead func(overlay.NodeRef) bool) []overlay.NodeRef {
	if r <= 0 {
		return nil
	}
	out := make([]overlay.NodeRef, 0, min(r, len(succs)))
	for _, s := range succs {
		if len(out) == r {
			break
		}
		if s.IsZero() || (dead != nil && dead(s)) || contains(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Candidates returns every distinct live node of succs in ring order: the
// replica set first, then the nodes that may hold a copy after churn (a node
// that joined ahead of an old holder pushes the holder further down the
// list). Readers try them in this order.
func Candidates(succs []overlay.NodeRef, dead func(overlay.NodeRef) bool) []overlay.NodeRef {
	return ReplicaSet(succs, len(succs), dead)
}

func contains(set []overlay.NodeRef, n overlay.NodeRef) bool {
	for _, s := range set {
		if s.ID == n.ID {
			return true
		}
	}
	return false
}
