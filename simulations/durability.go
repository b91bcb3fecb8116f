package simulations

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/replica"
)

// ScenarioDurability places blocks on a ring, then runs transient and
// permanent node failures for a while with every node's replication core
// (package replica) keeping the blocks at full strength, and measures
// blocks lost, availability and repair traffic against an oracle.
const ScenarioDurability = "durability"

// Day is one virtual day in milliseconds.
const Day = overlay.Time(24 * 3600 * 1000)

// DurabilityConfig describes one run of the durability scenario. Zero
// fields take the defaults listed with them.
type DurabilityConfig struct {
	// Seed seeds the run's random sources.
	Seed uint64
	// Nodes is the population N: the ring built at the start, kept
	// constant by replacing every permanently failed node.
	Nodes int
	// Replicas is the replication factor r of every block (default 3).
	Replicas int
	// SuccListLen is the successor list length (default
	// overlay.DefaultSuccListLen(Nodes)); it is also the replication
	// core's scope, as on a real node.
	SuccListLen int
	// Duration is the length of the churn phase (default 30 days).
	Duration overlay.Time
	// Warmup is how long the ring runs with its blocks in place before
	// the churn phase (default 30 minutes).
	Warmup overlay.Time
	// Session, if set, is the distribution of a node's online spells: when
	// one ends the node goes offline, keeping its data.
	Session SessionDist
	// Downtime is the distribution of offline spells (default Session).
	Downtime SessionDist
	// Lifetime, if positive, is the mean of a node's exponentially
	// distributed lifetime: when it ends the node fails permanently,
	// losing its data, and a fresh node (new ID, empty store) joins in its
	// place at once.
	Lifetime overlay.Time
	// RepairBandwidth is each node's repair bandwidth in bytes per second
	// (default replica.DefaultBandwidth), enforced by the core's own token
	// bucket.
	RepairBandwidth int64
	// LinkBandwidth is the speed of one transfer once started, bytes per
	// second (default 125,000,000: 1 Gbit/s).
	LinkBandwidth int64
	// Blocks is the number of blocks placed at the start (default 10,000)
	// and BlockSize their size in bytes (default 1 MiB).
	Blocks    int
	BlockSize int64
	// Stabilize and StabilizeJitter set the ring maintenance period
	// (default U[2m30s, 7m30s]: ten times the Chord paper's, so that a
	// month of a 1,000-node ring stays within a few hundred million events).
	Stabilize, StabilizeJitter overlay.Time
	// SyncInterval is the period of the replication core's anti-entropy
	// rounds (default 10 minutes; a real node uses 10 s). Rounds also run
	// ViewSettle after every change of a node's ring view, which is what
	// starts repair.
	SyncInterval overlay.Time
	// ExtraGrace is the replication core's ExtraGrace (default
	// replica.DefaultExtraGrace, 24 h): how long an extra copy must have
	// been spare before it is dropped, and a replica set member must have
	// lacked a copy before it is handed one.
	ExtraGrace overlay.Time
	// RepairDelay is the replication core's RepairDelay: how long a block
	// must have been short of copies before it is repaired (default 0: at
	// once).
	RepairDelay overlay.Time
	// LastCopyDelay is the replication core's LastCopyDelay: how long a
	// block with a single copy reachable waits (default RepairDelay/4).
	LastCopyDelay overlay.Time
	// RPCTimeout is the overlay's per-hop timeout (default 500 ms); the
	// replication core's request timeout is twice it, as on a node.
	RPCTimeout overlay.Time
	// Net is the network model.
	Net NetConfig
	// Bucket is the width of a time-series bucket (default 1 hour).
	Bucket overlay.Time
}

func (c DurabilityConfig) withDefaults() DurabilityConfig {
	if c.Replicas <= 0 {
		c.Replicas = replica.DefaultReplicas
	}
	if c.SuccListLen <= 0 {
		c.SuccListLen = overlay.DefaultSuccListLen(c.Nodes)
	}
	if c.Duration <= 0 {
		c.Duration = 30 * Day
	}
	if c.Warmup <= 0 {
		c.Warmup = 30 * 60000
	}
	if c.Downtime.IsZero() {
		c.Downtime = c.Session
	}
	if c.RepairBandwidth == 0 {
		c.RepairBandwidth = replica.DefaultBandwidth
	}
	if c.LinkBandwidth <= 0 {
		c.LinkBandwidth = 125_000_000
	}
	if c.Blocks <= 0 {
		c.Blocks = 10_000
	}
	if c.BlockSize <= 0 {
		c.BlockSize = 1 << 20
	}
	if c.Stabilize <= 0 {
		c.Stabilize = 5 * 60000
		if c.StabilizeJitter == 0 {
			c.StabilizeJitter = c.Stabilize / 2
		}
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 10 * 60000
	}
	if c.ExtraGrace <= 0 {
		c.ExtraGrace = replica.DefaultExtraGrace
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = 500
	}
	if c.Bucket <= 0 {
		c.Bucket = 3600000
	}
	return c
}

