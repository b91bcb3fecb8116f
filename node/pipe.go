package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// Tuning of the per-peer block pipelines.
const (
	// pipeWindow is the most block requests in flight to one peer (see
	// inflightWindow).
	pipeWindow = 16
	// smallBlock is the largest block that is batched with others.
	smallBlock = 256 << 10
	// batchBytes bounds the block bytes of one batched request.
	batchBytes = 1 << 20
	// batchCount bounds the blocks of one batched request.
	batchCount = 1024
	// measureBytes is how much a peer must have delivered before its
	// throughput estimate is trusted: the first requests on a new stream
	// run slow while yamux grows its window.
	measureBytes = 4 << 20
)

// pipeOp is one block operation queued on a peer's pipeline.
type pipeOp struct {
	ctx  context.Context
	op   op // opBlockPut or opBlockGet
	c    cid.Cid
	data []byte // put: the block
	size int64  // get: the expected size, 0 when unknown
	done chan pipeResult
}

// pipeResult is an operation's outcome: a get's verified bytes, and
// whether they are in a buffer of their own from getBuf that the caller may
// recycle with putBuf once done with it.
type pipeResult struct {
	data []byte
	own  bool
	err  error
}

func (o *pipeOp) bytes() int64 {
	if o.op == opBlockPut {
		return int64(len(o.data))
	}
	if o.size > 0 {
		return o.size
	}
	return dataset.MaxBlockSize
}

func (o *pipeOp) small() bool { return o.bytes() <= smallBlock }

// peerPipe is the request pipeline to one peer: a window of requests in
// flight, small blocks coalesced into batched requests, and the measured
// throughput that source selection ranks peers by.
type peerPipe struct {
	n *Node
	p peer.ID

	mu            sync.Mutex
	queue         []*pipeOp
	queuedBytes   int64
	inflight      int
	inflightBytes int64
	busySince     time.Time     // when inflight went from 0 to 1
	busy          time.Duration // total time with requests in flight
	moved         int64         // bytes moved during busy
	requests      int64         // requests that moved them
	progressed    time.Time     // when a request last completed
	// The throughput estimate (pipeStats.measured) leaves out the start
	// of each busy period, up to its first completed request: flowing is
	// set from then on, flowSince is when, and flow and flowMoved add up
	// the time after it and the bytes of the requests completed after it.
	flowing   bool
	flowSince time.Time
	flow      time.Duration
	flowMoved int64
	// streams are the idle block streams to the peer, oldest first, and
	// pruneTimer closes those idle too long (see blockstream.go).
	streams    []*blockConn
	pruneTimer *time.Timer
}

// pipeTo returns the pipeline to p, creating it on first use.
func (n *Node) pipeTo(p peer.ID) *peerPipe {
	n.pipesMu.Lock()
	defer n.pipesMu.Unlock()
	pp, ok := n.pipes[p]
	if !ok {
		pp = &peerPipe{n: n, p: p}
		n.pipes[p] = pp
	}
	return pp
}

// do queues o and waits for its result.
func (pp *peerPipe) do(o *pipeOp) pipeResult {
	o.done = make(chan pipeResult, 1)
	pp.mu.Lock()
	pp.queue = append(pp.queue, o)
	pp.queuedBytes += o.bytes()
	pp.pumpLocked()
	pp.mu.Unlock()
	select {
	case r := <-o.done:
		return r
	case <-o.ctx.Done():
		return pipeResult{err: o.ctx.Err()}
	}
}

// pumpLocked starts requests while the window has room.
func (pp *peerPipe) pumpLocked() {
	// Starting requests changes nothing the window depends on, so it is
	// worked out once (it reads the clock and the peerstore's latency).
	window := pp.windowLocked()
	for pp.inflight < window && len(pp.queue) > 0 {
		// Drop operations whose caller has gone away.
		first := pp.queue[0]
		if first.ctx.Err() != nil {
			pp.queue = pp.queue[1:]
			pp.queuedBytes -= first.bytes()
			continue
		}
		batch := []*pipeOp{first}
		total := first.bytes()
		i := 1
		if first.small() {
			for i < len(pp.queue) && len(batch) < batchCount {
				o := pp.queue[i]
				if o.op != first.op || !o.small() || total+o.bytes() > batchBytes {
					break
				}
				batch = append(batch, o)
				total += o.bytes()
				i++
			}
		}
		pp.queue = pp.queue[i:]
		pp.queuedBytes -= total
		if pp.inflight == 0 {
			pp.busySince = time.Now()
		}
		pp.inflight++
		pp.inflightBytes += total
		go pp.send(batch, total)
	}
}

