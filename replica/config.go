package replica

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/chorus-data/chorus/overlay"
)

// Defaults of Config.
const (
	// DefaultReplicas is the replication factor of a block with no claim.
	DefaultReplicas = 3
	// DefaultRecordReplicas is the least number of copies of a version
	// record (they are tiny and a dataset is unreadable without them).
	DefaultRecordReplicas = 5
	// DefaultSyncInterval is the period of anti-entropy rounds.
	DefaultSyncInterval = overlay.Time(10_000)
	// DefaultViewSettle is the delay between a change of the ring view and
	// the round it triggers.
	DefaultViewSettle = overlay.Time(1_000)
	// DefaultExtraGrace is how long a copy outside the replica set is kept
	// before it may be dropped: long, so that a node that comes back with
	// its data after a transient failure counts again.
	DefaultExtraGrace = overlay.Time(24 * 3600 * 1000)
	// DefaultRPCTimeout bounds one sync request.
	DefaultRPCTimeout = overlay.Time(5_000)
	// DefaultBandwidth is the repair bandwidth limit in bytes per second.
	DefaultBandwidth = 64 << 20
	// DefaultMaxInflight caps concurrent block transfers.
	DefaultMaxInflight = 4
	// DefaultLeafMax is the largest part a sync reply lists item by item.
	DefaultLeafMax = 64
	// SyncLogParts is log2 of the parts a sync request splits its range
	// into. Both ends must agree, so it is a protocol constant.
	SyncLogParts = 4
	// MaxScope is the most successors a node syncs with.
	MaxScope = 64
)

// Config configures a Node. Zero fields take the documented defaults.
type Config struct {
	// Self is the node's own reference. Required.
	Self overlay.NodeRef
	// Zone is the node's zone ("" for none).
	Zone string
	// Store holds the node's blocks, their metadata and the version
	// records. Required. The core reads it and writes metadata, records
	// and deletions; block bytes are moved by the driver (see Transfer).
	Store Store
	// DefaultReplicas is the replication factor of a block without claims.
	DefaultReplicas int
	// RecordReplicas is the least number of copies of a version record.
	RecordReplicas int
	// RecordTarget, if set, returns the replication factor and zones a
	// version record asks for (decoded from its bytes); the record gets
	// max(RecordReplicas, replicas) copies covering zones.
	RecordTarget func(name string, version uint64, rec []byte) (replicas int, zones []string)
	// NameKey returns the ring key of a dataset name. Without it version
	// records are not replicated.
	NameKey func(name string) overlay.ID
	// ZoneOf, if set, gives the zone of a node (as the simulator knows
	// it). Otherwise zones are learned from the messages nodes send.
	ZoneOf func(overlay.NodeRef) string
	// SyncInterval is the period of anti-entropy rounds.
	SyncInterval overlay.Time
	// SyncJitter spreads rounds over [I-J, I+J]; default SyncInterval/10.
	SyncJitter overlay.Time
	// ViewSettle is the delay between a view change and its round.
	ViewSettle overlay.Time
	// ExtraGrace is how long a copy outside the replica set must have been
	// spare (the others meeting the target without it at every round)
	// before it is dropped.
	ExtraGrace overlay.Time
	// HandoffDelay is how long a replica set member (the primary included)
	// must have lacked a copy of a block at full strength before it is
	// handed one: a node that joined ahead of the holders, or came back
	// having missed the block. Until then the copies outside the set stand
	// in for it. Default: ExtraGrace.
	HandoffDelay overlay.Time
	// RepairDelay is how long a block short of copies (with every zone
	// covered) must have been short, at every round, before the missing
	// copies are re-created: a holder that is only briefly away (a
	// restart, a transient failure, a view that has not caught up with
	// its return yet) comes back with its data within it, and nothing is
	// copied. A block with a single copy reachable waits LastCopyDelay.
	// Zero (the default) repairs at once.
	RepairDelay overlay.Time
	// LastCopyDelay is how long a block with a single copy reachable waits
	// before it is repaired, at most RepairDelay; default a quarter of
	// RepairDelay.
	LastCopyDelay overlay.Time
	// RPCTimeout bounds one sync request.
	RPCTimeout overlay.Time
	// Bandwidth limits repair transfers in bytes per second; negative
	// means no limit.
	Bandwidth int64
	// Burst is the token bucket's depth in bytes; default one second of
	// Bandwidth.
	Burst int64
	// MaxInflight caps concurrent block transfers.
	MaxInflight int
	// LeafMax is the largest part a sync reply lists item by item.
	LeafMax int
	// Scope caps the successors synced each round (at most MaxScope).
	Scope int
	// Rand is the node's only source of randomness. If nil, a source
	// seeded from Self.ID is used.
	Rand *rand.Rand
}

func (c Config) withDefaults() Config {
	if c.DefaultReplicas <= 0 {
		c.DefaultReplicas = DefaultReplicas
	}
	if c.RecordReplicas <= 0 {
		c.RecordReplicas = DefaultRecordReplicas
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.SyncJitter <= 0 {
		c.SyncJitter = c.SyncInterval / 10
	}
	c.SyncJitter = min(c.SyncJitter, c.SyncInterval/2)
	if c.ViewSettle <= 0 {
		c.ViewSettle = DefaultViewSettle
	}
	if c.ExtraGrace <= 0 {
		c.ExtraGrace = DefaultExtraGrace
	}
	if c.HandoffDelay <= 0 {
		c.HandoffDelay = c.ExtraGrace
	}
	c.RepairDelay = max(c.RepairDelay, 0)
	if c.LastCopyDelay <= 0 {
		c.LastCopyDelay = c.RepairDelay / 4
	}
	c.LastCopyDelay = min(c.LastCopyDelay, c.RepairDelay)
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.Bandwidth == 0 {
		c.Bandwidth = DefaultBandwidth
	}
	if c.Bandwidth < 0 {
		c.Bandwidth = 0
	}
	if c.Burst <= 0 {
		c.Burst = c.Bandwidth
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.LeafMax <= 0 {
		c.LeafMax = DefaultLeafMax
	}
	if c.Scope <= 0 || c.Scope > MaxScope {
		c.Scope = MaxScope
	}
	if c.Rand == nil {
		id := c.Self.ID
		c.Rand = rand.New(rand.NewPCG(binary.BigEndian.Uint64(id[16:24]), binary.BigEndian.Uint64(id[24:])))
	}
	return c
}
