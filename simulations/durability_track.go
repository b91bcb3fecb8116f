package simulations

import (
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/overlay"
)

// DurabilityBucket is one row of the durability time series: what happened
// in one bucket of virtual time, timed from the start of the churn phase.
type DurabilityBucket struct {
	// Start is the bucket's start, in ms since the start of the churn phase.
	Start overlay.Time
	// OnlineMS is the integral of the online population over the bucket
	// (node-ms); UnavailMS the integral of the number of blocks with no
	// online copy (block-ms).
	OnlineMS, UnavailMS float64
	// MinAvail is the least fraction of blocks with an online copy seen
	// during the bucket.
	MinAvail float64
	// Offline, Returns and PermFailures count transient departures,
	// returns and permanent failures.
	Offline, Returns, PermFailures int64
	// RepairBytes and Transfers count completed repair transfers (pushes
	// and pulls) and their bytes; FailedTransfers the failed ones.
	RepairBytes, Transfers, FailedTransfers int64
	// OracleBytes is what the oracle sent in the bucket.
	OracleBytes int64
	// ReplicaMsgs counts replica protocol messages sent.
	ReplicaMsgs int64
	// Copies is the number of block copies held by nodes that have not
	// failed permanently, and Lost the number of blocks lost, both at the
	// end of the bucket.
	Copies, Lost int64
}

// durTracker keeps the exact number of copies of every block, and of
// online copies, as the simulation runs, and integrates availability over
// time.
type durTracker struct {
	e       *engine
	index   map[string]int32 // CID key string -> block number
	holders []int32          // copies on nodes not permanently failed
	online  []int32          // copies on online nodes

	blocks  int
	unavail int   // blocks with no online copy (lost ones included)
	lost    int   // blocks with no copy at all
	copies  int64 // sum of holders
	dropped int64 // copies deleted while measuring
	onlineN int   // online hosts

	measuring bool
	from      overlay.Time // start of the churn phase
	last      overlay.Time // integrated up to here
	width     overlay.Time
	series    []DurabilityBucket
	availMS   float64 // integral of the available fraction
	minAvail  float64
}

func newDurTracker(e *engine, blocks int, width overlay.Time) *durTracker {
	return &durTracker{
		e: e, index: make(map[string]int32, blocks),
		holders: make([]int32, blocks), online: make([]int32, blocks),
		blocks: blocks, unavail: blocks, width: width, minAvail: 1,
	}
}

// start begins measuring at now.
func (t *durTracker) start(now overlay.Time) {
	t.measuring, t.from, t.last = true, now, now
	t.minAvail = t.avail()
	t.cur().MinAvail = t.avail()
}

func (t *durTracker) avail() float64 {
	if t.blocks == 0 {
		return 1
	}
	return float64(t.blocks-t.unavail) / float64(t.blocks)
}

// cur returns the bucket of the current time, creating buckets up to it.
func (t *durTracker) cur() *DurabilityBucket {
	return t.bucketAt(t.e.now)
}

func (t *durTracker) bucketAt(at overlay.Time) *DurabilityBucket {
	k := int((max(at, t.from) - t.from) / t.width)
	for len(t.series) <= k {
		t.series = append(t.series, DurabilityBucket{
			Start: overlay.Time(len(t.series)) * t.width, MinAvail: t.avail(),
			Copies: t.copies, Lost: int64(t.lost),
		})
	}
	return &t.series[k]
}

// advance integrates the current state up to now.
func (t *durTracker) advance(now overlay.Time) {
	if !t.measuring {
		return
	}
	for t.last < now {
		b := t.bucketAt(t.last)
		end := min(now, t.from+b.Start+t.width)
		seg := float64(end - t.last)
		b.UnavailMS += seg * float64(t.unavail)
		b.OnlineMS += seg * float64(t.onlineN)
		t.availMS += seg * t.avail()
		t.last = end
	}
}

// changed notes the state after a change.
func (t *durTracker) changed() {
	if !t.measuring {
		return
	}
	a := t.avail()
	b := t.cur()
	b.MinAvail = min(b.MinAvail, a)
	b.Copies, b.Lost = t.copies, int64(t.lost)
	t.minAvail = min(t.minAvail, a)
}

func (t *durTracker) block(c cid.Cid) (int32, bool) {
	b, ok := t.index[c.KeyString()]
	return b, ok
}

// copyAdded counts a new copy of c on h.
func (t *durTracker) copyAdded(c cid.Cid, h *host) {
	b, ok := t.block(c)
	if !ok {
		return
	}
	t.advance(t.e.now)
	t.holders[b]++
	t.copies++
	if h.online {
		t.online[b]++
		if t.online[b] == 1 {
			t.unavail--
		}
	}
	t.changed()
}

// copyRemoved counts a copy of c on h gone.
func (t *durTracker) copyRemoved(c cid.Cid, h *host) {
	b, ok := t.block(c)
	if !ok {
		return
	}
	t.advance(t.e.now)
	t.drop(b, h.online)
	if t.measuring {
		t.dropped++
	}
	t.changed()
}

func (t *durTracker) drop(b int32, online bool) {
	t.holders[b]--
	t.copies--
	if t.holders[b] == 0 {
		t.lost++
	}
	if online {
		t.online[b]--
		if t.online[b] == 0 {
			t.unavail++
		}
	}
}

// hostUp counts h's copies online again (h.online is about to be set).
func (t *durTracker) hostUp(h *host) {
	t.advance(t.e.now)
	t.onlineN++
	for _, c := range h.store.blocks() {
		if b, ok := t.block(c); ok {
			t.online[b]++
			if t.online[b] == 1 {
				t.unavail--
			}
		}
	}
	t.changed()
}

// hostDown counts h's copies offline (h.online is about to be cleared).
func (t *durTracker) hostDown(h *host) {
	t.advance(t.e.now)
	t.onlineN--
	for _, c := range h.store.blocks() {
		if b, ok := t.block(c); ok {
			t.online[b]--
			if t.online[b] == 0 {
				t.unavail++
			}
		}
	}
	t.changed()
}

// hostDied counts every copy of h lost and returns how many there were.
func (t *durTracker) hostDied(h *host) int {
	t.advance(t.e.now)
	if h.online {
		t.onlineN--
	}
	n := 0
	for _, c := range h.store.blocks() {
		if b, ok := t.block(c); ok {
			t.drop(b, h.online)
			n++
		}
	}
	t.changed()
	return n
}
