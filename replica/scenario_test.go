package replica

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/overlay"
)

// testConfig is the core configuration of the harness tests: rounds every
// 2 s of virtual time, a grace of 20 s.
func testConfig() Config {
	return Config{
		SyncInterval: 2_000,
		ViewSettle:   200,
		ExtraGrace:   20_000,
		RPCTimeout:   1_000,
		Bandwidth:    -1,
		MaxInflight:  8,
	}
}

func TestSteadyStateMovesNothing(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	h.publish(1, 300, 64, "ds@1", 3)
	h.runFor(10_000)
	if h.transfers != 0 {
		t.Fatalf("%d transfers in a ring where every block is in place", h.transfers)
	}
	if err := h.placed(true); err != nil {
		t.Fatal(err)
	}
	// Each round is one digest exchange per successor: 8 nodes * 7
	// successors * (request + reply) * ~5 rounds.
	perRound := float64(h.msgBytes) / (8 * 5)
	t.Logf("steady state: %d messages, %d bytes (%.0f bytes per node-round)", h.msgs, h.msgBytes, perRound)
	if h.msgs > 8*7*2*6 {
		t.Fatalf("%d messages in 10 s of steady state: digests should match at the top level", h.msgs)
	}
	for _, n := range h.nodes {
		st := n.core.Status()
		if st.LastRound.UnderReplicated != 0 || st.Totals.Rounds < 4 {
			t.Fatalf("node %s: %+v", n.ref.Addr, st.LastRound)
		}
	}
}

func TestKillHolderRestoresReplicas(t *testing.T) {
	h := newHarness(t, 10, testConfig())
	blocks := h.publish(2, 400, 100, "ds@1", 3)
	victim := h.nodes[3]
	lost, _, _ := victim.store.Stats()
	h.kill(victim)
	took := h.run(30_000, "back to 3 copies", func() error { return h.placed(true) })
	t.Logf("kill: %d copies lost, restored in %d ms of virtual time with %d transfers", lost, took, h.transfers)
	if int64(h.transfers) != lost {
		t.Fatalf("%d transfers to restore %d lost copies: every lost copy should be made once", h.transfers, lost)
	}
	if took > 2*testConfig().SyncInterval+testConfig().ViewSettle+500 {
		t.Fatalf("repair took %d ms, more than two rounds", took)
	}
	// A second death, of a node that took over, is repaired the same way.
	h.kill(h.byID(h.holders(blocks[0])[0].ref.ID))
	h.run(30_000, "back to 3 copies after a second kill", func() error { return h.placed(true) })
}

func TestJoinHandsOffAndDropsExtras(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	h.publish(3, 500, 100, "ds@1", 3)
	before := h.copies()
	for range 4 {
		h.addNode("")
	}
	// Copies the new replica sets lack: each must be made once.
	need := 0
	for _, c := range h.blocks {
		for _, ref := range h.ideal(c, h.metaOf(c)) {
			if ok, _ := h.byID(ref.ID).store.HasBlock(c); !ok {
				need++
			}
		}
	}
	// The displaced holders stand in for the new members (the blocks keep
	// r reachable copies): nothing moves before the members have stayed in
	// the replica sets for the grace period.
	// (A new primary pulls the blocks of its range: it must hold them to
	// look after them.)
	h.runFor(testConfig().ExtraGrace / 2)
	if p := h.pushes(); p != 0 {
		t.Fatalf("%d pushes before the grace period: a join at full strength needs no copy at once", p)
	}
	// A new primary lacking a block is handed it (it pulls) first; then
	// the members behind it: two grace periods.
	took := h.run(2*testConfig().ExtraGrace, "handoff to the new nodes", func() error { return h.placed(false) })
	t.Logf("join of 4 nodes: replica sets complete after %d ms more, %d transfers", took, h.transfers)
	if h.transfers != need {
		t.Fatalf("%d transfers for %d copies the new replica sets lacked: some block moved twice", h.transfers, need)
	}
	// Extras made spare by the handoff stay through the grace period,
	// then go.
	extras := h.copies() - before
	if extras <= 0 {
		t.Fatalf("no extra copies right after handoff (copies %d, before %d)", h.copies(), before)
	}
	h.runFor(testConfig().ExtraGrace / 4)
	if err := h.placed(true); err == nil {
		t.Fatal("extra copies were dropped before the grace period ended")
	}
	took = h.run(testConfig().ExtraGrace+10_000, "extras dropped", func() error { return h.placed(true) })
	t.Logf("extras (%d copies) dropped %d ms after half the grace", extras, took)
	if h.copies() != before {
		t.Fatalf("%d copies after rebalancing, want %d", h.copies(), before)
	}
	// Every node holds about its share.
	for _, n := range h.live() {
		b, _, _ := n.store.Stats()
		if b == 0 {
			t.Fatalf("node %s holds nothing", n.ref.Addr)
		}
	}
}

