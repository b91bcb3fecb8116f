package overlay

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Never is the Time that never comes: NextDeadline returns it when no timer
// is pending.
const Never Time = math.MaxInt64

// Defaults for the zero fields of Config.
const (
	DefaultSuccListLenMin    = 8          // shortest successor list
	DefaultStabilizeInterval = Time(1000) // period of every maintenance protocol
	DefaultRPCTimeout        = Time(2000) // per-request timeout
	DefaultLookupParallelism = 2          // requests in flight per lookup
)

// Config configures a Node. Zero fields take the documented defaults.
type Config struct {
	// Self is the node's own reference. Its ID must be set.
	Self NodeRef
	// SuccListLen is the length of the successor list; default 8. Use
	// DefaultSuccListLen to size it for a ring of a known size.
	SuccListLen int
	// StabilizeInterval is the period of stabilize; default 1000.
	StabilizeInterval Time
	// StabilizeJitter spreads every maintenance period: each interval is
	// drawn uniformly from [I-J, I+J]; default 0.
	StabilizeJitter Time
	// FixFingersInterval is the period of fix-fingers; one finger lookup
	// runs per period once the table is filled; default StabilizeInterval.
	FixFingersInterval Time
	// CheckPredInterval is the period of check-predecessor; default
	// StabilizeInterval.
	CheckPredInterval Time
	// RPCTimeout is the per-hop timeout of every request; default 2000.
	RPCTimeout Time
	// LookupParallelism (alpha) caps the requests one lookup has in flight;
	// default 2.
	LookupParallelism int
	// LookupTimeout bounds a whole lookup; default 10*RPCTimeout.
	LookupTimeout Time
	// Rand is the node's only source of randomness (timer jitter and
	// phase). If nil, a source seeded from Self.ID is used, so behaviour is
	// still reproducible.
	Rand *rand.Rand
}

// DefaultSuccListLen returns the successor list length recommended for a
// ring of about n nodes: max(8, 2*ceil(log2 n)).
func DefaultSuccListLen(n int) int {
	l := DefaultSuccListLenMin
	if n > 1 {
		if v := 2 * bits.Len(uint(n-1)); v > l {
			l = v
		}
	}
	return l
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.SuccListLen <= 0 {
		c.SuccListLen = DefaultSuccListLenMin
	}
	if c.StabilizeInterval <= 0 {
		c.StabilizeInterval = DefaultStabilizeInterval
	}
	if c.StabilizeJitter < 0 {
		c.StabilizeJitter = 0
	}
	if c.FixFingersInterval <= 0 {
		c.FixFingersInterval = c.StabilizeInterval
	}
	if c.CheckPredInterval <= 0 {
		c.CheckPredInterval = c.StabilizeInterval
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.LookupParallelism <= 0 {
		c.LookupParallelism = DefaultLookupParallelism
	}
	if c.LookupTimeout <= 0 {
		c.LookupTimeout = 10 * c.RPCTimeout
	}
	if c.Rand == nil {
		id := c.Self.ID
		c.Rand = rand.New(rand.NewPCG(binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:16])))
	}
	return c
}