func (c DurabilityConfig) validate() error {
	if c.Nodes < 1 || c.Nodes > 1_000_000 {
		return fmt.Errorf("nodes %d: want 1 to 1,000,000", c.Nodes)
	}
	if c.Replicas > replica.MaxReplicas {
		return fmt.Errorf("replicas %d: want at most %d", c.Replicas, replica.MaxReplicas)
	}
	if c.Replicas > c.Nodes {
		return fmt.Errorf("replicas %d: more than the %d nodes", c.Replicas, c.Nodes)
	}
	if c.StabilizeJitter < 0 || c.StabilizeJitter >= c.Stabilize {
		return fmt.Errorf("stabilize jitter %d ms must be in [0, %d)", c.StabilizeJitter, c.Stabilize)
	}
	if c.RepairBandwidth < 0 {
		return fmt.Errorf("repair bandwidth %d: want a positive number of bytes per second", c.RepairBandwidth)
	}
	if c.Blocks > 10_000_000 {
		return fmt.Errorf("blocks %d: want at most 10,000,000", c.Blocks)
	}
	if c.Lifetime < 0 {
		return fmt.Errorf("lifetime %d ms is negative", c.Lifetime)
	}
	return c.Net.validate()
}

// DurabilityResult is the outcome of a durability run.
type DurabilityResult struct {
	// Summary holds the run's figures.
	Summary DurabilitySummary
	// Series is the time series, one bucket per Bucket of the churn phase.
	Series []DurabilityBucket
	// Bucket is the width of the series' buckets.
	Bucket overlay.Time
	// Events is the number of events processed and EventsPerSec the rate
	// per wall-clock second.
	Events       uint64
	EventsPerSec float64
}

// RunDurability carries out one run of the durability scenario. If
// progress is not nil, a status line is written to it every second or so.
func RunDurability(cfg DurabilityConfig, progress io.Writer) (*DurabilityResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	capacity := cfg.Nodes + 16
	e := newEngine(cfg.Seed, nodeParams{
		succListLen:   cfg.SuccListLen,
		stabilize:     cfg.Stabilize,
		jitter:        cfg.StabilizeJitter,
		rpcTimeout:    cfg.RPCTimeout,
		lookupTimeout: 60 * cfg.RPCTimeout,
	}, cfg.Net, cfg.Bucket, capacity)
	d := newDurSim(cfg, e)
	e.onAfter = d.viewChanged

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
	var t0, churnFrom overlay.Time
	scheduleBuild(e, cfg.Nodes, 7*cfg.Stabilize, cfg.Stabilize+cfg.StabilizeJitter, func() {
		t0 = e.now
		phase = "warmup"
		if err := d.place(); err != nil {
			e.err = err
			return
		}
		churnFrom = t0 + cfg.Warmup
		e.at(churnFrom, func() {
			phase = "churn"
			d.startChurn()
			e.at(churnFrom+cfg.Duration, func() { e.stopped = true })
		})
	})
	if err := e.runUntil(overlay.Never, prog); err != nil {
		return nil, err
	}
	if ticker != nil {
		ticker.finish(e.now, len(e.alive), e.events)
	}
	d.t.advance(e.now)
	wall := time.Since(start).Seconds()
	res := &DurabilityResult{Series: d.t.series, Bucket: cfg.Bucket, Events: e.events}
	if wall > 0 {
		res.EventsPerSec = float64(e.events) / wall
	}
	res.Summary = d.summarize(t0, churnFrom, wall)
	return res, nil
}

