package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/overlay"
)

// Balanced placement of new nodes.
//
// A node's ring ID is the hash of its public key, so a node that generates
// keys until one hashes to a good place chooses its place, and anyone can
// still check the ID against the key. With random IDs the widest arc of N
// nodes is about ln N times the mean, and the share of keys a node stores
// varies by more than 2x; Chord answers with virtual nodes. Chorus instead
// lets a joining node ask its bootstrap node for a sample of the ring and
// split the widest arc seen: arcs sampled around random keys are picked
// with probability growing with their width, so the widest of a few dozen
// is wide, and splitting it in its middle third keeps the widest and narrowest arcs within a
// small factor of each other. Every arc is confirmed by a lookup before it
// counts as the widest, since successor lists lag joins.
const (
	// sampleLookups is how many random keys a ring member looks up to
	// answer opRingSample, besides giving its own successor list.
	sampleLookups = 6
	// grindBudget bounds the time spent generating keys. A ring of N nodes
	// needs about 3N/c keys, c being the widest sampled arc in units of the
	// mean arc (some 4 in large rings), at about 32 us each here
	// (BenchmarkGrindKey); 100,000 nodes need about 2.4 s.
	grindBudget = 3 * time.Second
	// maxArcChecks bounds the lookups a sample spends confirming that its
	// widest arc is current.
	maxArcChecks = 12
	// maxSamples bounds the ring samples a node serves at once.
	maxSamples = 2
	// maxSampleFrame bounds the answer to opRingSample.
	maxSampleFrame = 64 << 10
)

// serveRingSample answers opRingSample: the node's own successor list
// (closed into a loop when the ring is shorter than the list) and the
// replica sets of random keys, each a run of consecutive ring IDs.
func (n *Node) serveRingSample() *rpcResponse {
	if !n.sampleSlots.TryAcquire(1) {
		return errStatus(statusError, errors.New("busy with other ring samples"))
	}
	defer n.sampleSlots.Release(1)
	ctx, cancel := context.WithTimeout(context.Background(), 4*n.cfg.RPCTimeout)
	defer cancel()
	var succs []overlay.NodeRef
	if err := n.ring.do(ctx, func(c *overlay.Node) { succs = c.Successors() }); err != nil {
		return errStatus(statusError, err)
	}
	own := []overlay.NodeRef{n.self}
	own = append(own, succs...)
	if len(succs) < n.cfg.SuccListLen {
		own = append(own, n.self)
	}
	runs := [][]overlay.NodeRef{own}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range sampleLookups {
		var key overlay.ID
		_, _ = rand.Read(key[:])
		wg.Go(func() {
			res, err := n.ring.lookup(ctx, key)
			if err != nil || len(res.Successors) < 2 {
				return
			}
			mu.Lock()
			runs = append(runs, res.Successors)
			mu.Unlock()
		})
	}
	wg.Wait()
	ids := make([][]overlay.ID, len(runs))
	for i, run := range runs {
		if len(run) > maxRPCRunIDs {
			run = run[:maxRPCRunIDs]
		}
		ids[i] = make([]overlay.ID, len(run))
		for j, r := range run {
			ids[i][j] = r.ID
		}
	}
	ids = n.checkWidest(ctx, ids)
	resp := &rpcResponse{Status: statusOK}
	for _, run := range ids {
		b := make([]byte, 0, len(run)*len(overlay.ID{}))
		for _, id := range run {
			b = append(b, id[:]...)
		}
		resp.Ring = append(resp.Ring, b)
	}
	return resp
}

// checkWidest makes sure the widest arc of runs is still whole. Successor
// lists lag a join by a few stabilize rounds, so a node that joined
// moments ago may already sit inside it; a lookup of the key just after
// the arc's start, whose first answer the lookup checks against that
// node's predecessor, finds it. A stale arc is cut out of every run, the
// confirmed first part added as a run of two, and the next widest checked,
// a bounded number of times.
func (n *Node) checkWidest(ctx context.Context, runs [][]overlay.ID) [][]overlay.ID {
	for range maxArcChecks {
		r, i, ok := overlay.WidestArcAt(runs)
		if !ok {
			return runs
		}
		from, to := runs[r][i-1], runs[r][i]
		res, err := n.ring.lookup(ctx, from.AddPow2(0))
		if err != nil || len(res.Successors) == 0 || res.Successors[0].ID == to {
			return runs
		}
		runs = append(cutArc(runs, from, to), []overlay.ID{from, res.Successors[0].ID})
	}
	return runs
}