// send carries out one request and delivers its results.
func (pp *peerPipe) send(batch []*pipeOp, total int64) {
	results := pp.exchange(batch, total)
	var moved int64
	for i, o := range batch {
		if results[i].err == nil {
			moved += int64(len(o.data) + len(results[i].data)) // put sends, get receives
		}
		o.done <- results[i]
	}
	pp.mu.Lock()
	pp.inflight--
	pp.inflightBytes -= total
	pp.noteDoneLocked(moved, time.Now())
	pp.pumpLocked()
	pp.mu.Unlock()
}

// noteDoneLocked counts a request that completed at now, having moved
// bytes, once inflight no longer counts it; pp.mu is held.
func (pp *peerPipe) noteDoneLocked(moved int64, now time.Time) {
	pp.moved += moved
	if moved > 0 {
		pp.requests++
		pp.progressed = now
		if pp.flowing {
			pp.flowMoved += moved
		} else {
			pp.flowing, pp.flowSince = true, now
		}
	}
	if pp.inflight == 0 {
		pp.busy += now.Sub(pp.busySince)
		if pp.flowing {
			pp.flow += now.Sub(pp.flowSince)
			pp.flowing = false
		}
		// Forget the distant past so the estimate follows the link.
		if pp.busy > 20*time.Second {
			pp.busy /= 2
			pp.moved /= 2
			pp.requests = (pp.requests + 1) / 2
			pp.flow /= 2
			pp.flowMoved /= 2
		}
	}
}

// exchange sends batch as one request (batched when it has several
// blocks) and returns one result per operation. Blocks received are
// verified against their CIDs here, so that nothing unverified leaves the
// pipeline.
func (pp *peerPipe) exchange(batch []*pipeOp, total int64) []pipeResult {
	out := make([]pipeResult, len(batch))
	fail := func(err error) []pipeResult {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), pp.n.blockTimeout(int(total)))
	defer cancel()
	first := batch[0]
	req := &rpcRequest{Op: first.op}
	if len(batch) == 1 {
		req.CID, req.Data = first.c.Bytes(), first.data
	} else {
		req.Op = opBlockPutMany
		if first.op == opBlockGet {
			req.Op = opBlockGetMany
		}
		req.Blocks = make([]rpcBlock, len(batch))
		for i, o := range batch {
			req.Blocks[i] = rpcBlock{CID: o.c.Bytes(), Data: o.data}
		}
	}
	maxResp := maxSmallFrame
	if first.op == opBlockGet {
		maxResp = maxBlockFrame
	}
	resp, err := pp.callBlock(ctx, req, maxResp)
	if err != nil {
		return fail(err)
	}
	if len(batch) == 1 {
		out[0] = pp.result(first, resp.Status, resp.Data, resp.Err)
		out[0].own = resp.ownData && out[0].err == nil && out[0].data != nil
		return out
	}
	if resp.Status != statusOK {
		return fail(fmt.Errorf("%w: %s: %s", errRemote, pp.p, resp.Err))
	}
	if len(resp.Blocks) != len(batch) {
		return fail(fmt.Errorf("%w: %s answered %d of %d blocks", errRemote, pp.p, len(resp.Blocks), len(batch)))
	}
	for i, o := range batch {
		out[i] = pp.result(o, resp.Blocks[i].Status, resp.Blocks[i].Data, "")
	}
	return out
}

// result turns one answered operation into its result.
func (pp *peerPipe) result(o *pipeOp, st status, data []byte, msg string) pipeResult {
	switch st {
	case statusOK:
	case statusNotFound:
		return pipeResult{err: fmt.Errorf("block %s on %s: %w", o.c, pp.p, replica.ErrNotFound)}
	default:
		return pipeResult{err: fmt.Errorf("%w: %s on %s: %s", errRemote, o.c, pp.p, msg)}
	}
	if o.op == opBlockPut {
		return pipeResult{}
	}
	if data == nil {
		data = []byte{}
	}
	if err := dataset.VerifyBlock(o.c, data); err != nil {
		pp.n.log.Warn("peer sent a block that does not match its CID", "peer", pp.p, "cid", o.c)
		return pipeResult{err: fmt.Errorf("%w: %s from %s: %w", errBadBlock, o.c, pp.p, err)}
	}
	return pipeResult{data: data}
}

