package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// errRemote is wrapped around an error status sent by a peer.
var errRemote = errors.New("peer refused")

// call sends one request on a fresh stream of proto and reads the answer.
// A failure to reach the peer marks it dead for placement and reads.
func (n *Node) call(ctx context.Context, to peer.ID, proto protocol.ID, req *rpcRequest, maxResp int) (*rpcResponse, error) {
	resp, reached, err := roundTrip(ctx, n.host, to, proto, req, maxResp)
	n.noteReached(to, reached, err)
	return resp, err
}

// noteReached records how a request to p went: p is marked dead when it
// could not be reached and alive when it answered well.
func (n *Node) noteReached(p peer.ID, reached bool, err error) {
	switch {
	case !reached:
		n.markDead(p)
	case err == nil:
		n.markAlive(p)
	}
}

// roundTrip sends one request from h on a fresh stream of proto and reads
// the answer. reached is false when the peer could not be reached or
// stopped answering half way, as opposed to answering with garbage.
func roundTrip(ctx context.Context, h host.Host, to peer.ID, proto protocol.ID, req *rpcRequest, maxResp int) (resp *rpcResponse, reached bool, err error) {
	s, err := h.NewStream(ctx, to, proto)
	if err != nil {
		return nil, false, fmt.Errorf("open %s stream to %s: %w", proto, to, err)
	}
	defer s.Close()
	return exchangeOn(ctx, s, bufio.NewReader(s), to, req, maxResp, true)
}

// exchangeOn sends one request on s and reads the answer from r, which
// reads s. With last, s carries nothing more and its write side is closed
// after the request. On a failure before the answer is read, s is reset.
func exchangeOn(ctx context.Context, s network.Stream, r *bufio.Reader, to peer.ID, req *rpcRequest, maxResp int, last bool) (resp *rpcResponse, reached bool, err error) {
	dl, _ := ctx.Deadline() // zero (none) when ctx has no deadline
	_ = s.SetDeadline(dl)
	if err := writeFrame(s, pair(req.marshalParts())...); err != nil {
		_ = s.Reset()
		return nil, false, fmt.Errorf("send to %s: %w", to, err)
	}
	if last {
		// The request is length-delimited, so the peer may answer (and
		// close its side) before our half-close arrives; a failed
		// CloseWrite is then harmless and the answer is still there.
		_ = s.CloseWrite()
	}
	head, data, err := readSplitFrame(r, maxResp, fRespData)
	if err != nil {
		_ = s.Reset()
		return nil, false, fmt.Errorf("read answer from %s: %w", to, err)
	}
	resp = new(rpcResponse)
	if err := resp.unmarshal(head); err != nil {
		return nil, true, fmt.Errorf("answer from %s: %w", to, err)
	}
	if data != nil {
		resp.Data, resp.ownData = data, true
	}
	return resp, true, nil
}

// serve reads one request from s, runs handle and writes its answer.
func (n *Node) serve(s network.Stream, maxReq int, handle rpcHandler) {
	defer s.Close()
	_ = s.SetDeadline(deadlineIn(n.cfg.RPCTimeout * 4))
	n.serveOne(s, bufio.NewReader(s), maxReq, handle)
}

// rpcHandler answers one request from a peer.
type rpcHandler func(from peer.ID, req *rpcRequest) *rpcResponse

// serveOne reads one request from r, which reads s, runs handle and writes
// its answer on s. It reports whether s is still usable; when not, s has
// been reset.
func (n *Node) serveOne(s network.Stream, r *bufio.Reader, maxReq int, handle rpcHandler) bool {
	head, data, err := readSplitFrame(r, maxReq, fReqData)
	if err != nil {
		_ = s.Reset()
		return false
	}
	var req rpcRequest
	var resp *rpcResponse
	if err := req.unmarshal(head); err != nil {
		resp = &rpcResponse{Status: statusBadRequest, Err: err.Error()}
	} else {
		if data != nil {
			req.Data, req.ownData = data, true
		}
		resp = handle(s.Conn().RemotePeer(), &req)
	}
	err = writeFrame(s, pair(resp.marshalParts())...)
	// The stream has copied what it sends: the buffers the handler is done
	// with can be used again.
	for _, b := range resp.release {
		putBuf(b)
	}
	if err != nil {
		_ = s.Reset()
		return false
	}
	return true
}

// pair makes a slice of marshalParts' two results.
func pair(head, tail []byte) [][]byte { return [][]byte{head, tail} }

func errStatus(st status, err error) *rpcResponse {
	msg := err.Error()
	if len(msg) > maxRPCString {
		msg = msg[:maxRPCString]
	}
	return &rpcResponse{Status: st, Err: msg}
}