func TestPrimaryPullsWhatItLacks(t *testing.T) {
	cfg := testConfig()
	cfg.LeafMax = 16 // force several levels of digests
	h := newHarness(t, 4, cfg)
	h.publish(4, 3000, 32, "ds@1", 2)
	newcomer := h.addNode("")
	took := h.run(cfg.ExtraGrace+20_000, "newcomer filled", func() error { return h.placed(false) })
	st := newcomer.core.Status()
	t.Logf("a joining primary pulled %d blocks in %d ms with %d sync requests", st.Totals.Pulls, took, st.Totals.Requests)
	if st.Totals.Pulls == 0 {
		t.Fatal("the new primary pulled nothing")
	}
	if st.Totals.Requests <= uint64(st.LastRound.Peers) {
		t.Fatalf("%d sync requests: the digest tree was never descended", st.Totals.Requests)
	}
}

func TestReplicationFactorChanges(t *testing.T) {
	h := newHarness(t, 9, testConfig())
	blocks := h.publish(5, 200, 100, "ds@1", 3)
	// Raise to 5: the claim reaches one holder of each block only.
	raise := Meta{Claims: []Claim{{Owner: "ds@1", Seq: 2, Replicas: 5}}}
	for _, c := range blocks {
		if _, err := h.holders(c)[1].store.MergeBlockMeta(c, raise); err != nil {
			t.Fatal(err)
		}
	}
	took := h.run(20_000, "5 copies", func() error {
		for _, c := range blocks {
			if n := len(h.holders(c)); n != 5 {
				return fmt.Errorf("block %s has %d copies", c, n)
			}
		}
		return h.placed(true)
	})
	t.Logf("r 3 -> 5 in %d ms", took)
	// Lower to 2 (a newer claim of the same owner): extras go after grace.
	lower := Meta{Claims: []Claim{{Owner: "ds@1", Seq: 3, Replicas: 2}}}
	for _, c := range blocks {
		if _, err := h.holders(c)[0].store.MergeBlockMeta(c, lower); err != nil {
			t.Fatal(err)
		}
	}
	took = h.run(testConfig().ExtraGrace+20_000, "2 copies", func() error {
		for _, c := range blocks {
			if n := len(h.holders(c)); n != 2 {
				return fmt.Errorf("block %s has %d copies", c, n)
			}
		}
		return h.placed(true)
	})
	t.Logf("r 5 -> 2 in %d ms (grace %d)", took, testConfig().ExtraGrace)
	// A second dataset sharing the blocks with r=4 keeps them at 4.
	for _, c := range blocks {
		if _, err := h.holders(c)[0].store.MergeBlockMeta(c, Meta{Claims: []Claim{{Owner: "other@1", Seq: 1, Replicas: 4}}}); err != nil {
			t.Fatal(err)
		}
	}
	h.run(20_000, "shared blocks at the larger r", func() error {
		for _, c := range blocks {
			if n := len(h.holders(c)); n != 4 {
				return fmt.Errorf("block %s has %d copies", c, n)
			}
		}
		return nil
	})
}

func TestZonesGetACopyEach(t *testing.T) {
	cfg := testConfig()
	h := newHarness(t, 0, cfg)
	for i := range 12 {
		h.addNode(fmt.Sprintf("z%d", i%3))
	}
	blocks := h.publish(6, 300, 64, "ds@1", 2) // published without zones
	zones := Meta{Claims: []Claim{{Owner: "ds@1", Seq: 2, Replicas: 3, Zones: []string{"z0", "z1", "z2"}}}}
	for _, c := range blocks {
		if _, err := h.holders(c)[0].store.MergeBlockMeta(c, zones); err != nil {
			t.Fatal(err)
		}
	}
	check := func() error {
		for _, c := range blocks {
			seen := map[string]bool{}
			for _, n := range h.holders(c) {
				seen[n.zone] = true
			}
			if len(seen) != 3 {
				return fmt.Errorf("block %s covers zones %v", c, seen)
			}
		}
		return h.placed(false)
	}
	took := h.run(20_000, "a copy in each zone", check)
	t.Logf("3 zones covered in %d ms", took)
	// Kill every node of zone z1 but one: each block still gets a z1 copy.
	var z1 []*hnode
	for _, n := range h.live() {
		if n.zone == "z1" {
			z1 = append(z1, n)
		}
	}
	for _, n := range z1[1:] {
		h.kill(n)
	}
	h.run(30_000, "zones after losing most of z1", check)
	h.run(cfg.ExtraGrace+20_000, "extras dropped", func() error { return h.placed(true) })
}

