package node

import "time"

// DefaultHandoffDelay is how long a node that joined ahead of a block's
// holders waits for its copy while the block has its full number of
// copies elsewhere. The simulator keeps the replica core's default (the
// extra-copy grace, 24 h), which avoids copying to nodes that only come
// and go; a real ring gets new servers' share within minutes.
const DefaultHandoffDelay = 10 * time.Minute

// RepairConfig tunes replica maintenance (anti-entropy, repair, handoff
// and the removal of extra copies). Zero fields take the replica package's
// defaults: a round every 10 s, a round 1 s after the ring view changes,
// extra copies kept 24 h, 64 MiB/s of repair traffic, 4 transfers at once;
// HandoffDelay defaults to DefaultHandoffDelay.
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
	// HandoffDelay is how long a replica set member must have lacked a
	// block that has its full number of copies elsewhere before it is
	// handed one (a node added to the ring gets its share after it).
	HandoffDelay time.Duration
	// Bandwidth caps repair transfers in bytes per second; negative means
	// no cap.
	Bandwidth int64
	// MaxInflight caps concurrent repair transfers.
	MaxInflight int
}
