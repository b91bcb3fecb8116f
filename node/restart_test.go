package node

import (
	"context"
	"testing"
	"time"
)

func TestRestartKeepsIdentityAndData(t *testing.T) {
	nodes := startRing(t, 3)
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, src, "x/y.txt", []byte("persistent"))
	if _, err := nodes[0].Publish(ctx, "keep", src, 3); err != nil {
		t.Fatal(err)
	}
	victim := nodes[2]
	id := victim.ID()
	blocks, bytes, err := victim.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if blocks == 0 {
		t.Fatal("with r=3 on 3 nodes every node holds every block")
	}
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig()
	cfg.DataDir = victim.cfg.DataDir
	cfg.ListenAddrs = LoopbackListenAddrs
	cfg.Bootstrap = nodes[0].Addrs()
	again, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	if again.ID() != id {
		t.Fatalf("restarted node has peer ID %s, want %s", again.ID(), id)
	}
	b2, by2, err := again.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if b2 != blocks || by2 != bytes {
		t.Fatalf("restarted node holds %d blocks / %d bytes, want %d / %d", b2, by2, blocks, bytes)
	}
	if err := WaitRingConsistent(ctx, []*Node{nodes[0], nodes[1], again}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	mustFetchSame(t, again, "keep", 1, src)
}