func TestRestartWithSameDataTransfersNothing(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	h.publish(7, 300, 100, "ds@1", 3)
	victim := h.nodes[2]
	// A restart quicker than the view settles moves nothing at all.
	h.kill(victim)
	h.tick()
	h.start(victim)
	h.runFor(10_000)
	if h.transfers != 0 {
		t.Fatalf("a quick restart caused %d transfers", h.transfers)
	}
	// A longer outage is repaired; the node comes back with its data and
	// counts again: nothing is sent to it afterwards.
	h.kill(victim)
	h.run(20_000, "repair during the outage", func() error { return h.placed(false) })
	during := h.transfers
	h.start(victim)
	h.runFor(10_000)
	if h.transfers != during {
		t.Fatalf("%d transfers after the node came back with its data", h.transfers-during)
	}
	t.Logf("outage: %d transfers while down, 0 after the restart", during)
	// The copies made during the outage are now extras beyond the replica
	// sets (kept for the grace period). They absorb the next outage of the
	// same node (Carbonite): the successor that steps in holds a copy.
	before := h.transfers
	h.kill(victim)
	h.run(20_000, "second outage", func() error { return h.placed(false) })
	t.Logf("second outage of the same node: %d transfers", h.transfers-before)
	if h.transfers != before {
		t.Fatalf("the extras absorbed nothing: %d transfers for the second outage", h.transfers-before)
	}
}

func TestRecordsReplicated(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	key := testNameKey("lab/survey")
	set := h.succList(key, 2)
	for _, ref := range set {
		if err := h.byID(ref.ID).store.PutRecord("lab/survey", 1, []byte("record v1")); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		for _, x := range h.live() {
			if _, err := x.store.GetRecord("lab/survey", 1); err == nil {
				n++
			}
		}
		return n
	}
	h.run(10_000, "records on 5 nodes", func() error {
		if c := count(); c != DefaultRecordReplicas {
			return fmt.Errorf("%d copies", c)
		}
		return nil
	})
	h.kill(h.byID(set[0].ID))
	h.run(10_000, "records back on 5 nodes", func() error {
		if c := count(); c != DefaultRecordReplicas {
			return fmt.Errorf("%d copies", c)
		}
		return nil
	})
}

func TestBandwidthLimitsRepair(t *testing.T) {
	cfg := testConfig()
	cfg.Bandwidth = 100_000 // bytes per second per node
	cfg.Burst = 10_000
	h := newHarness(t, 6, cfg)
	h.publish(8, 200, 1000, "ds@1", 3)
	victim := h.nodes[1]
	lost, lostBytes, _ := victim.store.Stats()
	h.kill(victim)
	took := h.run(120_000, "repair under a bandwidth limit", func() error { return h.placed(true) })
	// At most 5 nodes repair at 100 kB/s each.
	floor := overlay.Time(lostBytes * 1000 / (5 * cfg.Bandwidth))
	t.Logf("%d copies (%d bytes) repaired in %d ms under 100 kB/s per node (floor %d ms)", lost, lostBytes, took, floor)
	if took < floor {
		t.Fatalf("repair took %d ms, faster than the limit allows (%d ms)", took, floor)
	}
}

func TestDropRefusedByPrimary(t *testing.T) {
	h := newHarness(t, 4, testConfig())
	blocks := h.publish(9, 50, 10, "ds@1", 3)
	h.views()
	c := blocks[0]
	primary := h.byID(h.succList(keyOf(c), 1)[0].ID)
	other := h.byID(h.succList(keyOf(c), 2)[1].ID)
	primary.core.Step(h.now, Message{Type: MsgDrop, From: other.ref, To: primary.ref, CIDs: []cid.Cid{c}})
	if ok, _ := primary.store.HasBlock(c); !ok {
		t.Fatal("the primary dropped its copy on request")
	}
	// A drop from a node that cannot be the primary is ignored too.
	third := h.byID(h.succList(keyOf(c), 3)[2].ID)
	third.core.Step(h.now, Message{Type: MsgDrop, From: h.byID(h.succList(keyOf(c), 4)[3].ID).ref, To: third.ref, CIDs: []cid.Cid{c}})
	if ok, _ := third.store.HasBlock(c); !ok {
		t.Fatal("a copy was dropped on request of a node behind it")
	}
	third.core.Step(h.now, Message{Type: MsgDrop, From: primary.ref, To: third.ref, CIDs: []cid.Cid{c}})
	if ok, _ := third.store.HasBlock(c); ok {
		t.Fatal("the primary's drop was not honoured")
	}

}

