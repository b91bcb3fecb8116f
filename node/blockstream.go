package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Block requests to a peer travel on streams that are kept open and used
// again, one request at a time each, instead of a fresh stream per
// request. Opening a stream costs a yamux handshake, a protocol
// negotiation, resource-manager accounting and a handler goroutine, and a
// fresh stream starts with yamux's smallest receive window; at a thousand
// 1 MiB blocks per GiB that showed in the CPU time of every get and put
// (measured in docs/design.md).

// streamIdle is how long a block stream may wait for its next request
// before the serving side closes it. The requesting side stops using a
// stream once it has been idle for half that, so that the two rarely race.
const streamIdle = 30 * time.Second

// blockConn is a block stream with the reader of its answers.
type blockConn struct {
	s network.Stream
	r *bufio.Reader
	// many is true when the peer speaks BlockStreamProtocol, so the
	// stream may carry further requests; false for a peer that only
	// speaks BlockProtocol (one request per stream).
	many bool
	idle time.Time // when it was last handed back
}

// callBlock sends req to the pipe's peer and reads the answer, on an idle
// stream of the pipe when there is one and on a new stream otherwise. A
// stream that had been idle may have been closed by the peer meanwhile,
// so when it fails before an answer arrives the request goes once more on
// a new stream; block operations are idempotent, so a request the peer
// did carry out does no harm when repeated. As with call, a peer that
// cannot be reached is marked dead.
func (pp *peerPipe) callBlock(ctx context.Context, req *rpcRequest, maxResp int) (*rpcResponse, error) {
	if bc := pp.takeStream(); bc != nil {
		resp, reached, err := exchangeOn(ctx, bc.s, bc.r, pp.p, req, maxResp, false)
		if reached {
			pp.n.noteReached(pp.p, true, err)
			pp.finish(bc, err)
			return resp, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	bc, err := pp.openStream(ctx)
	if err != nil {
		pp.n.noteReached(pp.p, false, err)
		return nil, err
	}
	resp, reached, err := exchangeOn(ctx, bc.s, bc.r, pp.p, req, maxResp, !bc.many)
	pp.n.noteReached(pp.p, reached, err)
	if !reached {
		return nil, err
	}
	pp.finish(bc, err)
	return resp, err
}

// openStream opens a block stream to the pipe's peer, preferring
// BlockStreamProtocol.
func (pp *peerPipe) openStream(ctx context.Context) (*blockConn, error) {
	s, err := pp.n.host.NewStream(ctx, pp.p, BlockStreamProtocol, BlockProtocol)
	if err != nil {
		return nil, fmt.Errorf("open block stream to %s: %w", pp.p, err)
	}
	return &blockConn{s: s, r: bufio.NewReader(s), many: s.Protocol() == BlockStreamProtocol}, nil
}

// finish hands bc back for the next request after an answered one, or
// closes it when it cannot carry another: the answer did not decode, or
// the peer takes one request per stream.
func (pp *peerPipe) finish(bc *blockConn, err error) {
	if err != nil || !bc.many {
		_ = bc.s.Close()
		return
	}
	_ = bc.s.SetDeadline(time.Time{})
	bc.idle = time.Now()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.pruneStreamsLocked(bc.idle)
	if len(pp.streams) >= pipeWindow {
		_ = bc.s.Close()
		return
	}
	pp.streams = append(pp.streams, bc)
	if pp.pruneTimer == nil {
		pp.pruneTimer = time.AfterFunc(streamIdle/2, pp.pruneStreams)
	}
}

// takeStream returns the pipe's most recently used idle stream, or nil.
func (pp *peerPipe) takeStream() *blockConn {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.pruneStreamsLocked(time.Now())
	k := len(pp.streams)
	if k == 0 {
		return nil
	}
	bc := pp.streams[k-1]
	pp.streams[k-1] = nil
	pp.streams = pp.streams[:k-1]
	return bc
}

// pruneStreams closes the streams that have been idle too long; it runs
// from a timer while the pipe holds idle streams.
func (pp *peerPipe) pruneStreams() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.pruneTimer = nil
	pp.pruneStreamsLocked(time.Now())
	if len(pp.streams) > 0 {
		pp.pruneTimer = time.AfterFunc(streamIdle/2, pp.pruneStreams)
	}
}

// pruneStreamsLocked closes the idle streams older than half of
// streamIdle at now. The oldest are first in pp.streams.
func (pp *peerPipe) pruneStreamsLocked(now time.Time) {
	stale := 0
	for stale < len(pp.streams) && now.Sub(pp.streams[stale].idle) >= streamIdle/2 {
		_ = pp.streams[stale].s.Close()
		stale++
	}
	if stale > 0 {
		pp.streams = append(pp.streams[:0], pp.streams[stale:]...)
	}
}

// handleBlockStream serves block requests on s one after another.
func (n *Node) handleBlockStream(s network.Stream) {
	n.serveStream(s, maxBlockFrame, n.serveBlock)
}

// serveStream answers requests on s with handle one after another until
// the peer closes its side, a request fails, or s stays idle for
// streamIdle.
func (n *Node) serveStream(s network.Stream, maxReq int, handle rpcHandler) {
	defer s.Close()
	r := bufio.NewReader(s)
	for {
		_ = s.SetDeadline(deadlineIn(streamIdle))
		if _, err := r.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, network.ErrReset) {
				n.log.Debug("block stream ends", "peer", s.Conn().RemotePeer(), "err", err)
			}
			return
		}
		_ = s.SetDeadline(deadlineIn(n.cfg.RPCTimeout * 4))
		if !n.serveOne(s, r, maxReq, handle) {
			return
		}
	}
}
