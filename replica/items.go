package replica

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/overlay"
)

// An item is one thing the core keeps at full strength: a block or a
// version record. Items are compared across nodes by their identity (the
// CID, or the record's name and version) and their metadata hash.
type item struct {
	key   overlay.ID
	off   overlay.ID // Distance(range.Lo, key) - 1: position in the range
	ident string     // "b"+CID bytes or "r"+name+"\x00"+version
	c     cid.Cid    // blocks
	name  string     // records
	ver   uint64     // records
	size  int64
	meta  Meta // blocks
	mhash uint64
	elem  uint64 // this item's term in a digest

	// Set for the items of a round's snapshot.
	r         int
	zones     []string
	members   uint64 // bit i: successor i is in the replica set
	expect    uint64 // members not believed to lack it, plus believed extra holders
	found     uint64 // bit i: successor i listed it in a leaf this round
	uncertain bool   // zones matter and some zone in scope is unknown
}

func (it *item) isRecord() bool { return !it.c.Defined() }

func blockIdent(c cid.Cid) string { return "b" + string(c.Bytes()) }

func recordIdent(name string, version uint64) string {
	b := make([]byte, 0, 2+len(name)+8)
	b = append(b, 'r')
	b = append(b, name...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, version)
	return string(b)
}

// entryIdent returns the identity of a leaf entry.
func entryIdent(e Entry) string {
	if e.IsRecord() {
		return recordIdent(e.Name, e.Version)
	}
	return blockIdent(e.CID)
}

// elemHash mixes an item's identity and metadata hash into its digest term.
func elemHash(ident string, mhash uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ident); i++ {
		h ^= uint64(ident[i])
		h *= 1099511628211
	}
	return mix64(h ^ mix64(mhash+0x9e3779b97f4a7c15))
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// entry returns the leaf entry describing it.
func (it *item) entry() Entry {
	if it.isRecord() {
		return Entry{Name: it.name, Version: it.ver}
	}
	return Entry{CID: it.c, MetaHash: it.mhash, Size: it.size}
}

// recordItem is one entry of the record index.
type recordItem struct {
	key   overlay.ID
	name  string
	ver   uint64
	r     int
	zones []string
}

// errStopWalk ends a store walk early.
var errStopWalk = errors.New("stop walk")

// refreshRecords rebuilds the record index from the store when it is stale.
func (n *Node) refreshRecords(now overlay.Time) error {
	if n.cfg.NameKey == nil {
		return nil
	}
	if !n.recordsDirty && now < n.recordsAt+n.cfg.SyncInterval/2 {
		return nil
	}
	names, err := n.store.Names()
	if err != nil {
		return fmt.Errorf("record index: %w", err)
	}
	known := make(map[string]recordItem, len(n.records))
	for _, ri := range n.records {
		known[recordIdent(ri.name, ri.ver)] = ri
	}
	var out []recordItem
	for _, name := range names {
		vs, err := n.store.Versions(name)
		if err != nil {
			return fmt.Errorf("record index: %w", err)
		}
		key := n.cfg.NameKey(name)
		for _, v := range vs {
			if ri, ok := known[recordIdent(name, v)]; ok {
				out = append(out, ri)
				continue
			}
			ri := recordItem{key: key, name: name, ver: v, r: n.cfg.RecordReplicas}
			if n.cfg.RecordTarget != nil {
				if data, err := n.store.GetRecord(name, v); err == nil {
					r, zones := n.cfg.RecordTarget(name, v, data)
					ri.r = max(ri.r, r)
					ri.zones = unionZones(zones)
				}
			}
			out = append(out, ri)
		}
	}
	slices.SortFunc(out, func(a, b recordItem) int {
		if c := a.key.Cmp(b.key); c != 0 {
			return c
		}
		return cmp.Compare(recordIdent(a.name, a.ver), recordIdent(b.name, b.ver))
	})
	n.records, n.recordsAt, n.recordsDirty = out, now, false
	return nil
}

// collect returns the items held in r, sorted by position in r then
// identity.
func (n *Node) collect(now overlay.Time, r Range) ([]item, error) {
	var out []item
	keep := func(key overlay.ID, c cid.Cid, size int, m Meta) {
		it := item{key: key, c: c, size: int64(size), meta: m, mhash: m.Hash(), ident: blockIdent(c)}
		it.off = sub1(overlay.Distance(r.Lo, key))
		it.elem = elemHash(it.ident, it.mhash)
		out = append(out, it)
	}
	walk := func(start overlay.ID, last overlay.ID, wrapEnd bool) error {
		err := n.store.ForEachBlockFrom(start, func(c cid.Cid, size int, m Meta) error {
			k, err := BlockKey(c)
			if err != nil {
				return nil // not a ring key; never stored by Chorus
			}
			key := overlay.ID(k)
			if !wrapEnd && key.Cmp(last) > 0 {
				return errStopWalk
			}
			keep(key, c, size, m)
			return nil
		})
		if errors.Is(err, errStopWalk) {
			return nil
		}
		return err
	}
	var err error
	switch {
	case r.Lo.Cmp(r.Hi) < 0:
		err = walk(add(r.Lo, fromUint64(1)), r.Hi, false)
	default: // wrapping, or the whole ring
		top := sub1(overlay.ID{})
		if r.Lo != top {
			err = walk(add(r.Lo, fromUint64(1)), top, true)
		}
		if err == nil {
			err = walk(overlay.ID{}, r.Hi, false)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("collect items: %w", err)
	}
	if err := n.refreshRecords(now); err != nil {
		return nil, err
	}
	for _, ri := range n.records {
		if !r.Contains(ri.key) {
			continue
		}
		it := item{key: ri.key, name: ri.name, ver: ri.ver, ident: recordIdent(ri.name, ri.ver), r: ri.r, zones: ri.zones}
		it.off = sub1(overlay.Distance(r.Lo, ri.key))
		it.elem = elemHash(it.ident, 0)
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b item) int {
		if c := a.off.Cmp(b.off); c != 0 {
			return c
		}
		return cmp.Compare(a.ident, b.ident)
	})
	return out, nil
}

// within returns the bounds [i, j) of the items (sorted by offset from lo)
// whose keys lie in sub, a sub-range of the range starting at lo.
func within(items []item, lo overlay.ID, sub Range) (int, int) {
	from := overlay.Distance(lo, sub.Lo)
	to := sub1(overlay.Distance(lo, sub.Hi))
	i, _ := slices.BinarySearchFunc(items, from, func(it item, t overlay.ID) int { return it.off.Cmp(t) })
	j := i
	for j < len(items) && items[j].off.Cmp(to) <= 0 {
		j++
	}
	return i, j
}

// digest sums the items of sub (those with bit set in expect, or all when
// bit is 0) part by part.
func digest(items []item, sub Range, bit uint64) ([]uint64, []uint32) {
	sp := newSplit(sub, SyncLogParts)
	hashes := make([]uint64, sp.parts())
	counts := make([]uint32, sp.parts())
	for i := range items {
		it := &items[i]
		if bit != 0 && it.expect&bit == 0 {
			continue
		}
		p := sp.index(it.key)
		hashes[p] += it.elem
		counts[p]++
	}
	return hashes, counts
}
