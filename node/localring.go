package node

import (
	"context"
	"fmt"
	"github.com/libp2p/go-libp2p/core/host"
	"path/filepath"
	"sort"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// LoopbackListenAddrs listen on loopback on ports the kernel picks, for
// rings of several nodes in one process or on one machine.
var LoopbackListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// StartLocalRing starts count nodes on loopback, each with its own data
// directory under dir, the first creating the ring and the others joining
// through it, and waits until the ring is consistent. tmpl supplies every
// other setting (its DataDir, ListenAddrs, Bootstrap and APIAddr are
// replaced). It is used by the demo, the benchmarks and the tests.
func StartLocalRing(ctx context.Context, dir string, count int, tmpl Config) ([]*Node, error) {
	var nodes []*Node
	for i := range count {
		cfg := tmpl
		cfg.DataDir = filepath.Join(dir, fmt.Sprintf("node%d", i))
		cfg.ListenAddrs = LoopbackListenAddrs
		cfg.APIAddr = ""
		cfg.Bootstrap = nil
		if i > 0 {
			cfg.Bootstrap = nodes[0].Addrs()
		}
		n, err := Start(ctx, cfg)
		if err != nil {
			for _, m := range nodes {
				_ = m.Close()
			}
			return nil, fmt.Errorf("start node %d: %w", i, err)
		}
		nodes = append(nodes, n)
	}
	if err := WaitRingConsistent(ctx, nodes, 30*time.Second); err != nil {
		for _, m := range nodes {
			_ = m.Close()
		}
		return nil, err
	}
	return nodes, nil
}

// WaitRingConsistent polls until every node's successor and predecessor are
// its true neighbours among nodes, or the timeout passes.
func WaitRingConsistent(ctx context.Context, nodes []*Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ringConsistent(ctx, nodes)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ring not consistent after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ringConsistent(ctx context.Context, nodes []*Node) error {
	if len(nodes) <= 1 {
		return nil
	}
	sorted := append([]*Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].self.ID.Cmp(sorted[j].self.ID) < 0 })
	for i, n := range sorted {
		wantPred := sorted[(i-1+len(sorted))%len(sorted)].self
		var succs []overlay.NodeRef
		var pred overlay.NodeRef
		err := n.ring.do(ctx, func(c *overlay.Node) {
			succs = c.Successors()
			pred = c.Predecessor()
		})
		if err != nil {
			return err
		}
		if pred.ID != wantPred.ID {
			return fmt.Errorf("node %s: predecessor %s, want %s", n.self.ID, pred.ID, wantPred.ID)
		}
		// The successor list must name the next nodes in ring order, as
		// many as fit (a list never names the node itself).
		want := min(n.cfg.SuccListLen, len(sorted)-1)
		if len(succs) < want {
			return fmt.Errorf("node %s: %d successors %v, want %d", n.self.ID, len(succs), refIDs(succs), want)
		}
		for k := range want {
			if exp := sorted[(i+1+k)%len(sorted)].self; succs[k].ID != exp.ID {
				return fmt.Errorf("node %s: successor %d is %s, want %s", n.self.ID, k, succs[k].ID, exp.ID)
			}
		}
	}
	return nil
}

// Kill stops the node abruptly, as a crash would: it does not tell its
// neighbours. Tests and the demo use it to show that data survives.
func (n *Node) Kill() error { return n.stop(false) }

func refIDs(refs []overlay.NodeRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID.String()
	}
	return out
}

// Host returns the node's libp2p host, for tools that need to manage its
// connections (the benchmark routes them through shaping proxies).
func (n *Node) Host() host.Host { return n.host }
