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
	took := h.run(20_000, "handoff to the new nodes", func() error { return h.placed(false) })
	t.Logf("join of 4 nodes: replica sets complete after %d ms, %d transfers", took, h.transfers)
	extras := h.copies() - before
	if extras <= 0 {
		t.Fatalf("no extra copies right after handoff (copies %d, before %d)", h.copies(), before)
	}
	if h.transfers != extras {
		t.Fatalf("%d transfers made %d new copies: some block moved twice", h.transfers, extras)
	}
	// Extras stay through the grace period, then go.
	h.runFor(testConfig().ExtraGrace / 2)
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
	took := h.run(20_000, "newcomer filled", func() error { return h.placed(false) })
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
	took := h.run(testConfig().ExtraGrace+60_000, "placement with 10% loss", func() error { return h.placed(true) })
	t.Logf("kill + 2 joins with 10%% of messages and transfers lost: exact placement after %d ms", took)
}
