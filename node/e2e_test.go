package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/dataset"
)

// testConfig is the node configuration of the networked tests: fast ring
// maintenance so that rings converge in a second or two on loopback, and
// replica repair held back (its first round an hour away) so that these
// tests see exactly what publish and fetch do by themselves — for example a
// node that joins holds nothing until repair hands it its keys. The repair
// tests (repl_e2e_test.go) turn it on.
func testConfig() Config {
	return Config{
		StabilizeInterval: 200 * time.Millisecond,
		RPCTimeout:        time.Second,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Repair:            RepairConfig{SyncInterval: time.Hour, ViewSettle: time.Hour},
	}
}

func startRing(t *testing.T, count int) []*Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := StartLocalRing(ctx, t.TempDir(), count, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	})
	return nodes
}

// joinNode starts one more node that joins through nodes[0].
func joinNode(t *testing.T, nodes []*Node) *Node {
	t.Helper()
	cfg := testConfig()
	cfg.DataDir = t.TempDir()
	cfg.ListenAddrs = LoopbackListenAddrs
	cfg.Bootstrap = nodes[0].Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func writeFile(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// makeTree writes the end-to-end test tree: nested folders, an empty file,
// an empty folder, a 20 MiB file and 300 small files.
func makeTree(t *testing.T, root string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	writeFile(t, root, "big/survey.bin", randomBytes(rng, 20<<20))
	writeFile(t, root, "empty.dat", nil)
	if err := os.MkdirAll(filepath.Join(root, "nested/a/b/c/empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		writeFile(t, root, fmt.Sprintf("nested/a/b/c/part-%d/file-%03d.txt", i%7, i), []byte(fmt.Sprintf("small file %d seed %d\n", i, seed)))
	}
}

func mustFetchSame(t *testing.T, n *Node, name string, version uint64, want string) *FetchResult {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "out")
	res, err := n.Fetch(context.Background(), name, version, dest, false)
	if err != nil {
		t.Fatalf("fetch %s@%d: %v", name, version, err)
	}
	if err := dataset.CompareTrees(want, dest); err != nil {
		t.Fatalf("fetch %s@%d: tree differs: %v", name, version, err)
	}
	return res
}

func TestEndToEndPublishFetchSurvivesKills(t *testing.T) {
	nodes := startRing(t, 5)
	ctx := context.Background()

	v1src := filepath.Join(t.TempDir(), "v1")
	makeTree(t, v1src, 1)
	p1, err := nodes[0].Publish(ctx, "lab/survey", v1src, 3)
	if err != nil {
		t.Fatalf("publish v1: %v", err)
	}
	if p1.Version != 1 || p1.Files != 302 {
		t.Fatalf("publish v1 = %+v, want version 1 and 302 files", p1)
	}
	t.Logf("publish v1: %d bytes in %.2fs = %.1f MB/s", p1.Bytes, p1.Seconds, float64(p1.Bytes)/p1.Seconds/1e6)

	v2src := filepath.Join(t.TempDir(), "v2")
	makeTree(t, v2src, 2)
	p2, err := nodes[1].Publish(ctx, "lab/survey", v2src, 3)
	if err != nil {
		t.Fatalf("publish v2: %v", err)
	}
	if p2.Version != 2 || p2.Parent != 1 {
		t.Fatalf("publish v2 = %+v, want version 2 with parent 1", p2)
	}

	// Every block of both versions is durable on 3 distinct nodes.
	for _, p := range []*PublishResult{p1, p2} {
		for c, holders := range blockHolders(t, nodes, p) {
			if holders < 3 {
				t.Fatalf("%s@%d: block %s held by %d nodes, want 3", p.Name, p.Version, c, holders)
			}
		}
	}

	// A node that joins now holds none of the data and fetches it all.
	fresh := joinNode(t, nodes)
	all := append(append([]*Node(nil), nodes...), fresh)
	if err := WaitRingConsistent(ctx, all, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := fresh.store.Stats(); b != 0 {
		t.Fatalf("fresh node holds %d blocks, want 0", b)
	}
	f := mustFetchSame(t, fresh, "lab/survey", 0, v2src)
	if f.Version != 2 {
		t.Fatalf("latest fetch gave version %d, want 2", f.Version)
	}
	t.Logf("fetch v2 through a node holding nothing: %d bytes in %.2fs = %.1f MB/s", f.Bytes, f.Seconds, float64(f.Bytes)/f.Seconds/1e6)

	// Kill two nodes abruptly; with 3 replicas every block survives.
	if err := nodes[1].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[3].Kill(); err != nil {
		t.Fatal(err)
	}
	alive := []*Node{nodes[0], nodes[2], nodes[4], fresh}
	if err := WaitRingConsistent(ctx, alive, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	mustFetchSame(t, fresh, "lab/survey", 2, v2src)
	mustFetchSame(t, fresh, "lab/survey", 1, v1src)
	mustFetchSame(t, nodes[4], "lab/survey", 1, v1src)
}

// blockHolders counts, for every block of a published version (manifest
// included), how many of nodes hold it.
func blockHolders(t *testing.T, nodes []*Node, p *PublishResult) map[cid.Cid]int {
	t.Helper()
	mc, err := cid.Decode(p.CID)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := nodes[0].getBlock(context.Background(), mc, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.DecodeManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	cids := []cid.Cid{mc}
	for _, e := range m.Entries {
		for _, ch := range e.Chunks {
			cids = append(cids, ch.CID)
		}
	}
	out := make(map[cid.Cid]int)
	for _, c := range cids {
		out[c] = 0
		for _, n := range nodes {
			if ok, _ := n.store.HasBlock(c); ok {
				out[c]++
			}
		}
	}
	return out
}

func TestBadInput(t *testing.T) {
	nodes := startRing(t, 3)
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, src, "a.txt", []byte("hello"))
	if _, err := nodes[0].Publish(ctx, "ok", src, 2); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "exists")
	writeFile(t, dest, "keep.txt", []byte("mine"))

	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"unknown name", func() error { _, err := nodes[1].Fetch(ctx, "nope", 0, t.TempDir()+"/x", false); return err }, ErrUnknownName},
		{"unknown version", func() error { _, err := nodes[1].Fetch(ctx, "ok", 9, t.TempDir()+"/x", false); return err }, ErrUnknownVersion},
		{"invalid name", func() error { _, err := nodes[1].Publish(ctx, "Bad Name", src, 2); return err }, ErrBadRequest},
		{"missing path", func() error { _, err := nodes[1].Publish(ctx, "ok", src+"/missing", 2); return err }, ErrBadRequest},
		{"too many replicas", func() error { _, err := nodes[1].Publish(ctx, "ok", src, 100); return err }, ErrBadRequest},
		{"dest conflict", func() error { _, err := nodes[1].Fetch(ctx, "ok", 1, dest, false); return err }, dataset.ErrDestExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	got, err := os.ReadFile(filepath.Join(dest, "keep.txt"))
	if err != nil || string(got) != "mine" {
		t.Fatalf("conflicting fetch touched DEST: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "a.txt")); !os.IsNotExist(err) {
		t.Fatalf("conflicting fetch wrote into DEST: %v", err)
	}
}