// host is one simulated machine: a ring ID, a block store that survives
// transient downtime, and, while it is online, an overlay node (an engine
// index, a new one for every session) and a replication core.
type host struct {
	idx     int32
	id      overlay.ID
	store   *simStore
	node    int32 // engine index while online
	core    *replica.Node
	online  bool
	dead    bool
	gen     uint32 // incarnation: events of an older one are stale
	tickAt  overlay.Time
	livePos int32 // index in durSim.live

	// The view last passed to the core, as node/'s viewHook keeps it.
	pred    overlay.NodeRef
	succs   []overlay.NodeRef
	viewSet bool
}

// durSim drives the replication cores of all hosts on top of the engine.
type durSim struct {
	cfg    DurabilityConfig
	e      *engine
	t      *durTracker
	hosts  []*host
	hostOf []int32 // engine index -> host, -1 if none
	live   []int32 // hosts not permanently failed

	cids []cid.Cid
	data [][]byte

	// The oracle: exactly r copies per block, on hosts it picks at random,
	// re-created only when a holder fails permanently.
	orng     *rand.Rand
	oHolders [][]int32 // per block
	oBlocks  [][]int32 // per host

	permFailures, offline, returns int64
	copiesLost                     int64
	repairBytes, oracleBytes       int64
	transfers, failedTransfers     int64
	pulls                          int64
	replicaMsgs                    int64
	measuring                      bool
}

func newDurSim(cfg DurabilityConfig, e *engine) *durSim {
	return &durSim{
		cfg:  cfg,
		e:    e,
		t:    newDurTracker(e, cfg.Blocks, cfg.Bucket),
		orng: rand.New(rand.NewPCG(cfg.Seed^0x5bd1e995, cfg.Seed+0x632be59bd9b4e019)),
	}
}

// hostFor returns the host of engine index i, creating one for a node
// the engine made itself (the nodes of the initial ring).
func (d *durSim) hostFor(i int32) *host {
	for int(i) >= len(d.hostOf) {
		d.hostOf = append(d.hostOf, -1)
	}
	if k := d.hostOf[i]; k >= 0 {
		return d.hosts[k]
	}
	h := d.newHost(d.e.nodes[i].ref.ID)
	d.bind(h, i)
	return h
}

// newHost creates a host with an empty store, not yet online.
func (d *durSim) newHost(id overlay.ID) *host {
	h := &host{idx: int32(len(d.hosts)), id: id, node: -1, tickAt: noTick, livePos: int32(len(d.live))}
	h.store = newSimStore(h, d.t, d.cfg.BlockSize)
	d.hosts = append(d.hosts, h)
	d.live = append(d.live, h.idx)
	d.oBlocks = append(d.oBlocks, nil)
	return h
}

// bind makes engine node i the current incarnation of h and starts its
// replication core, configured as node/ configures it.
func (d *durSim) bind(h *host, i int32) {
	for int(i) >= len(d.hostOf) {
		d.hostOf = append(d.hostOf, -1)
	}
	d.hostOf[i] = h.idx
	core, err := replica.New(replica.Config{
		Self:            d.e.nodes[i].ref,
		Store:           h.store,
		DefaultReplicas: d.cfg.Replicas,
		SyncInterval:    d.cfg.SyncInterval,
		ExtraGrace:      d.cfg.ExtraGrace,
		RepairDelay:     d.cfg.RepairDelay,
		LastCopyDelay:   d.cfg.LastCopyDelay,
		RPCTimeout:      2 * d.cfg.RPCTimeout,
		Bandwidth:       d.cfg.RepairBandwidth,
		Scope:           d.cfg.SuccListLen,
		Rand:            d.e.rng,
	})
	if err != nil && d.e.err == nil {
		d.e.err = fmt.Errorf("replication core: %w", err)
		return
	}
	h.node, h.core = i, core
	h.gen++
	h.tickAt = noTick
	h.pred, h.succs, h.viewSet = overlay.NodeRef{}, nil, false
	if !h.online {
		d.t.hostUp(h)
		h.online = true
	}
}

// viewChanged is the engine's hook after every call into node i's overlay
// core: it passes the node's ring view on to the replication core when it
// changed, as node/'s viewHook does.
func (d *durSim) viewChanged(i int32) {
	h := d.hostFor(i)
	if h.core == nil || h.node != i {
		return
	}
	c := d.e.nodes[i].n
	if !c.Joined() {
		return
	}
	p := c.Predecessor()
	s := c.Successors()
	if h.viewSet && p == h.pred && slices.Equal(s, h.succs) {
		return
	}
	h.pred, h.succs, h.viewSet = p, s, true
	h.core.SetView(d.e.now, p, slices.Clone(s))
	d.drive(h, false)
}

