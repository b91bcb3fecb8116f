package simulations

import (
	"bytes"
	"encoding/binary"

	"github.com/chorus-data/chorus/overlay"
)

// oracle is the simulator's omniscient view of the ring: the sorted set of
// the IDs of all live members. It answers "who is the true successor of
// this key right now" in O(log N), which is how wrong lookups are scored.
//
// It is a treap stored in parallel slices (no per-entry allocation). The
// heap priority of an entry is taken from the low bytes of its ID: IDs are
// uniformly random, so priorities are too, and the oracle needs no random
// source of its own (it must not disturb the run's single random stream).
type oracle struct {
	ids   []overlay.ID
	node  []int32
	left  []int32
	right []int32
	prio  []uint64
	free  []int32
	root  int32
	size  int
}

const nilIdx int32 = -1

// newOracle returns an empty oracle with room for about capacity entries.
func newOracle(capacity int) *oracle {
	return &oracle{
		ids:   make([]overlay.ID, 0, capacity),
		node:  make([]int32, 0, capacity),
		left:  make([]int32, 0, capacity),
		right: make([]int32, 0, capacity),
		prio:  make([]uint64, 0, capacity),
		root:  nilIdx,
	}
}

// Len returns the number of members.
func (o *oracle) Len() int { return o.size }

func (o *oracle) alloc(id overlay.ID, node int32) int32 {
	p := binary.BigEndian.Uint64(id[24:])
	if n := len(o.free); n > 0 {
		i := o.free[n-1]
		o.free = o.free[:n-1]
		o.ids[i], o.node[i], o.left[i], o.right[i], o.prio[i] = id, node, nilIdx, nilIdx, p
		return i
	}
	o.ids = append(o.ids, id)
	o.node = append(o.node, node)
	o.left = append(o.left, nilIdx)
	o.right = append(o.right, nilIdx)
	o.prio = append(o.prio, p)
	return int32(len(o.ids) - 1)
}

// split cuts the subtree t into the entries with ID < id (l) and those with
// ID >= id (r).
func (o *oracle) split(t int32, id *overlay.ID) (l, r int32) {
	if t == nilIdx {
		return nilIdx, nilIdx
	}
	if bytes.Compare(o.ids[t][:], id[:]) < 0 {
		a, b := o.split(o.right[t], id)
		o.right[t] = a
		return t, b
	}
	a, b := o.split(o.left[t], id)
	o.left[t] = b
	return a, t
}

// merge joins two treaps where every ID of a is below every ID of b.
func (o *oracle) merge(a, b int32) int32 {
	if a == nilIdx {
		return b
	}
	if b == nilIdx {
		return a
	}
	if o.prio[a] >= o.prio[b] {
		o.right[a] = o.merge(o.right[a], b)
		return a
	}
	o.left[b] = o.merge(a, o.left[b])
	return b
}

// Insert adds a member. It reports false (and changes nothing) if the ID is
// already present.
func (o *oracle) Insert(id overlay.ID, node int32) bool {
	if _, ok := o.find(id); ok {
		return false
	}
	l, r := o.split(o.root, &id)
	o.root = o.merge(o.merge(l, o.alloc(id, node)), r)
	o.size++
	return true
}

// Delete removes the member with this ID and reports whether it was there.
func (o *oracle) Delete(id overlay.ID) bool {
	// Walk down keeping the link that points at the current subtree.
	parent, fromLeft := nilIdx, false
	t := o.root
	for t != nilIdx {
		c := bytes.Compare(id[:], o.ids[t][:])
		if c == 0 {
			break
		}
		parent = t
		if c < 0 {
			t, fromLeft = o.left[t], true
		} else {
			t, fromLeft = o.right[t], false
		}
	}
	if t == nilIdx {
		return false
	}
	m := o.merge(o.left[t], o.right[t])
	switch {
	case parent == nilIdx:
		o.root = m
	case fromLeft:
		o.left[parent] = m
	default:
		o.right[parent] = m
	}
	o.free = append(o.free, t)
	o.size--
	return true
}

func (o *oracle) find(id overlay.ID) (int32, bool) {
	t := o.root
	for t != nilIdx {
		c := bytes.Compare(id[:], o.ids[t][:])
		if c == 0 {
			return o.node[t], true
		}
		if c < 0 {
			t = o.left[t]
		} else {
			t = o.right[t]
		}
	}
	return 0, false
}

// Successor returns the member that is the key's successor on the ring:
// the first member whose ID is equal to or follows key clockwise, wrapping
// around to the smallest ID. ok is false when the oracle is empty.
func (o *oracle) Successor(key overlay.ID) (id overlay.ID, node int32, ok bool) {
	best := nilIdx
	t := o.root
	for t != nilIdx {
		if bytes.Compare(o.ids[t][:], key[:]) >= 0 {
			best = t
			t = o.left[t]
		} else {
			t = o.right[t]
		}
	}
	if best == nilIdx {
		// Wrap around: the smallest ID.
		t = o.root
		for t != nilIdx {
			best = t
			t = o.left[t]
		}
	}
	if best == nilIdx {
		return overlay.ID{}, 0, false
	}
	return o.ids[best], o.node[best], true
}

// Predecessor returns the member that precedes key on the ring: the last
// member whose ID is strictly below key, wrapping around to the largest ID.
// ok is false when the oracle is empty.
func (o *oracle) Predecessor(key overlay.ID) (id overlay.ID, node int32, ok bool) {
	best := nilIdx
	t := o.root
	for t != nilIdx {
		if bytes.Compare(o.ids[t][:], key[:]) < 0 {
			best = t
			t = o.right[t]
		} else {
			t = o.left[t]
		}
	}
	if best == nilIdx {
		// Wrap around: the largest ID.
		t = o.root
		for t != nilIdx {
			best = t
			t = o.right[t]
		}
	}
	if best == nilIdx {
		return overlay.ID{}, 0, false
	}
	return o.ids[best], o.node[best], true
}
