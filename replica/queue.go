package replica

import (
	"slices"

	"github.com/chorus-data/chorus/overlay"
)

// MaxQueue bounds the transfers waiting to start; what does not fit is
// found again by a later round.
const MaxQueue = 1 << 17

// taskKey identifies a transfer so that it is queued once.
type taskKey struct {
	pull bool
	cid  string
	peer overlay.ID
}

// task is a queued or running transfer.
type task struct {
	Transfer
	prio int
	key  taskKey
}

// enqueue queues a transfer unless the same one is queued or running; it
// reports whether it queued it. Lower prio starts first, then FIFO.
func (n *Node) enqueue(t Transfer, prio int) bool {
	k := taskKey{pull: t.Pull, cid: t.CID.KeyString(), peer: t.Peer.ID}
	if t.Pull {
		k.peer = overlay.ID{} // one pull per block, whoever it comes from
	}
	if n.queued[k] || len(n.queue) >= MaxQueue {
		return false
	}
	n.seq++
	t.ID = n.seq
	tk := &task{Transfer: t, prio: prio, key: k}
	i, _ := slices.BinarySearchFunc(n.queue, tk, func(a, b *task) int {
		if a.prio != b.prio {
			return a.prio - b.prio
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	n.queue = slices.Insert(n.queue, i, tk)
	n.queued[k] = true
	return true
}

// pump starts queued transfers while the in-flight cap and the bandwidth
// limit allow.
func (n *Node) pump(now overlay.Time) {
	for len(n.queue) > 0 && len(n.inflight) < n.cfg.MaxInflight {
		t := n.queue[0]
		if !n.bucket.Take(now, t.Size) {
			return
		}
		n.queue[0] = nil
		n.queue = n.queue[1:]
		n.inflight[t.ID] = t
		n.transfers = append(n.transfers, t.Transfer)
	}
}

// TransferDone reports the outcome of a transfer from Ready. A failed
// transfer is not retried by itself: the next round finds what is still
// missing.
func (n *Node) TransferDone(now overlay.Time, id uint64, err error) {
	t, ok := n.inflight[id]
	if !ok {
		return
	}
	delete(n.inflight, id)
	delete(n.queued, t.key)
	switch {
	case err != nil:
		n.totals.TransfersFailed++
	case t.Pull:
		n.totals.Pulls++
		n.totals.BytesPulled += t.Size
	default:
		n.totals.Pushes++
		n.totals.BytesPushed += t.Size
	}
	n.pump(now)
}
