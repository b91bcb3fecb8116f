package node

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// transfersSoFar sums the repair transfers the live nodes carried out.
func (rr *replRing) transfersSoFar(t *testing.T) uint64 {
	t.Helper()
	var sum uint64
	for _, n := range rr.alive() {
		st, err := n.RepairStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sum += st.Totals.Pushes + st.Totals.Pulls
	}
	return sum
}

func TestRestartWithSameDataCausesNoReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end replication test")
	}
	t.Parallel()
	ctx := context.Background()
	rr := &replRing{t: t, dir: t.TempDir(), dead: map[*Node]bool{}, zone: map[*Node]string{}}
	for slot := range 5 {
		rr.start(slot, "")
	}
	if err := WaitRingConsistent(ctx, rr.alive(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	makeSmallTree(t, src, 3, 150, 0)
	pub, err := rr.nodes[0].Publish(ctx, "lab/restart", src, 3)
	if err != nil {
		t.Fatal(err)
	}
	cids := versionCIDs(t, rr.nodes[0], pub)
	waitFor(t, 30*time.Second, "placement", func() error { return rr.placed(cids, 3) })

	victim := rr.nodes[2]
	held, _, _ := victim.store.Stats()
	dir := victim.cfg.DataDir
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	rr.dead[victim] = true
	// While it is away its blocks are re-replicated (it left cleanly, so
	// the ring knows at once).
	waitFor(t, 30*time.Second, "repair while away", func() error { return rr.allCopies(cids, 3, false) })
	// A transfer is counted when the core hears it finished, a little
	// after the copy is in place: wait until the count has not moved for
	// more than a round.
	during := rr.transfersSoFar(t)
	settled := time.Now()
	waitFor(t, 30*time.Second, "repair counters settled", func() error {
		if now := rr.transfersSoFar(t); now != during {
			during, settled = now, time.Now()
		}
		if quiet := time.Since(settled); quiet < 1500*time.Millisecond {
			return fmt.Errorf("transfer count moved %s ago", quiet.Round(time.Millisecond))
		}
		return nil
	})

	cfg := replTestConfig("")
	cfg.Repair.ExtraGrace = time.Minute // keep the copies made meanwhile
	cfg.DataDir = dir
	cfg.ListenAddrs = LoopbackListenAddrs
	cfg.Bootstrap = rr.nodes[0].Addrs()
	back, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = back.Close() })
	rr.nodes = append(rr.nodes, back)
	if back.ID() != victim.ID() || filepath.Clean(back.cfg.DataDir) != filepath.Clean(dir) {
		t.Fatal("restarted node changed identity")
	}
	if err := WaitRingConsistent(ctx, rr.alive(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Several rounds later: nothing was sent to it or for it.
	time.Sleep(3 * time.Second)
	after := rr.transfersSoFar(t)
	st, err := back.RepairStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nowHeld, _, _ := back.store.Stats()
	t.Logf("restart: node held %d blocks; %d transfers while it was away, %d after it came back; it holds %d", held, during, after-during, nowHeld)
	// A repair transfer still in flight when the node came back may land
	// after it; what must not happen is a re-replication of its holdings.
	if stray := after - during; stray > uint64(max(2, held/50)) || st.Totals.Pulls != 0 || nowHeld != held {
		t.Fatalf("restart with the same data caused transfers: %d after return, %d pulls by the node, held %d -> %d",
			after-during, st.Totals.Pulls, held, nowHeld)
	}
	if err := rr.placed(cids, 3); err != nil {
		t.Fatal(fmt.Errorf("after the restart: %w", err))
	}
}
