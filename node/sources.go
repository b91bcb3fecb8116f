package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/chorus-data/chorus/replica"
)

// Source selection tuning.
const (
	// unknownRTT ranks a peer whose round-trip time is not measured yet.
	unknownRTT = 100 * time.Millisecond
	// priorBandwidth is assumed for a peer before its throughput is
	// measured, in bytes per second.
	priorBandwidth = 100e6
	// minHedge is the least time a block request runs before a second
	// replica is asked too.
	minHedge = 250 * time.Millisecond
)

// rtt returns the measured round-trip time to p, starting a ping in the
// background when there is none yet.
func (n *Node) rtt(p peer.ID) time.Duration {
	if d := n.host.Peerstore().LatencyEWMA(p); d > 0 {
		return d
	}
	n.pipesMu.Lock()
	started := n.pinging[p]
	n.pinging[p] = true
	n.pipesMu.Unlock()
	if !started {
		go n.measureRTT(p)
	}
	return unknownRTT
}

// measureRTT pings p a few times; libp2p's ping records each round trip in
// the peerstore's latency average.
func (n *Node) measureRTT(p peer.ID) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RPCTimeout*2)
	defer cancel()
	results := ping.Ping(ctx, n.host, p)
	for range 3 {
		r, ok := <-results
		if !ok || r.Error != nil {
			break
		}
	}
	n.pipesMu.Lock()
	delete(n.pinging, p)
	n.pipesMu.Unlock()
}

// expected estimates how long a get of size bytes from p would take now:
// one round trip plus the bytes ahead of it and its own at the peer's
// measured throughput.
func (n *Node) expected(p peer.ID, size int64) time.Duration {
	pending, bw := n.pipeTo(p).load()
	if bw <= 0 {
		bw = priorBandwidth
	}
	return n.rtt(p) + time.Duration(float64(pending+size)/bw*float64(time.Second))
}

// hedgeDelay is how long a get of size bytes from p may run before a
// second holder is asked too: three times the expected time once p's
// throughput is measured, else a full RPC timeout, so that a cold start
// does not duplicate every request on a slow link.
func (n *Node) hedgeDelay(p peer.ID, size int64) time.Duration {
	if _, bw := n.pipeTo(p).load(); bw <= 0 {
		return max(n.cfg.RPCTimeout, minHedge)
	}
	return max(3*n.expected(p, size), minHedge)
}

// rankSources orders candidate holders by expected completion time: the
// nearest first while it keeps up, the others once it is loaded, so a
// fetch stripes across replicas exactly when one cannot fill the pipe.
func (n *Node) rankSources(cands []peer.ID, size int64) []peer.ID {
	type scored struct {
		p   peer.ID
		est time.Duration
	}
	s := make([]scored, len(cands))
	for i, p := range cands {
		s[i] = scored{p, n.expected(p, size)}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].est < s[j].est })
	out := make([]peer.ID, len(s))
	for i := range s {
		out[i] = s[i].p
	}
	return out
}

// sourceStats counts what each source delivered during one fetch.
type sourceStats struct {
	mu     sync.Mutex
	bytes  map[peer.ID]int64
	blocks map[peer.ID]int
	first  time.Time // when the first block arrived
}

func newSourceStats() *sourceStats {
	return &sourceStats{bytes: make(map[peer.ID]int64), blocks: make(map[peer.ID]int)}
}

func (s *sourceStats) add(p peer.ID, n int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first.IsZero() {
		s.first = time.Now()
	}
	s.bytes[p] += int64(n)
	s.blocks[p]++
}

// SourceInfo says how much of a fetch one peer served.
type SourceInfo struct {
	Peer   string `json:"peer"`
	Bytes  int64  `json:"bytes"`
	Blocks int    `json:"blocks"`
}

func (s *sourceStats) list() []SourceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SourceInfo, 0, len(s.bytes))
	for p, b := range s.bytes {
		out = append(out, SourceInfo{Peer: p.String(), Bytes: b, Blocks: s.blocks[p]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Peer < out[j].Peer
	})
	return out
}

type sourceResult struct {
	p    peer.ID
	data []byte
	err  error
}

// fetchFromHolders gets block c (size bytes, 0 if unknown) from the best of
// holders, moving on when a holder fails or lies, and asking a second
// holder too when the first is slow (a hedged request). The first verified
// copy wins.
func (n *Node) fetchFromHolders(ctx context.Context, holders []peer.ID, c cid.Cid, size int64, stats *sourceStats) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tried := make(map[peer.ID]bool)
	results := make(chan sourceResult, len(holders))
	inflight := 0
	var hedgeAfter time.Duration
	launch := func() bool {
		for _, p := range n.rankSources(holders, size) {
			if tried[p] {
				continue
			}
			tried[p] = true
			inflight++
			hedgeAfter = n.hedgeDelay(p, size)
			go func() {
				data, err := n.pipeTo(p).do(&pipeOp{ctx: ctx, op: opBlockGet, c: c, size: size})
				results <- sourceResult{p, data, err}
			}()
			return true
		}
		return false
	}
	if !launch() {
		return nil, fmt.Errorf("block %s: no holder to ask: %w", c, replica.ErrNotFound)
	}
	hedge := time.NewTimer(hedgeAfter)
	defer hedge.Stop()
	var errs []error
	for inflight > 0 {
		select {
		case r := <-results:
			inflight--
			if r.err == nil {
				stats.add(r.p, len(r.data))
				return r.data, nil
			}
			errs = append(errs, r.err)
			if inflight == 0 {
				launch()
			}
		case <-hedge.C:
			launch()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, errors.Join(errs...)
}
