package replica

import (
	"errors"

	"github.com/chorus-data/chorus/overlay"
)

// maxLeafEntries bounds the entries of one leaf in a reply.
const maxLeafEntries = MaxEntries / MaxParts

// answerSync compares the sender's digest of a range with this node's
// items there and answers which parts differ: listed item by item when
// they are small, to be split further otherwise. It keeps no state.
func (n *Node) answerSync(now overlay.Time, m Message) {
	sp := newSplit(m.Range, SyncLogParts)
	if len(m.Hashes) != sp.parts() {
		return
	}
	items, err := n.collect(now, m.Range)
	if err != nil {
		n.noteErr(err)
		return
	}
	hashes, counts := digest(items, m.Range, 0)
	reply := Message{Type: MsgSyncReply, To: m.From, Session: m.Session, Range: m.Range}
	for p := range sp.parts() {
		if hashes[p] == m.Hashes[p] && counts[p] == m.Counts[p] {
			continue
		}
		if int(counts[p]) > n.cfg.LeafMax && sp.shift > 0 {
			reply.Descend = append(reply.Descend, uint32(p))
			continue
		}
		i, j := within(items, m.Range.Lo, sp.part(p))
		leaf := Leaf{Part: uint32(p)}
		for k := i; k < j && len(leaf.Entries) < maxLeafEntries; k++ {
			leaf.Entries = append(leaf.Entries, items[k].entry())
		}
		reply.Leaves = append(reply.Leaves, leaf)
	}
	n.totals.SyncsAnswered++
	n.send(reply)
}

// answerMeta merges the metadata a primary sent into the local copies and
// answers with the results, so both ends converge.
func (n *Node) answerMeta(m Message) {
	reply := Message{Type: MsgMetaReply, To: m.From}
	for _, bm := range m.Metas {
		merged, err := n.store.MergeBlockMeta(bm.CID, bm.Meta)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			n.noteErr(err)
			continue
		}
		n.totals.MetaMerges++
		reply.Metas = append(reply.Metas, BlockMeta{CID: bm.CID, Meta: merged})
	}
	if len(reply.Metas) > 0 {
		n.send(reply)
	}
}

// mergeMetas merges metadata a peer answered with into the local copies.
// The metadata of a block this node lacks, asked for by settleRemote, is
// kept for the next round.
func (n *Node) mergeMetas(ms []BlockMeta) {
	for _, bm := range ms {
		_, err := n.store.MergeBlockMeta(bm.CID, bm.Meta)
		if errors.Is(err, ErrNotFound) {
			if ident := blockIdent(bm.CID); n.isSelfLacking(ident) {
				n.remoteMeta[ident] = Merge(n.remoteMeta[ident], bm.Meta)
			}
			continue
		}
		if err != nil {
			n.noteErr(err)
			continue
		}
		n.totals.MetaMerges++
	}
}

// isSelfLacking reports whether the last round found ident in the primary
// range and lacking here.
func (n *Node) isSelfLacking(ident string) bool {
	_, ok := n.selfLacking[ident]
	return ok
}

// handleDrop deletes the extra copies a primary released. A copy is kept
// when this node is itself the primary of its key, or when the sender
// cannot be the primary (it does not lie between the key and this node).
func (n *Node) handleDrop(m Message) {
	own, haveOwn := n.Primary()
	for _, c := range m.CIDs {
		k, err := BlockKey(c)
		if err != nil {
			continue
		}
		key := overlay.ID(k)
		if haveOwn && own.Contains(key) {
			continue
		}
		if overlay.Distance(key, m.From.ID).Cmp(overlay.Distance(key, n.self.ID)) >= 0 {
			continue
		}
		if err := n.store.DeleteBlock(c); err != nil {
			n.noteErr(err)
			continue
		}
		n.totals.Dropped++
	}
}

// storeRecords stores records a peer pushed or sent back. A different
// record already held at the same name and version wins (records are
// immutable).
func (n *Node) storeRecords(recs []Record) {
	for _, r := range recs {
		err := n.store.PutRecord(r.Name, r.Version, r.Data)
		if err != nil && !errors.Is(err, ErrConflict) {
			n.noteErr(err)
			continue
		}
		if err == nil {
			n.totals.RecordsStored++
			n.recordsDirty = true
		}
	}
}

// answerRecords sends back the records a peer asked for.
func (n *Node) answerRecords(m Message) {
	var recs []Record
	for _, ref := range m.Refs {
		data, err := n.store.GetRecord(ref.Name, ref.Version)
		if err != nil {
			continue
		}
		recs = append(recs, Record{Name: ref.Name, Version: ref.Version, Data: data})
	}
	n.sendRecords(m.From, recs)
}
