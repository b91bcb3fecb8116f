package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/placement"
)

// replTestConfig is the configuration of the replication end-to-end tests:
// the fast ring of testConfig, a round every second and a 2 s grace for
// extra copies.
func replTestConfig(zone string) Config {
	cfg := testConfig()
	cfg.Zone = zone
	cfg.Repair = RepairConfig{
		SyncInterval: time.Second,
		ViewSettle:   300 * time.Millisecond,
		ExtraGrace:   2 * time.Second,
		HandoffDelay: 2 * time.Second,
		MaxInflight:  8,
	}
	return cfg
}

// replRing is a ring of nodes for the replication tests.
type replRing struct {
	t     *testing.T
	dir   string
	nodes []*Node
	dead  map[*Node]bool
	zone  map[*Node]string
	// places, when set, fixes where node i sits on the ring (a fraction
	// of it, placeIdentity); a node without one chooses as any does.
	places map[int]float64
}

func (rr *replRing) alive() []*Node {
	var out []*Node
	for _, n := range rr.nodes {
		if !rr.dead[n] {
			out = append(out, n)
		}
	}
	return out
}

// start starts node i in zone, joining through a live node; its place on
// the ring is rr.places[i] if set, and otherwise chosen as any new node's
// is (balanced placement).
func (rr *replRing) start(i int, zone string) *Node {
	rr.t.Helper()
	dir := filepath.Join(rr.dir, fmt.Sprintf("node%d", i))
	cfg := replTestConfig(zone)
	cfg.DataDir = dir
	cfg.ListenAddrs = LoopbackListenAddrs
	if frac, ok := rr.places[i]; ok {
		placeIdentity(rr.t, dir, frac, uint64(i))
	}
	if live := rr.alive(); len(live) > 0 {
		cfg.Bootstrap = live[0].Addrs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		rr.t.Fatal(err)
	}
	rr.t.Cleanup(func() { _ = n.Close() })
	rr.nodes = append(rr.nodes, n)
	rr.zone[n] = zone
	return n
}

func (rr *replRing) kill(n *Node) {
	rr.t.Helper()
	if err := n.Kill(); err != nil {
		rr.t.Fatal(err)
	}
	rr.dead[n] = true
}

// copies counts the live nodes holding c.
func (rr *replRing) copies(c cid.Cid) int {
	k := 0
	for _, n := range rr.alive() {
		if ok, _ := n.store.HasBlock(c); ok {
			k++
		}
	}
	return k
}

// idealSet is the replica set of c over the live ring with r copies
// covering zones.
func (rr *replRing) idealSet(c cid.Cid, r int, zones []string) []*Node {
	live := rr.alive()
	slices.SortFunc(live, func(a, b *Node) int { return a.self.ID.Cmp(b.self.ID) })
	key := dataset.KeyOf(c)
	start := 0
	for i, n := range live {
		if n.self.ID.Cmp(key) >= 0 {
			start = i
			break
		}
	}
	var chain []overlay.NodeRef
	byID := map[overlay.ID]*Node{}
	for k := range live {
		n := live[(start+k)%len(live)]
		chain = append(chain, n.self)
		byID[n.self.ID] = n
	}
	chain = chain[:min(len(chain), DefaultSuccListLen+1)]
	var out []*Node
	for _, ref := range placement.ReplicaSetZones(chain, r, zones, func(x overlay.NodeRef) string { return rr.zone[byID[x.ID]] }) {
		out = append(out, byID[ref.ID])
	}
	return out
}

// placed checks that every block is on every member of its replica set.
func (rr *replRing) placed(cids []cid.Cid, r int) error {
	for _, c := range cids {
		for _, n := range rr.idealSet(c, r, nil) {
			if ok, _ := n.store.HasBlock(c); !ok {
				return fmt.Errorf("block %s: replica set member %s lacks it", c, n.ID())
			}
		}
	}
	return nil
}