// drive carries out what h's core asked for and schedules its next tick.
func (d *durSim) drive(h *host, ticked bool) {
	rd := h.core.Ready()
	for _, m := range rd.Messages {
		d.send(h, m)
	}
	for _, tr := range rd.Transfers {
		d.startTransfer(h, tr)
	}
	dl := h.core.NextDeadline()
	if dl == overlay.Never {
		return
	}
	now := d.e.now
	if dl < now || (ticked && dl == now) {
		dl = now
		if ticked {
			dl = now + 1
		}
	}
	if dl < h.tickAt {
		h.tickAt = dl
		gen := h.gen
		d.e.at(dl, func() {
			if h.gen != gen || !h.online || h.tickAt != dl {
				return
			}
			h.tickAt = noTick
			h.core.Tick(d.e.now)
			d.drive(h, true)
		})
	}
}

// target returns the online host that ref names, and its engine index,
// or nil. An address names a machine, not one incarnation of it (a real
// node keeps its libp2p peer ID across restarts): a reference to an
// earlier incarnation reaches the host's current one if it has the same
// ID and is online.
func (d *durSim) target(ref overlay.NodeRef) (*host, int32) {
	to, ok := parseAddr(ref.Addr)
	if !ok || int(to) >= len(d.e.nodes) || int(to) >= len(d.hostOf) || d.hostOf[to] < 0 {
		return nil, -1
	}
	th := d.hosts[d.hostOf[to]]
	if th.id != ref.ID || !th.online || th.core == nil || th.node < 0 || !d.e.nodes[th.node].alive {
		return nil, -1
	}
	return th, th.node
}

// send delivers a replica message after the network latency; a message to
// an address with nobody behind it fails at once.
func (d *durSim) send(h *host, m replica.Message) {
	if d.measuring {
		d.replicaMsgs++
		d.t.cur().ReplicaMsgs++
	}
	gen := h.gen
	th, to := d.target(m.To)
	if th == nil {
		d.e.at(d.e.now, func() {
			if h.gen == gen && h.online {
				h.core.SendFailed(d.e.now, m)
				d.drive(h, false)
			}
		})
		return
	}
	lat := d.e.net.latency(d.e.nodes[h.node].pos, d.e.nodes[to].pos)
	tgen := th.gen
	d.e.at(d.e.now+lat, func() {
		if th.gen != tgen || !th.online {
			return // lost with the node; the sender's timeout handles it
		}
		th.core.Step(d.e.now, m)
		d.drive(th, false)
	})
}

// startTransfer carries out a block transfer the core started: it takes a
// round trip plus the block at LinkBandwidth, then moves the block and its
// metadata as node/'s runTransfer does, and reports the outcome.
func (d *durSim) startTransfer(h *host, tr replica.Transfer) {
	gen := h.gen
	dur := overlay.Time(max(tr.Size, 0) * 1000 / d.cfg.LinkBandwidth)
	if _, to := d.target(tr.Peer); to >= 0 {
		dur += 2 * d.e.net.latency(d.e.nodes[h.node].pos, d.e.nodes[to].pos)
	}
	d.e.at(d.e.now+max(dur, 1), func() {
		if h.gen != gen || !h.online {
			return // the node went down: the transfer died with it
		}
		err := d.moveBlock(h, tr)
		if d.measuring {
			b := d.t.cur()
			if err != nil {
				d.failedTransfers++
				b.FailedTransfers++
			} else {
				d.transfers++
				if tr.Pull {
					d.pulls++
				}
				d.repairBytes += tr.Size
				b.Transfers++
				b.RepairBytes += tr.Size
			}
		}
		h.core.TransferDone(d.e.now, tr.ID, err)
		d.drive(h, false)
	})
}

// errPeerGone fails a transfer whose peer is not reachable.
var errPeerGone = fmt.Errorf("transfer peer unreachable")

