package node

import "time"

// RepairConfig tunes replica maintenance (anti-entropy, repair, handoff
// and the removal of extra copies). Zero fields take the replica package's
// defaults: a round every 10 s, a round 1 s after the ring view changes,
// extra copies kept 24 h, 64 MiB/s of repair traffic, 4 transfers at once.
type RepairConfig struct {
	// SyncInterval is the period of anti-entropy rounds.
	SyncInterval time.Duration
	// ViewSettle is the delay between a change of the successor list or
	// predecessor and the round it triggers.
	ViewSettle time.Duration
	// ExtraGrace is how long a copy outside a block's replica set is kept
	// (so that a node coming back with its data counts again) before it
	// may be dropped.
	ExtraGrace time.Duration
	// Bandwidth caps repair transfers in bytes per second; negative means
	// no cap.
	Bandwidth int64
	// MaxInflight caps concurrent repair transfers.
	MaxInflight int
}