func TestConvergesOverALossyNetwork(t *testing.T) {
	h := newHarness(t, 10, testConfig())
	h.loss = 0.1
	h.lossRng = rand.New(rand.NewPCG(10, 11))
	h.publish(11, 300, 100, "ds@1", 3)
	h.kill(h.nodes[4])
	h.addNode("")
	h.addNode("")
	took := h.run(3*testConfig().ExtraGrace+60_000, "placement with 10% loss", func() error { return h.placed(true) })
	t.Logf("kill + 2 joins with 10%% of messages and transfers lost: exact placement after %d ms", took)
}

// copyTo stores block c, with its metadata, on node n as a transfer would.
func (h *harness) copyTo(c cid.Cid, n *hnode) {
	h.t.Helper()
	src := h.holders(c)[0]
	data, err := src.store.GetBlock(c)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := n.store.PutBlock(c, data); err != nil {
		h.t.Fatal(err)
	}
	if _, err := n.store.MergeBlockMeta(c, h.metaOf(c)); err != nil {
		h.t.Fatal(err)
	}
}

func TestCopiesOutsideTheReplicaSetCount(t *testing.T) {
	// Every block also has a copy on its 4th and 5th successors. A member
	// of the replica set dies: 2 members and 2 extra copies are reachable,
	// so nothing is copied.
	h := newHarness(t, 10, testConfig())
	blocks := h.publish(12, 200, 64, "ds@1", 3)
	for _, c := range blocks {
		for _, ref := range h.succList(keyOf(c), 5)[3:] {
			h.copyTo(c, h.byID(ref.ID))
		}
	}
	h.runFor(2 * testConfig().SyncInterval)
	ring := h.live()
	h.kill(ring[2])
	h.runFor(testConfig().ExtraGrace / 2)
	if h.transfers != 0 {
		t.Fatalf("%d transfers although every block kept at least 3 reachable copies", h.transfers)
	}
	// Two more deaths next to it leave some blocks with 2 reachable
	// copies: only those are repaired, once each.
	short := 0
	h.kill(ring[3])
	h.kill(ring[4])
	for _, c := range blocks {
		if len(h.holders(c)) < 3 {
			short++
		}
	}
	h.runFor(2*testConfig().SyncInterval + testConfig().ViewSettle)
	t.Logf("second death: %d blocks short, %d transfers", short, h.transfers)
	if h.transfers != short {
		t.Fatalf("%d transfers for %d blocks short of copies", h.transfers, short)
	}
	for _, c := range blocks {
		if n := len(h.holders(c)); n < 3 {
			t.Fatalf("block %s has %d live copies", c, n)
		}
	}
}

func TestReturningHolderCountsAgain(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	blocks := h.publish(13, 200, 64, "ds@1", 3)
	victim := h.byID(h.succList(keyOf(blocks[0]), 2)[1].ID)
	h.kill(victim)
	h.run(20_000, "repair during the outage", func() error { return h.placed(false) })
	made := h.transfers
	// Back with its data: the copies made meanwhile are now spare. They
	// stay for the grace period; nothing is sent to the node.
	h.start(victim)
	h.runFor(testConfig().ExtraGrace / 2)
	if h.transfers != made {
		t.Fatalf("%d transfers after the holder came back", h.transfers-made)
	}
	if err := h.placed(true); err == nil {
		t.Fatal("the spare copies were dropped before the grace period")
	}
	// The spare copies go once they have been spare for the grace period,
	// and the node holds what it held.
	h.run(testConfig().ExtraGrace+10_000, "spare copies dropped", func() error { return h.placed(true) })
	if h.transfers != made {
		t.Fatalf("%d transfers while the spare copies were dropped", h.transfers-made)
	}
}

