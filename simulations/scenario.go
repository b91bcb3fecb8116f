package simulations

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// The scenarios Run knows.
const (
	// ScenarioStable builds a ring of Nodes nodes, lets it stabilize, and
	// runs Lookups lookups at the end of Duration.
	ScenarioStable = "stable"
	// ScenarioMassFail builds a stable ring, freezes maintenance, fails
	// FailFraction of the nodes at once and runs Lookups lookups (Chord ToN,
	// Table II).
	ScenarioMassFail = "massfail"
	// ScenarioChurn builds a stable ring, then runs Duration of churn
	// (Poisson joins and departures at Rate per second, or session times
	// drawn from Session, or a Trace) with LookupRate lookups per second
	// (Chord ToN, Table III).
	ScenarioChurn = "churn"
)

// Config describes one simulation run. Zero fields take the defaults listed
// with them.
type Config struct {
	// Scenario is ScenarioStable, ScenarioMassFail or ScenarioChurn.
	Scenario string
	// Seed seeds the run's only random source.
	Seed uint64
	// Nodes is the size of the ring that is built.
	Nodes int
	// SuccListLen is the successor list length R; default
	// overlay.DefaultSuccListLen(Nodes).
	SuccListLen int

	// DoublingTime paces the join phase: the k-th node joins no earlier
	// than DoublingTime*log2(1+k), so the ring doubles once per
	// DoublingTime (default seven mean stabilize periods: with five, a
	// 4,000-node ring still had wrong successors six minutes after the last
	// join; with seven it was exact when the last node joined).
	DoublingTime overlay.Time
	// JoinHold spaces joins out along the ring: a node joins only if its
	// predecessor-to-be has neither joined nor had another new successor
	// for JoinHold
	// (default Stabilize+StabilizeJitter, the longest stabilize period);
	// otherwise it waits. Chord's stabilize moves a successor pointer by
	// one node per round, so a node that gets several new successors in
	// quick succession falls behind and takes many rounds to catch up;
	// without the hold, a ring that doubles every three rounds ends its
	// join phase with half its successor pointers wrong.
	JoinHold overlay.Time
	// Duration is, for stable, how long the complete ring runs after the
	// last node has joined, the lookups being issued during its last LookupWindow
	// (default 10m); for churn, the length of the churn phase (default 1h).
	Duration overlay.Time
	// Warmup is, for massfail and churn, how long the complete ring runs
	// after the last node has joined before the experiment starts
	// (default 10m).
	Warmup overlay.Time

	// Lookups is, for stable and massfail, the number of lookups
	// (default 10000).
	Lookups int
	// LookupWindow is, for stable and massfail, the period over which the
	// lookups are evenly spread (default 60s).
	LookupWindow overlay.Time
	// LookupRate is, for churn, the rate of lookups per second (default 1).
	LookupRate float64

	// FailFraction is, for massfail, the fraction of nodes that fail.
	FailFraction float64
	// Rate is, for churn, the rate of joins and, separately, of departures
	// per second.
	Rate float64
	// Session, if set, replaces Rate for churn: every node's stay is drawn
	// from it, and each departing node is replaced by a new one at once.
	Session SessionDist
	// Trace, if set, replaces Rate and Session for churn.
	Trace []TraceEvent
	// Graceful is the fraction of churn departures (Poisson or session)
	// that leave gracefully through Leave; the rest crash (default 0).
	Graceful float64

	// Stabilize is the mean period of stabilize, check-predecessor and
	// fix-fingers (default 30s); each period is drawn uniformly from
	// [Stabilize-StabilizeJitter, Stabilize+StabilizeJitter] (default
	// jitter 15s, so the default is U[15s,45s] as in the Chord paper).
	Stabilize, StabilizeJitter overlay.Time
	// RPCTimeout is the per-hop timeout (default 500 ms).
	RPCTimeout overlay.Time
	// LookupTimeout bounds a whole lookup (default 60 per-hop timeouts,
	// 30 s: long enough that a lookup through a half-dead ring ends by
	// finding the successor or running out of nodes to ask, not by the
	// clock).
	LookupTimeout overlay.Time
	// Parallelism is the lookup parallelism alpha (default the overlay's).
	Parallelism int

	// Net is the network model.
	Net NetConfig
	// Bucket is the width of a time-series bucket (default 10s).
	Bucket overlay.Time
}

// Result is the outcome of a run.
type Result struct {
	// Summary holds the run's figures.
	Summary Summary
	// Series is the time series, one Bucket per Config.Bucket of virtual
	// time.
	Series []Bucket
	// HopHist[h] counts answered lookups that took h hops.
	HopHist []int64
	// Bucket is the width of the series' buckets.
	Bucket overlay.Time
	// Events is the number of events processed and EventsPerSec the rate
	// per wall-clock second.
	Events       uint64
	EventsPerSec float64
}

