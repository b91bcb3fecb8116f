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
	// measured, in bytes per second; unmeasuredCap bounds what is queued
	// on such a peer, so an optimistic guess costs little.
	priorBandwidth = 1e9
	unmeasuredCap  = 8 << 20
	// unmeasuredWait bounds how long an unmeasured source holds back the
	// others (see unmeasuredFull); minRankBandwidth is the least
	// provisional throughput a source is ranked with after it.
	unmeasuredWait   = 100 * time.Millisecond
	minRankBandwidth = 1e6
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

// firstUntried returns the first of ranked not in tried, or "".
func (n *Node) firstUntried(ranked []peer.ID, tried map[peer.ID]bool) peer.ID {
	for _, p := range ranked {
		if !tried[p] {
			return p
		}
	}
	return ""
}

// unmeasuredFull reports whether p's throughput is still unknown while
// unmeasuredCap bytes are already queued on it, and p has not yet been
// busy for unmeasuredWait: a fetch waits for such a source to show its
// speed before it piles more onto it or moves on to farther ones. After
// unmeasuredWait, sources are ranked by a provisional estimate (see
// peerPipe.rankLoad), so a source too slow to deliver measureBytes by then
// (under about 40 MB/s) is striped past like a measured one: on three
// 20 MB/s links, waiting for each to be measured in turn had left the
// second and third idle for the first 0.8 and 1.1 s of a 5 s fetch.
func (n *Node) unmeasuredFull(p peer.ID) bool {
	st := n.pipeTo(p).stats()
	return st.measured() <= 0 && st.pending >= unmeasuredCap && st.busy < unmeasuredWait
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

// stripeDelay is the queueing delay at which a source is taken to be
// unable to fill the pipe: blocks then go to the next-nearest source whose
// queue is shorter.
const stripeDelay = 500 * time.Millisecond

// rankSources orders candidate holders for a get of size bytes. The
// nearest (by round-trip time) comes first while the bytes already queued
// on it would drain within stripeDelay at its measured throughput; when it
// is that loaded, the next-nearest that is not comes first, and when all
// are, the one expected to deliver soonest. So a fetch stays on the
// nearest replica while it keeps up and stripes across replicas exactly
// when one cannot fill the pipe.
func (n *Node) rankSources(cands []peer.ID, size int64) []peer.ID {
	type scored struct {
		p     peer.ID
		rtt   time.Duration
		queue time.Duration
	}
	pendings := make([]int64, len(cands))
	bws := make([]float64, len(cands))
	provisional := make([]bool, len(cands))
	for i, p := range cands {
		pendings[i], bws[i], provisional[i] = n.pipeTo(p).rankLoad()
	}
	liftProvisional(bws, provisional)
	s := make([]scored, len(cands))
	for i, p := range cands {
		s[i] = scored{p, n.rtt(p), time.Duration(float64(pendings[i]+size) / bws[i] * float64(time.Second))}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].rtt < s[j].rtt })
	first := -1
	for i := range s {
		if s[i].queue <= stripeDelay {
			first = i
			break
		}
	}
	if first < 0 {
		sort.SliceStable(s, func(i, j int) bool { return s[i].rtt+s[i].queue < s[j].rtt+s[j].queue })
		first = 0
	}
	out := make([]peer.ID, 0, len(s))
	out = append(out, s[first].p)
	for i := range s {
		if i != first {
			out = append(out, s[i].p)
		}
	}
	return out
}

// measureRTTs waits (up to rttWait) for round-trip times to the holders
// that have none yet, so that the first blocks of a fetch already go to
// the nearest.
func (n *Node) measureRTTs(ctx context.Context, holders []peer.ID) {
	var missing []peer.ID
	for _, p := range holders {
		if n.host.Peerstore().LatencyEWMA(p) == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, rttWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, ok := <-ping.Ping(ctx, n.host, p); ok && r.Error == nil {
				return
			}
		}()
	}
	wg.Wait()
}

// rttWait bounds how long a fetch waits to measure its sources.
const rttWait = time.Second

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
	p peer.ID
	pipeResult
}

// fetchFromHolders gets block c (size bytes, 0 if unknown) from the best of
// holders, moving on when a holder fails or lies, and asking a second
// holder too when the first is slow (a hedged request). The first verified
// copy wins.
func (n *Node) fetchFromHolders(ctx context.Context, holders []peer.ID, c cid.Cid, size int64, stats *sourceStats) (pipeResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tried := make(map[peer.ID]bool)
	results := make(chan sourceResult, len(holders))
	inflight := 0
	var hedgeAfter time.Duration
	var current peer.ID // the holder asked last
	launch := func() bool {
		// Let an unmeasured source show its speed before piling more onto
		// it (or moving past it), then rank again.
		p := n.firstUntried(n.rankSources(holders, size), tried)
		for p != "" && n.unmeasuredFull(p) && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
			p = n.firstUntried(n.rankSources(holders, size), tried)
		}
		if p == "" {
			return false
		}
		tried[p] = true
		inflight++
		current = p
		hedgeAfter = n.hedgeDelay(p, size)
		go func() {
			results <- sourceResult{p, n.pipeTo(p).do(&pipeOp{ctx: ctx, op: opBlockGet, c: c, size: size})}
		}()
		return true
	}
	if !launch() {
		return pipeResult{}, fmt.Errorf("block %s: no holder to ask: %w", c, replica.ErrNotFound)
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
				return r.pipeResult, nil
			}
			errs = append(errs, r.err)
			if inflight == 0 {
				launch()
			}
		case <-hedge.C:
			// Hedge only a holder that has stopped delivering: one that
			// is merely busy with the requests queued ahead of this one is
			// still the best place to wait.
			if stall := n.pipeTo(current).sinceProgress(); stall < hedgeAfter {
				hedge.Reset(hedgeAfter - stall)
				continue
			}
			launch()
		case <-ctx.Done():
			return pipeResult{}, ctx.Err()
		}
	}
	return pipeResult{}, errors.Join(errs...)
}