// pipeStats is a consistent snapshot of a pipe's counters.
type pipeStats struct {
	pending int64         // bytes queued or in flight
	moved   int64         // bytes moved while busy
	busy    time.Duration // time with requests in flight, now included
	// flowMoved and flow are moved and busy without the start of each
	// busy period up to its first completed request (see peerPipe).
	flowMoved int64
	flow      time.Duration
}

// stats takes a snapshot of the pipe's counters under one lock.
func (pp *peerPipe) stats() pipeStats {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.statsLocked()
}

// statsLocked is stats with pp.mu held.
func (pp *peerPipe) statsLocked() pipeStats {
	return pp.statsAtLocked(time.Now())
}

// statsAtLocked is statsLocked at time now.
func (pp *peerPipe) statsAtLocked(now time.Time) pipeStats {
	busy, flow := pp.busy, pp.flow
	if pp.inflight > 0 {
		busy += now.Sub(pp.busySince)
		if pp.flowing {
			flow += now.Sub(pp.flowSince)
		}
	}
	return pipeStats{pending: pp.inflightBytes + pp.queuedBytes, moved: pp.moved, busy: busy, flowMoved: pp.flowMoved, flow: flow}
}

// measured returns the throughput in bytes per second, once measureBytes
// have been moved after the first request of a busy period completed, and
// 0 before. The time up to that first completion is left out: it is a
// round trip, a new stream and yamux's window growing, not the link's
// rate. Counting it had a 5 ms replica measured at 80 MB/s after 53 ms
// (4.2 MB moved, 42 ms of it before the first block arrived) when it then
// delivered at about 230 MB/s; at that estimate, once 40 MB of the 48 MiB
// a fetch keeps in flight were queued there, they looked like more than
// stripeDelay, and blocks went to a 50 ms replica (scripts/wan-demo.sh,
// 1.4-3.2% of the bytes in 3 of 16 runs).
//
// It runs high for a while on a thin link: the answers in flight share
// the link and complete together near the end of a round, so the bytes
// of a round's later completions are counted over the short time since
// its first one. On three 20 MB/s links one source read 52 MB/s at first
// and came down to 25 within 2 s. Counting bytes as they arrive instead
// measured 20-22 MB/s there, but the multi-source fetch fell from
// 2.86-2.92 to 2.64-2.84 x B in seven alternating runs, so it is not done.
func (st pipeStats) measured() float64 {
	if st.flowMoved >= measureBytes && st.flow > 0 {
		return float64(st.flowMoved) / st.flow.Seconds()
	}
	return 0
}

// load returns the bytes queued or in flight to the peer and its measured
// throughput in bytes per second (0 when not yet measured).
func (pp *peerPipe) load() (pending int64, bw float64) {
	st := pp.stats()
	return st.pending, st.measured()
}

// rankLoad is load for ranking sources: the bytes pending and the
// throughput to expect, which is the measured one once there is one; the
// bytes delivered so far over the time spent, but at least
// minRankBandwidth, once the peer has been busy for unmeasuredWait
// (provisional, see liftProvisional); and an optimistic priorBandwidth
// before that.
func (pp *peerPipe) rankLoad() (pending int64, bw float64, provisional bool) {
	st := pp.stats()
	switch bw := st.measured(); {
	case bw > 0:
		return st.pending, bw, false
	case st.busy >= unmeasuredWait:
		return st.pending, max(float64(st.moved)/st.busy.Seconds(), minRankBandwidth), true
	}
	return st.pending, priorBandwidth, false
}

// liftProvisional raises each provisional throughput in bws to the
// highest of them. Sources still starting up deliver their first bytes
// slowly whatever their link (streams open, windows grow), so a low early
// figure is weak evidence: on three equal 20 MB/s links the first 300 ms
// gave 4.4, 1.4 and 1.0 MB/s, and ranking by those piled 24 MiB on the
// first, which then took 1.2 s to drain while the in-order writer held
// the other sources' blocks and the fetch window ran out. Among sources
// with no better evidence, each is taken to be as fast as the fastest.
func liftProvisional(bws []float64, provisional []bool) {
	best := 0.0
	for i, bw := range bws {
		if provisional[i] {
			best = max(best, bw)
		}
	}
	for i := range bws {
		if provisional[i] {
			bws[i] = best
		}
	}
}

// sinceProgress is how long the peer has had requests in flight without
// completing one (0 when it is idle or just delivered).
func (pp *peerPipe) sinceProgress() time.Duration {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.inflight == 0 {
		return 0
	}
	last := pp.progressed
	if pp.busySince.After(last) {
		last = pp.busySince
	}
	return time.Since(last)
}