func (c Config) withDefaults() Config {
	if c.SuccListLen <= 0 {
		c.SuccListLen = overlay.DefaultSuccListLen(c.Nodes)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * 60000
		if c.Scenario == ScenarioChurn {
			c.Duration = 3600000
		}
	}
	if c.Warmup <= 0 {
		c.Warmup = 10 * 60000
	}
	if c.Lookups <= 0 {
		c.Lookups = 10000
	}
	if c.LookupWindow <= 0 {
		c.LookupWindow = 60000
	}
	if c.LookupRate <= 0 {
		c.LookupRate = 1
	}
	if c.Stabilize <= 0 {
		c.Stabilize = 30000
		if c.StabilizeJitter == 0 {
			c.StabilizeJitter = 15000
		}
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = 500
	}
	if c.LookupTimeout <= 0 {
		c.LookupTimeout = 60 * c.RPCTimeout
	}
	if c.DoublingTime <= 0 {
		c.DoublingTime = 7 * c.Stabilize
	}
	if c.JoinHold <= 0 {
		c.JoinHold = c.Stabilize + c.StabilizeJitter
	}
	if c.Bucket <= 0 {
		c.Bucket = 10000
	}
	return c
}

func (c Config) validate() error {
	switch c.Scenario {
	case ScenarioStable, ScenarioMassFail, ScenarioChurn:
	default:
		return fmt.Errorf("unknown scenario %q (want stable, massfail or churn)", c.Scenario)
	}
	if c.Nodes < 1 || c.Nodes > 10_000_000 {
		return fmt.Errorf("nodes %d: want 1 to 10,000,000", c.Nodes)
	}
	if c.StabilizeJitter < 0 || c.StabilizeJitter >= c.Stabilize {
		return fmt.Errorf("stabilize jitter %d ms must be in [0, %d)", c.StabilizeJitter, c.Stabilize)
	}
	if c.Graceful < 0 || c.Graceful > 1 {
		return fmt.Errorf("graceful fraction %v: want [0,1]", c.Graceful)
	}
	if err := c.Net.validate(); err != nil {
		return err
	}
	switch c.Scenario {
	case ScenarioStable:
		if c.LookupWindow > c.Duration {
			return fmt.Errorf("lookup window %d ms must not be longer than the duration %d ms", c.LookupWindow, c.Duration)
		}
	case ScenarioMassFail:
		if c.FailFraction <= 0 || c.FailFraction >= 1 {
			return fmt.Errorf("fail fraction %v: want (0,1)", c.FailFraction)
		}
		if c.Net.Loss > 0 {
			return fmt.Errorf("massfail runs on a loss-free network")
		}
	case ScenarioChurn:
		if c.Rate <= 0 && c.Session.IsZero() && c.Trace == nil {
			return fmt.Errorf("churn needs a rate, a session distribution or a trace")
		}
		if c.Trace != nil {
			if err := checkTrace(c.Trace, c.Nodes); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run carries out one simulation. If progress is not nil, a status line is
// written to it every second or so (meant for a terminal).
func Run(cfg Config, progress io.Writer) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	capacity := cfg.Nodes
	if cfg.Scenario == ScenarioChurn {
		capacity += int(cfg.Rate*float64(cfg.Duration)/1000) + 16
	}
	e := newEngine(cfg.Seed, nodeParams{
		succListLen:   cfg.SuccListLen,
		stabilize:     cfg.Stabilize,
		jitter:        cfg.StabilizeJitter,
		rpcTimeout:    cfg.RPCTimeout,
		lookupTimeout: cfg.LookupTimeout,
		parallelism:   cfg.Parallelism,
	}, cfg.Net, cfg.Bucket, capacity)
	// After the last lookup is issued the run goes on this long, so that
	// every lookup ends one way or another.
	grace := cfg.LookupTimeout + 1000

	var ticker *progressLine
	if progress != nil {
		ticker = newProgressLine(progress, start)
	}
	phase := "join"
	prog := func() {
		if ticker != nil {
			ticker.update(e.now, phase, len(e.alive), e.events)
		}
	}
	stopAt := func(t overlay.Time) { e.at(t, func() { e.stopped = true }) }

	// The experiment starts once the last node of the ring has joined, at
	// t0 (the end of the join phase).
	var t0 overlay.Time
	scheduleBuild(e, cfg.Nodes, cfg.DoublingTime, cfg.JoinHold, func() {
		t0 = e.now
		phase = "run"
		switch cfg.Scenario {
		case ScenarioStable:
			from := t0 + cfg.Duration - cfg.LookupWindow
			e.met.maintFrom, e.met.maintTo = from, from+cfg.LookupWindow
			scheduleEvenLookups(e, from, cfg.LookupWindow, cfg.Lookups)
			stopAt(t0 + cfg.Duration + grace)
		case ScenarioMassFail:
			// Maintenance is measured on the healthy ring, in the minute
			// before the failure (afterwards it is frozen).
			fail := t0 + cfg.Warmup
			e.met.maintFrom, e.met.maintTo = max(fail-60000, t0), fail
			e.at(fail, func() {
				phase = "failed"
				e.freeze()
				failFraction(e, cfg.FailFraction)
			})
			scheduleEvenLookups(e, fail, cfg.LookupWindow, cfg.Lookups)
			stopAt(fail + cfg.LookupWindow + grace)
		case ScenarioChurn:
			from, to := t0+cfg.Warmup, t0+cfg.Warmup+cfg.Duration
			e.met.maintFrom, e.met.maintTo = from, to
			e.at(from, func() { phase = "churn" })
			switch {
			case cfg.Trace != nil:
				scheduleTrace(e, from, cfg.Trace)
			case !cfg.Session.IsZero():
				e.at(from, func() { startSessions(e, cfg.Session, cfg.Graceful, to) })
			default:
				schedulePoisson(e, from, to, cfg.Rate, cfg.Graceful)
			}
			schedulePoissonLookups(e, from, to, cfg.LookupRate)
			stopAt(to + grace)
		}
	})

	if err := e.runUntil(overlay.Never, prog); err != nil {
		return nil, err
	}
	if ticker != nil {
		ticker.finish(e.now, len(e.alive), e.events)
	}
	// Lookups that never returned count as failed.
	for _, i := range e.alive {
		e.met.noAnswer += int64(e.nodes[i].pending)
	}
	wall := time.Since(start).Seconds()
	res := &Result{
		Series:  e.met.series,
		HopHist: e.met.hopHist,
		Bucket:  cfg.Bucket,
		Events:  e.events,
	}
	if wall > 0 {
		res.EventsPerSec = float64(e.events) / wall
	}
	res.Summary = summarize(cfg, e, t0, wall)
	return res, nil
}

// scheduleBuild builds the initial ring of n nodes by joins. It draws the
// n IDs up front and lets them join in bit-reversed order of their ring
// position, so that each doubling of the ring puts one new node into every
// gap rather than several into some: Chord's stabilize moves a successor
// pointer by one node per round, and a gap that gets several new nodes
// within a few rounds leaves pointers wrong for many rounds. The first node
// creates the ring at time 0; the k-th joins no earlier than
// doubling*log2(1+k), through a random member. As a safeguard, a node whose
// predecessor-to-be joined, or got another new successor, less than hold
// ago waits until hold has passed. done runs once all n nodes are in the
// ring.
func scheduleBuild(e *engine, n int, doubling, hold overlay.Time, done func()) {
	ids := make([]overlay.ID, n)
	for k := range ids {
		ids[k] = e.randomID()
	}
	slices.SortFunc(ids, func(a, b overlay.ID) int { return a.Cmp(b) })
	order := bitReversedOrder(n)
	busyUntil := make(map[int32]overlay.Time)
	e.at(0, func() { e.create(e.addNodeID(ids[order[0]])) })
	var attempt func(id overlay.ID)
	attempt = func(id overlay.ID) {
		if _, p, ok := e.oracle.Predecessor(id); ok {
			if until := busyUntil[p]; until > e.now {
				e.at(until, func() { attempt(id) })
				return
			}
			busyUntil[p] = e.now + hold
		}
		i := e.addNodeID(id)
		// The new node is unsettled too until its predecessor knows it.
		busyUntil[i] = e.now + hold
		e.join(i)
	}
	var next func(k int)
	next = func(k int) {
		if k >= n {
			return
		}
		e.at(overlay.Time(float64(doubling)*math.Log2(float64(1+k))), func() {
			attempt(ids[order[k]])
			next(k + 1)
		})
	}
	next(1)
	// Watch for the end of the join phase once a second. A ring that has
	// not formed long after the schedule ends is a failure of the overlay.
	limit := overlay.Time(float64(doubling)*math.Log2(float64(n+1)))*4 + 3600000
	var watch func()
	watch = func() {
		switch {
		case len(e.joined) >= n:
			done()
		case e.now > limit:
			e.err = fmt.Errorf("only %d of %d nodes had joined after %d s", len(e.joined), n, e.now/1000)
		default:
			e.at(e.now+1000, watch)
		}
	}
	e.at(0, watch)
}

// bitReversedOrder returns the positions 0..n-1 ordered by the reversal of
// their bits (a van der Corput sequence): 0, n/2, n/4, 3n/4, ... roughly,
// so that every prefix is spread evenly over the range.
func bitReversedOrder(n int) []int {
	w := bits.Len(uint(max(n-1, 1)))
	order := make([]int, n)
	for p := range order {
		order[p] = p
	}
	rev := func(p int) uint { return bits.Reverse(uint(p)) >> (bits.UintSize - w) }
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rev(a), rev(b)) })
	return order
}