// cutArc splits every run that has to right after from, so that no run
// claims the arc between them any more.
func cutArc(runs [][]overlay.ID, from, to overlay.ID) [][]overlay.ID {
	var out [][]overlay.ID
	for _, run := range runs {
		start := 0
		for j := 1; j < len(run); j++ {
			if run[j-1] == from && run[j] == to {
				out = append(out, run[start:j])
				start = j
			}
		}
		out = append(out, run[start:])
	}
	return out
}

// sampleRing asks the first bootstrap node that answers for runs of
// consecutive ring IDs, from a throwaway host that only dials out.
func sampleRing(ctx context.Context, bootstrap []peer.AddrInfo, timeout time.Duration) ([][]overlay.ID, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sample ring: %w", err)
	}
	h, err := NewHost(ctx, HostConfig{PrivKey: key, NoListen: true})
	if err != nil {
		return nil, fmt.Errorf("sample ring: %w", err)
	}
	defer h.Close()
	var errs []error
	for _, b := range bootstrap {
		cctx, cancel := context.WithTimeout(ctx, 6*timeout)
		resp, err := askSample(cctx, h, b)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var runs [][]overlay.ID
		for _, raw := range resp.Ring {
			run := make([]overlay.ID, len(raw)/len(overlay.ID{}))
			for i := range run {
				copy(run[i][:], raw[i*len(overlay.ID{}):])
			}
			runs = append(runs, run)
		}
		return runs, nil
	}
	return nil, fmt.Errorf("sample ring: %w", errors.Join(errs...))
}

// askSample connects h to b and asks it for a ring sample.
func askSample(ctx context.Context, h host.Host, b peer.AddrInfo) (*rpcResponse, error) {
	if err := h.Connect(ctx, b); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", b.ID, err)
	}
	resp, _, err := roundTrip(ctx, h, b.ID, NameProtocol, &rpcRequest{Op: opRingSample}, maxSampleFrame)
	if err != nil {
		return nil, err
	}
	if resp.Status != statusOK {
		return nil, fmt.Errorf("%s: %w: %s", b.ID, errRemote, resp.Err)
	}
	return resp, nil
}

// grindKey generates Ed25519 keys until one's ring ID lies in the middle
// half of arc, or the budget runs out; it then returns the key closest to
// the middle of the arc seen so far, and how many keys it tried.
func grindKey(arc overlay.Arc, budget time.Duration) (crypto.PrivKey, int, error) {
	deadline := time.Now().Add(budget)
	var best crypto.PrivKey
	var bestOff uint64
	for tries := 1; ; tries++ {
		priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, tries, err
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			return nil, tries, err
		}
		ring := refOf(id).ID
		if arc.MiddleThird(ring) {
			return priv, tries, nil
		}
		if off := arc.OffCentre(ring); best == nil || off < bestOff {
			best, bestOff = priv, off
		}
		if tries%256 == 0 && time.Now().After(deadline) {
			return best, tries, nil
		}
	}
}

// chooseIdentity loads the node's identity, or creates it. A new node that
// joins an existing ring takes a key whose ring ID splits the widest arc
// its bootstrap node samples, unless cfg.RandomID is set; when the sample
// cannot be had it says so and takes a random key.
func chooseIdentity(ctx context.Context, cfg Config, bootstrap []peer.AddrInfo, log *slog.Logger) (crypto.PrivKey, error) {
	if cfg.RandomID || len(bootstrap) == 0 || hasIdentity(cfg.DataDir) {
		return LoadOrCreateIdentity(cfg.DataDir)
	}
	return loadOrCreateIdentityWith(cfg.DataDir, func() (crypto.PrivKey, error) {
		runs, err := sampleRing(ctx, bootstrap, cfg.RPCTimeout)
		if err != nil {
			log.Warn("balanced placement unavailable, taking a random ring ID", "err", err)
			priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
			return priv, err
		}
		arc, ok := overlay.LargestArc(runs)
		if !ok {
			log.Warn("ring sample holds no arc, taking a random ring ID")
			priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
			return priv, err
		}
		start := time.Now()
		priv, tries, err := grindKey(arc, grindBudget)
		if err == nil {
			log.Info("placed in the widest sampled arc", "arc_from", arc.From.String(), "arc_share", float64(arc.Width)/(1<<64), "ring_id", refOfKey(priv), "tries", tries, "took", time.Since(start).Round(time.Millisecond))
		}
		return priv, err
	})
}

// refOfKey returns the ring ID of a key, for logs.
func refOfKey(priv crypto.PrivKey) string {
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return "?"
	}
	return refOf(id).ID.String()
}
