package overlay

import "encoding/binary"

// Arc is a stretch of the ring: the keys after From, Width of them. Widths
// are kept to the top 64 bits of the 256-bit distance, which is ample for
// comparing arcs of rings up to billions of nodes; FullRing is the whole
// ring (a ring of one node, whose arc runs from itself round to itself).
type Arc struct {
	From  ID
	Width uint64
}

// FullRing is the Width of the arc from a node round to itself.
const FullRing = ^uint64(0)

// top64 returns the 64 most significant bits of a.
func top64(a ID) uint64 { return binary.BigEndian.Uint64(a[:8]) }

// arcBetween returns the arc from a to b: (a, b], or the full ring when
// a == b.
func arcBetween(a, b ID) Arc {
	if a == b {
		return Arc{From: a, Width: FullRing}
	}
	return Arc{From: a, Width: top64(Distance(a, b))}
}

// LargestArc returns the widest arc between consecutive IDs of any run.
// Each run lists ring IDs in ring order with no node missing between
// neighbours (a node followed by its successor list, say, or the key's
// replica set from a lookup), so every arc it yields is exactly the
// stretch owned by one node. A run of one ID yields nothing; a run that
// repeats an ID next to itself yields the full ring. ok is false when no
// run yields an arc. Ties go to the arc seen first.
func LargestArc(runs [][]ID) (best Arc, ok bool) {
	r, i, ok := WidestArcAt(runs)
	if !ok {
		return Arc{}, false
	}
	return arcBetween(runs[r][i-1], runs[r][i]), true
}

// WidestArcAt is LargestArc giving the arc's place instead: it runs from
// runs[r][i-1] to runs[r][i].
func WidestArcAt(runs [][]ID) (r, i int, ok bool) {
	var best uint64
	for ri, run := range runs {
		for j := 1; j < len(run); j++ {
			if w := arcBetween(run[j-1], run[j]).Width; !ok || w > best {
				r, i, best, ok = ri, j, w, true
			}
		}
	}
	return r, i, ok
}

// MiddleThird reports whether x lies in the middle third of a: at least
// a third and at most two thirds of its width after From. A node that
// joins there splits the arc into two parts neither smaller than a third
// of it.
func (a Arc) MiddleThird(x ID) bool {
	d := top64(Distance(a.From, x))
	return d >= a.Width/3 && d <= a.Width-a.Width/3
}

// OffCentre returns how far x lies from the middle of a, in the top-64-bit
// units of Width; joining nodes keep the candidate closest to the middle.
func (a Arc) OffCentre(x ID) uint64 {
	d := top64(Distance(a.From, x))
	mid := a.Width / 2
	if d > mid {
		return d - mid
	}
	return mid - d
}