// scheduleEvenLookups issues count lookups evenly spread over
// [from, from+window).
func scheduleEvenLookups(e *engine, from, window overlay.Time, count int) {
	var next func(k int)
	next = func(k int) {
		if k >= count {
			return
		}
		e.at(from+overlay.Time(int64(window)*int64(k)/int64(count)), func() {
			e.lookup()
			next(k + 1)
		})
	}
	next(0)
}

// expMS draws an exponential inter-arrival time in ms for a rate per second.
func expMS(e *engine, rate float64) overlay.Time {
	return max(overlay.Time(e.rng.ExpFloat64()/rate*1000), 1)
}

// schedulePoissonLookups issues lookups as a Poisson process of the given
// rate per second over [from, to).
func schedulePoissonLookups(e *engine, from, to overlay.Time, rate float64) {
	var next func()
	next = func() {
		if e.now >= to {
			return
		}
		e.lookup()
		e.at(e.now+expMS(e, rate), next)
	}
	e.at(from, func() { e.at(e.now+expMS(e, rate), next) })
}

// schedulePoisson runs Poisson joins and Poisson departures, each at rate
// per second, over [from, to). A departure picks a live node uniformly.
func schedulePoisson(e *engine, from, to overlay.Time, rate, graceful float64) {
	var joinNext, leaveNext func()
	joinNext = func() {
		if e.now >= to {
			return
		}
		e.join(e.addNode())
		e.at(e.now+expMS(e, rate), joinNext)
	}
	leaveNext = func() {
		if e.now >= to {
			return
		}
		if len(e.alive) > 1 {
			i := e.alive[e.rng.IntN(len(e.alive))]
			e.kill(i, drawGraceful(e, graceful))
		}
		e.at(e.now+expMS(e, rate), leaveNext)
	}
	e.at(from, func() {
		e.at(e.now+expMS(e, rate), joinNext)
		e.at(e.now+expMS(e, rate), leaveNext)
	})
}