func (d *durSim) moveBlock(h *host, tr replica.Transfer) error {
	peer, _ := d.target(tr.Peer)
	if peer == nil {
		return errPeerGone
	}
	src, dst := h.store, peer.store
	if tr.Pull {
		src, dst = peer.store, h.store
	}
	data, err := src.GetBlock(tr.CID)
	if err != nil {
		return fmt.Errorf("transfer %s: %w", tr.CID, err)
	}
	meta, err := src.BlockMeta(tr.CID)
	if err != nil {
		return fmt.Errorf("transfer %s: %w", tr.CID, err)
	}
	if err := dst.PutBlock(tr.CID, data); err != nil {
		return fmt.Errorf("transfer %s: %w", tr.CID, err)
	}
	if !meta.IsZero() {
		if _, err := dst.MergeBlockMeta(tr.CID, meta); err != nil {
			return fmt.Errorf("transfer %s: %w", tr.CID, err)
		}
	}
	return nil
}

// place puts every block on its replica set, the first r successors of
// its key in the complete ring, as a finished publish leaves it; the
// oracle starts from the same placement.
func (d *durSim) place() error {
	type member struct {
		id overlay.ID
		h  int32
	}
	ring := make([]member, 0, len(d.e.joined))
	for _, i := range d.e.joined {
		ring = append(ring, member{id: d.e.nodes[i].ref.ID, h: d.hostFor(i).idx})
	}
	slices.SortFunc(ring, func(a, b member) int { return a.id.Cmp(b.id) })
	r := min(d.cfg.Replicas, len(ring))
	d.oHolders = make([][]int32, d.cfg.Blocks)
	for b := 0; b < d.cfg.Blocks; b++ {
		data := make([]byte, 16)
		binary.BigEndian.PutUint64(data, d.cfg.Seed)
		binary.BigEndian.PutUint64(data[8:], uint64(b))
		mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			return fmt.Errorf("block %d: %w", b, err)
		}
		c := cid.NewCidV1(cid.Raw, mh)
		k, err := replica.BlockKey(c)
		if err != nil {
			return fmt.Errorf("block %d: %w", b, err)
		}
		d.t.index[c.KeyString()] = int32(b)
		d.cids = append(d.cids, c)
		key := overlay.ID(k)
		first, _ := slices.BinarySearchFunc(ring, key, func(m member, k overlay.ID) int { return m.id.Cmp(k) })
		for j := 0; j < r; j++ {
			m := ring[(first+j)%len(ring)]
			if err := d.hosts[m.h].store.PutBlock(c, data); err != nil {
				return fmt.Errorf("placing block %d: %w", b, err)
			}
			d.oHolders[b] = append(d.oHolders[b], m.h)
			d.oBlocks[m.h] = append(d.oBlocks[m.h], int32(b))
		}
	}
	return nil
}

// startChurn starts measuring and gives every host its first online spell
// and its lifetime.
func (d *durSim) startChurn() {
	d.measuring = true
	d.t.start(d.e.now)
	for _, k := range slices.Clone(d.live) {
		d.arm(d.hosts[k], true)
	}
}

// arm schedules the end of h's current online spell and, when lifetime
// is true, its permanent failure.
func (d *durSim) arm(h *host, lifetime bool) {
	if !d.cfg.Session.IsZero() {
		gen := h.gen
		d.e.at(d.e.now+d.cfg.Session.Sample(d.e.rng), func() {
			if h.gen == gen && h.online && !h.dead {
				d.goOffline(h)
			}
		})
	}
	if lifetime && d.cfg.Lifetime > 0 {
		life := overlay.Time(d.e.rng.ExpFloat64() * float64(d.cfg.Lifetime))
		d.e.at(d.e.now+max(life, 1), func() { d.die(h) })
	}
}

// goOffline takes h down with its data; it comes back after a downtime.
func (d *durSim) goOffline(h *host) {
	d.e.kill(h.node, false)
	d.t.hostDown(h)
	h.online, h.core = false, nil
	h.gen++
	d.offline++
	d.t.cur().Offline++
	d.e.at(d.e.now+d.cfg.Downtime.Sample(d.e.rng), func() {
		if h.dead || h.online {
			return
		}
		d.returns++
		d.t.cur().Returns++
		d.bringUp(h)
		d.arm(h, false)
	})
}

// bringUp starts a new incarnation of h (same ID, same store), which joins
// the ring through a random member.
func (d *durSim) bringUp(h *host) {
	i := d.e.addNodeID(h.id)
	d.bind(h, i)
	d.e.join(i)
}