func TestExtraKeptWhileNeeded(t *testing.T) {
	// A block has 2 replica set members holding it and one extra copy
	// further on; the third member lacks it. The extra copy is needed for
	// r=3: it stays until the member has been handed a copy (after the
	// grace period) and has been spare for the grace period.
	cfg := testConfig()
	h := newHarness(t, 8, cfg)
	c := h.publish(14, 1, 64, "ds@1", 3)[0]
	set := h.succList(keyOf(c), 4)
	lacking := h.byID(set[2].ID)
	if err := lacking.store.DeleteBlock(c); err != nil {
		t.Fatal(err)
	}
	extra := h.byID(set[3].ID)
	h.copyTo(c, extra)
	h.runFor(cfg.ExtraGrace / 2)
	if ok, _ := extra.store.HasBlock(c); !ok || h.transfers != 0 {
		t.Fatalf("extra copy held %v, %d transfers: a block at full strength needs no copy at once", ok, h.transfers)
	}
	h.runFor(2 * cfg.ExtraGrace)
	// The lacking member was eventually handed a copy (handoff after the
	// grace); the extra copy was dropped only after that.
	if ok, _ := lacking.store.HasBlock(c); !ok {
		t.Fatal("the member lacking a copy was never handed one")
	}
	if n := len(h.holders(c)); n < 3 {
		t.Fatalf("%d copies left: an extra copy was dropped while needed", n)
	}
}

func TestDropNeedsTargetConfirmed(t *testing.T) {
	cfg := testConfig()
	cfg.ExtraGrace = 2_000
	h := newHarness(t, 8, cfg)
	c := h.publish(15, 1, 64, "ds@1", 3)[0]
	set := h.succList(keyOf(c), 5)
	extra := h.byID(set[4].ID)
	h.copyTo(c, extra)
	// The third member does not answer: only 2 members and the extra copy
	// are confirmed, so the extra copy stays.
	silent := h.byID(set[2].ID)
	h.loss = 0
	silent.alive = false
	h.views() // its death is not seen yet: the view keeps it
	for range 3 * int(cfg.ExtraGrace/h.step) {
		h.now += h.step
		for _, n := range h.nodes {
			if n.alive {
				n.core.Tick(h.now)
			}
		}
		h.drain()
	}
	if ok, _ := extra.store.HasBlock(c); !ok {
		t.Fatal("the extra copy was dropped while a member was unconfirmed")
	}
	// Once the member answers again, the extra copy goes after the grace.
	silent.alive = true
	h.run(3*cfg.ExtraGrace+10_000, "extra copy dropped", func() error {
		if ok, _ := extra.store.HasBlock(c); ok {
			return fmt.Errorf("extra copy still held")
		}
		return nil
	})
}

func TestRepairDelay(t *testing.T) {
	cfg := testConfig()
	cfg.RepairDelay = 10_000
	h := newHarness(t, 8, cfg)
	h.publish(16, 200, 64, "ds@1", 3)
	victim := h.nodes[3]
	// Away for less than the delay: nothing is copied.
	h.kill(victim)
	h.runFor(cfg.RepairDelay - 2*cfg.SyncInterval)
	if h.transfers != 0 {
		t.Fatalf("%d transfers during an outage shorter than the repair delay", h.transfers)
	}
	h.start(victim)
	h.runFor(2 * cfg.RepairDelay)
	if h.transfers != 0 {
		t.Fatalf("%d transfers after a short outage", h.transfers)
	}
	// Away for good: repaired once the delay has passed.
	h.kill(victim)
	start := h.now
	took := h.run(cfg.RepairDelay+3*cfg.SyncInterval, "repair after the delay", func() error { return h.placed(false) })
	if took < cfg.RepairDelay {
		t.Fatalf("repaired after %d ms, before the delay of %d ms", took, cfg.RepairDelay)
	}
	t.Logf("permanent loss repaired %d ms after it (delay %d ms), %d transfers", h.now-start, cfg.RepairDelay, h.transfers)
	// Two holders of a block lost at once: with a single copy reachable
	// it waits a quarter of the delay only.
	h.runFor(2 * cfg.SyncInterval)
	c := h.blocks[0]
	hold := h.holders(c)
	h.kill(hold[1])
	h.kill(hold[2])
	took = h.run(cfg.RepairDelay, "a lone copy repaired", func() error {
		if n := len(h.holders(c)); n < 3 {
			return fmt.Errorf("%d copies", n)
		}
		return nil
	})
	if took < cfg.RepairDelay/4 || took > cfg.RepairDelay/2 {
		t.Fatalf("a lone copy was repaired after %d ms; want a quarter of the delay (%d ms) and a round or two", took, cfg.RepairDelay/4)
	}
}

func TestPrimaryDoesNotPullWhatIsAtFullStrength(t *testing.T) {
	h := newHarness(t, 8, testConfig())
	h.publish(17, 300, 64, "ds@1", 3)
	newcomer := h.addNode("")
	h.runFor(testConfig().ExtraGrace / 2)
	if p := newcomer.core.Status().Totals.Pulls; p != 0 {
		t.Fatalf("a new primary pulled %d blocks at full strength before the grace period", p)
	}
	h.run(testConfig().ExtraGrace, "new primary handed its blocks", func() error { return h.placed(false) })
}
