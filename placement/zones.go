package placement

import (
	"slices"

	"github.com/chorus-data/chorus/overlay"
)

// ReplicaSetZones returns the replica set of a key whose copies must also
// cover zones. succs is the key's live successor list in ring order (its
// first entry, the key's successor, is the primary); zoneOf names the zone
// of a node ("" when unknown, which covers no zone).
//
// The set is built by walking succs once:
//   - the primary is always a member;
//   - a node is taken when it is the first one seen of a listed zone that
//     no member covers yet; the walk stops early once every listed zone is
//     covered;
//   - the set is then filled up to r members with the earliest nodes not
//     yet taken.
//
// A listed zone with no node in succs stays uncovered (the set cannot do
// better until such a node is alive). The result holds max(r, 1 + zones
// the primary does not cover that succs can cover) distinct nodes, or all
// of succs when it is shorter, in succs order. With no zones it equals
// ReplicaSet(succs, r, nil). Zero NodeRefs and duplicates in succs are
// skipped. The result is a new slice.
func ReplicaSetZones(succs []overlay.NodeRef, r int, zones []string, zoneOf func(overlay.NodeRef) string) []overlay.NodeRef {
	if r <= 0 {
		return nil
	}
	list := ReplicaSet(succs, len(succs), nil) // distinct, non-zero, in order
	if list == nil {
		list = []overlay.NodeRef{}
	}
	if len(zones) == 0 || zoneOf == nil || len(list) == 0 {
		return list[:min(r, len(list))]
	}
	taken := make([]bool, len(list))
	taken[0] = true
	covered := make([]bool, len(zones))
	left := len(zones)
	cover := func(z string) bool {
		if z == "" {
			return false
		}
		i := slices.Index(zones, z)
		if i < 0 || covered[i] {
			return false
		}
		covered[i] = true
		left--
		return true
	}
	cover(zoneOf(list[0]))
	for i := 1; i < len(list) && left > 0; i++ {
		if cover(zoneOf(list[i])) {
			taken[i] = true
		}
	}
	count := 0
	for _, t := range taken {
		if t {
			count++
		}
	}
	for i := 1; i < len(list) && count < r; i++ {
		if !taken[i] {
			taken[i] = true
			count++
		}
	}
	out := make([]overlay.NodeRef, 0, count)
	for i, n := range list {
		if taken[i] {
			out = append(out, n)
		}
	}
	return out
}

// ZonesCovered reports which of zones the nodes of set cover, as a slice
// parallel to zones. zoneOf is as for ReplicaSetZones.
func ZonesCovered(set []overlay.NodeRef, zones []string, zoneOf func(overlay.NodeRef) string) []bool {
	out := make([]bool, len(zones))
	for _, n := range set {
		z := zoneOf(n)
		if z == "" {
			continue
		}
		if i := slices.Index(zones, z); i >= 0 {
			out[i] = true
		}
	}
	return out
}