// die fails h permanently: its data is gone, the oracle re-creates the
// copies it held, and a fresh node joins in its place.
func (d *durSim) die(h *host) {
	if h.dead {
		return
	}
	if h.online {
		d.e.kill(h.node, false)
	}
	d.copiesLost += int64(d.t.hostDied(h))
	h.online, h.dead, h.core = false, true, nil
	h.gen++
	h.store = nil
	d.permFailures++
	d.t.cur().PermFailures++
	// Remove from the live list.
	last := d.live[len(d.live)-1]
	d.live[h.livePos] = last
	d.hosts[last].livePos = h.livePos
	d.live = d.live[:len(d.live)-1]
	d.oracleRepair(h)
	fresh := d.newHost(d.e.randomID())
	d.bringUp(fresh)
	d.arm(fresh, true)
}

// oracleRepair re-creates, on random other live hosts, the oracle's copies
// that h held, and counts the bytes.
func (d *durSim) oracleRepair(h *host) {
	for _, b := range d.oBlocks[h.idx] {
		hs := d.oHolders[b]
		if i := slices.Index(hs, h.idx); i >= 0 {
			hs = slices.Delete(hs, i, i+1)
		}
		if len(hs) < len(d.live) {
			for {
				k := d.live[d.orng.IntN(len(d.live))]
				if !slices.Contains(hs, k) {
					hs = append(hs, k)
					d.oBlocks[k] = append(d.oBlocks[k], b)
					break
				}
			}
			d.oracleBytes += d.cfg.BlockSize
			d.t.cur().OracleBytes += d.cfg.BlockSize
		}
		d.oHolders[b] = hs
	}
	d.oBlocks[h.idx] = nil
}

// summarize computes the run's figures.
func (d *durSim) summarize(t0, churnFrom overlay.Time, wall float64) DurabilitySummary {
	cfg := d.cfg
	t := d.t
	span := float64(d.e.now - churnFrom)
	var onlineMS float64
	for _, b := range t.series {
		onlineMS += b.OnlineMS
	}
	s := DurabilitySummary{
		Scenario:            ScenarioDurability,
		Seed:                cfg.Seed,
		Nodes:               cfg.Nodes,
		Replicas:            cfg.Replicas,
		Succ:                cfg.SuccListLen,
		Blocks:              cfg.Blocks,
		BlockSize:           cfg.BlockSize,
		DurationS:           round4(float64(cfg.Duration) / 1000),
		Session:             cfg.Session.String(),
		Downtime:            cfg.Downtime.String(),
		LifetimeS:           round4(float64(cfg.Lifetime) / 1000),
		RepairBandwidth:     cfg.RepairBandwidth,
		StabilizeS:          round4(float64(cfg.Stabilize) / 1000),
		SyncIntervalS:       round4(float64(cfg.SyncInterval) / 1000),
		ExtraGraceS:         round4(float64(cfg.ExtraGrace) / 1000),
		RepairDelayS:        round4(float64(cfg.RepairDelay) / 1000),
		LastCopyDelayS:      round4(float64(cfg.LastCopyDelay) / 1000),
		JoinPhaseS:          round4(float64(t0) / 1000),
		WarmupS:             round4(float64(cfg.Warmup) / 1000),
		MeanOnlineNodes:     round4(ratio(onlineMS, span)),
		TransientFailures:   d.offline,
		Returns:             d.returns,
		PermanentFailures:   d.permFailures,
		CopiesLost:          d.copiesLost,
		BlocksLost:          t.lost,
		AvailabilityMean:    round4(ratio(t.availMS, span)),
		AvailabilityMin:     round4(t.minAvail),
		MeanCopiesEnd:       round4(ratio(float64(t.copies), float64(cfg.Blocks))),
		RepairTransfers:     d.transfers,
		FailedTransfers:     d.failedTransfers,
		PullTransfers:       d.pulls,
		CopiesDropped:       t.dropped,
		RepairBytes:         d.repairBytes,
		RepairBytesPerNode:  round4(ratio(float64(d.repairBytes), float64(cfg.Nodes))),
		OracleRepairBytes:   d.oracleBytes,
		RepairVsOracle:      round4(ratio(float64(d.repairBytes), float64(d.oracleBytes))),
		ReplicaMsgsPerNodeS: round4(ratio(float64(d.replicaMsgs), onlineMS/1000)),
		Events:              d.e.events,
		VirtualSeconds:      round4(float64(d.e.now) / 1000),
		WallSeconds:         math.Round(wall*1000) / 1000,
	}
	if span <= 0 {
		s.AvailabilityMean = round4(t.avail())
	}
	return s
}