// allCopies checks that every block has exactly want live copies (at least
// want when exact is false).
func (rr *replRing) allCopies(cids []cid.Cid, want int, exact bool) error {
	for _, c := range cids {
		k := rr.copies(c)
		if k < want || exact && k != want {
			return fmt.Errorf("block %s has %d live copies, want %d", c, k, want)
		}
	}
	return nil
}

// waitFor polls cond every 100 ms until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not reached after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// versionCIDs returns the manifest and chunk CIDs of a published version.
func versionCIDs(t *testing.T, n *Node, p *PublishResult) []cid.Cid {
	t.Helper()
	rec, err := n.getRecord(context.Background(), p.Name, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	cids, err := n.versionBlocks(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return cids
}

// makeSmallTree writes count small files (a block each) and one file of
// big bytes, all random from seed.
// placeIdentity gives node dir an identity whose ring ID lies within
// 1/200 of the ring after frac of it, generated from seed, so that the
// node's place is the same in every run.
func placeIdentity(t *testing.T, dir string, frac float64, seed uint64) {
	t.Helper()
	var at overlay.ID
	binary.BigEndian.PutUint64(at[:], uint64(frac*(1<<64)))
	if _, err := CreateIdentityAt(dir, at, 1.0/200, rand.NewChaCha8([32]byte{byte(seed)})); err != nil {
		t.Fatal(err)
	}
}

func makeSmallTree(t *testing.T, root string, seed uint64, count, big int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 43))
	for i := range count {
		writeFile(t, root, fmt.Sprintf("part-%d/f%04d.bin", i%10, i), randomBytes(rng, 1024+rng.IntN(4096)))
	}
	writeFile(t, root, "big.bin", randomBytes(rng, big))
}

func TestReplicationEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end replication test")
	}
	ctx := context.Background()
	// Places fixed for every run: the ten nodes left at the end (2 and 5
	// are killed) sit a tenth of the ring apart, the four that join last
	// between the first ones. Left to chance, a node can end below half
	// the mean share on a correct handoff; TestBalancedPlacement checks
	// the sampling placement itself.
	places := map[int]float64{0: 0, 8: 0.1, 1: 0.2, 9: 0.3, 3: 0.4, 2: 0.45, 4: 0.5, 10: 0.6, 6: 0.7, 5: 0.75, 11: 0.8, 7: 0.9}
	rr := &replRing{t: t, dir: t.TempDir(), dead: map[*Node]bool{}, zone: map[*Node]string{}, places: places}
	zoneOf := func(i int) string { return fmt.Sprintf("z%d", i%3) }
	for i := range 8 {
		rr.start(i, zoneOf(i))
	}
	if err := WaitRingConsistent(ctx, rr.alive(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	makeSmallTree(t, src, 42, 300, 3<<20)
	pub, err := rr.nodes[0].Publish(ctx, "lab/survey", src, 3)
	if err != nil {
		t.Fatal(err)
	}
	cids := versionCIDs(t, rr.nodes[0], pub)
	t.Logf("published %d blocks with r=3 on 8 nodes", len(cids))
	if err := rr.allCopies(cids, 3, false); err != nil {
		t.Fatal(err)
	}

	// Kill a holder, then another: every block gets back to 3 live copies.
	for round := 1; round <= 2; round++ {
		victim := rr.alive()[round*2]
		held, _, _ := victim.store.Stats()
		rr.kill(victim)
		took := waitFor(t, time.Minute, fmt.Sprintf("kill %d: back to 3 copies", round), func() error { return rr.allCopies(cids, 3, false) })
		t.Logf("kill %d: node holding %d blocks killed; every block back to 3 live copies after %s", round, held, took.Round(10*time.Millisecond))
	}
	st, err := rr.alive()[0].DatasetStatus(ctx, "lab/survey")
	if err != nil {
		t.Fatal(err)
	}
	if v := st.Versions[0]; v.Blocks != len(cids) || v.MinLiveReplicas < 3 || v.UnderReplicated != 0 || v.TargetReplicas != 3 {
		t.Fatalf("status after repair: %+v", v)
	}

	// Add 4 nodes: blocks move to them, extras go after the grace period.
	start := time.Now()
	for i := 8; i < 12; i++ {
		rr.start(i, zoneOf(i))
	}
	if err := WaitRingConsistent(ctx, rr.alive(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "handoff to the new nodes", func() error { return rr.placed(cids, 3) })
	handoff := time.Since(start)
	waitFor(t, time.Minute, "extra copies removed", func() error { return rr.allCopies(cids, 3, true) })
	t.Logf("join of 4 nodes: replica sets complete after %s, extras removed after %s (grace 2 s)",
		handoff.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
	total := 0
	for _, n := range rr.alive() {
		b, _, _ := n.store.Stats()
		total += int(b)
	}
	mean := float64(total) / float64(len(rr.alive()))
	for _, n := range rr.alive() {
		b, _, _ := n.store.Stats()
		t.Logf("  node %s holds %d blocks (mean %.1f)", n.self.ID, b, mean)
		if float64(b) > 2*mean || float64(b) < mean/2 {
			t.Errorf("node %s holds %d blocks, not within 2x of the mean %.1f", n.self.ID, b, mean)
		}
	}

	// replicate --replicas 5.
	res, err := rr.alive()[1].Replicate(ctx, ReplicateRequest{Name: "lab/survey", Replicas: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unreached != 0 || res.Blocks != len(cids) {
		t.Fatalf("replicate: %+v", res)
	}
	took := waitFor(t, time.Minute, "5 live copies", func() error { return rr.allCopies(cids, 5, false) })
	t.Logf("replicate --replicas 5: every block has 5 live copies after %s", took.Round(10*time.Millisecond))

	// Three zones: a dataset published with --zones naming all three gets
	// a copy of every block in each (publish places blocks on the first r
	// successors; replica maintenance moves them into the zones).
	zsrc := t.TempDir()
	makeSmallTree(t, zsrc, 7, 120, 0)
	zpub, err := rr.alive()[2].PublishZones(ctx, "lab/zoned", zsrc, 3, []string{"z2", "z0", "z1"})
	if err != nil {
		t.Fatal(err)
	}
	zcids := versionCIDs(t, rr.alive()[2], zpub)
	inZones := func() error {
		for _, c := range zcids {
			seen := map[string]bool{}
			for _, n := range rr.alive() {
				if ok, _ := n.store.HasBlock(c); ok {
					seen[rr.zone[n]] = true
				}
			}
			if len(seen) != 3 {
				return fmt.Errorf("block %s is in zones %v", c, seen)
			}
		}
		return nil
	}
	violations := 0
	for _, c := range zcids {
		seen := map[string]bool{}
		for _, n := range rr.alive() {
			if ok, _ := n.store.HasBlock(c); ok {
				seen[rr.zone[n]] = true
			}
		}
		if len(seen) != 3 {
			violations++
		}
	}
	took = waitFor(t, time.Minute, "a copy in each zone", func() error {
		st, err := rr.alive()[0].DatasetStatus(ctx, "lab/zoned")
		if err != nil {
			return err
		}
		if v := st.Versions[0]; v.ZoneViolations != 0 || v.UnderReplicated != 0 || len(v.Zones) != 3 {
			return fmt.Errorf("status %+v", v)
		}
		return inZones()
	})
	t.Logf("publish --zones z0,z1,z2: %d of %d blocks lacked a zone after publish; every block has a copy in each zone after %s",
		violations, len(zcids), took.Round(10*time.Millisecond))
	took = waitFor(t, time.Minute, "one copy per zone", func() error { return rr.allCopies(zcids, 3, true) })
	t.Logf("  extra copies outside the zone sets removed %s later", took.Round(10*time.Millisecond))

	info, err := rr.alive()[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Repair == nil || info.Repair.LastRound == nil || info.Repair.Totals.Rounds == 0 {
		t.Fatalf("node status has no repair information: %+v", info.Repair)
	}
	mustFetchSame(t, rr.alive()[3], "lab/survey", 1, src)
}