func drawGraceful(e *engine, graceful float64) bool {
	return graceful > 0 && (graceful >= 1 || e.rng.Float64() < graceful)
}

// startSessions gives every live node a session drawn from d; when a
// session ends the node departs and a new node joins in its place (with its
// own session), until `to`.
func startSessions(e *engine, d SessionDist, graceful float64, to overlay.Time) {
	var arm func(i int32)
	arm = func(i int32) {
		e.at(e.now+d.Sample(e.rng), func() {
			if e.now >= to || !e.nodes[i].alive {
				return
			}
			e.kill(i, drawGraceful(e, graceful))
			j := e.addNode()
			e.join(j)
			arm(j)
		})
	}
	live := append([]int32(nil), e.alive...)
	for _, i := range live {
		arm(i)
	}
}

// scheduleTrace replays a churn trace whose times are relative to from.
// The initial nodes are named by their index, which is their join order.
func scheduleTrace(e *engine, from overlay.Time, evs []TraceEvent) {
	names := make(map[string]int32)
	var next func(k int)
	next = func(k int) {
		if k >= len(evs) {
			return
		}
		ev := evs[k]
		e.at(from+ev.At, func() {
			switch ev.Op {
			case TraceJoin:
				i := e.addNode()
				names[ev.Name] = i
				e.join(i)
			default:
				i, ok := names[ev.Name]
				if !ok {
					v, err := strconv.Atoi(ev.Name)
					if err != nil {
						e.err = fmt.Errorf("trace: unknown node %q", ev.Name)
						return
					}
					i = int32(v)
				}
				e.kill(i, ev.Op == TraceLeave)
			}
			next(k + 1)
		})
	}
	next(0)
}

// failFraction crashes round(p*live) live nodes chosen uniformly at random.
func failFraction(e *engine, p float64) {
	k := int(math.Round(p * float64(len(e.alive))))
	// Partial Fisher-Yates over a copy of the live list.
	cand := append([]int32(nil), e.alive...)
	for j := 0; j < k && j < len(cand); j++ {
		r := j + e.rng.IntN(len(cand)-j)
		cand[j], cand[r] = cand[r], cand[j]
	}
	for j := 0; j < k && j < len(cand); j++ {
		e.kill(cand[j], false)
	}
}
