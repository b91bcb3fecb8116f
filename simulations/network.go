package simulations

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/chorus-data/chorus/overlay"
)

// NetConfig describes the simulated network.
type NetConfig struct {
	// Regions is the number of regions nodes are spread over (default 5).
	Regions int
	// Spread is the distance between the centres of the two farthest
	// regions, in milliseconds of one-way latency (default 120).
	Spread float64
	// Scatter is the standard deviation of a node's distance from its
	// region's centre, in milliseconds (default 8).
	Scatter float64
	// Base is the one-way latency added to every message on top of the
	// distance, in milliseconds (default 5): serialisation, stacks, the
	// last mile.
	Base float64
	// Loss is the probability that a message is lost (default 0).
	Loss float64
}

func (c NetConfig) withDefaults() NetConfig {
	if c.Regions <= 0 {
		c.Regions = 5
	}
	if c.Spread == 0 {
		c.Spread = 120
	}
	if c.Scatter == 0 {
		c.Scatter = 8
	}
	if c.Base == 0 {
		c.Base = 5
	}
	return c
}

func (c NetConfig) validate() error {
	if c.Loss < 0 || c.Loss >= 1 {
		return fmt.Errorf("loss %v: want a probability in [0,1)", c.Loss)
	}
	if c.Spread < 0 || c.Scatter < 0 || c.Base < 0 {
		return fmt.Errorf("negative latency parameter")
	}
	return nil
}

// point is a node's position on the synthetic latency plane (milliseconds).
type point struct{ x, y float32 }

// network places nodes on a plane where Euclidean distance is one-way
// latency, in a few regions laid out on a circle, so that latencies within a
// region are short and those across regions long. Latency between two nodes
// is a pure function of their positions, and positions are drawn from the
// run's random source when a node is created, so the whole network follows
// from the seed.
type network struct {
	cfg     NetConfig
	centres []point
}

func newNetwork(cfg NetConfig) *network {
	cfg = cfg.withDefaults()
	n := &network{cfg: cfg}
	r := cfg.Spread / 2
	for i := 0; i < cfg.Regions; i++ {
		a := 2 * math.Pi * float64(i) / float64(cfg.Regions)
		n.centres = append(n.centres, point{float32(r * math.Cos(a)), float32(r * math.Sin(a))})
	}
	return n
}

// place draws a position for a new node: a random region, then a Gaussian
// offset from its centre.
func (n *network) place(rng *rand.Rand) point {
	c := n.centres[rng.IntN(len(n.centres))]
	return point{
		x: c.x + float32(rng.NormFloat64()*n.cfg.Scatter),
		y: c.y + float32(rng.NormFloat64()*n.cfg.Scatter),
	}
}

// latency returns the one-way delay between two positions, at least 1 ms.
func (n *network) latency(a, b point) overlay.Time {
	dx, dy := float64(a.x-b.x), float64(a.y-b.y)
	d := n.cfg.Base + math.Sqrt(dx*dx+dy*dy)
	if d < 1 {
		d = 1
	}
	return overlay.Time(math.Round(d))
}

// lost decides whether one message is lost. It draws from rng only when
// loss is enabled, so that a loss-free run's random stream does not depend
// on the number of messages.
func (n *network) lost(rng *rand.Rand) bool {
	return n.cfg.Loss > 0 && rng.Float64() < n.cfg.Loss
}
