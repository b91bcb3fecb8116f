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
	switch {
	case !reached:
		n.markDead(to)
	case err == nil:
		n.markAlive(to)
	}
	return resp, err
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
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, pair(req.marshalParts())...); err != nil {
		_ = s.Reset()
		return nil, false, fmt.Errorf("send to %s: %w", to, err)
	}
	// The request is length-delimited, so the peer may answer (and close
	// its side) before our half-close arrives; a failed CloseWrite is then
	// harmless and the answer is still there to read.
	_ = s.CloseWrite()
	head, data, err := readSplitFrame(bufio.NewReader(s), maxResp, fRespData)
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
func (n *Node) serve(s network.Stream, maxReq int, handle func(from peer.ID, req *rpcRequest) *rpcResponse) {
	defer s.Close()
	_ = s.SetDeadline(deadlineIn(n.cfg.RPCTimeout * 4))
	head, data, err := readSplitFrame(bufio.NewReader(s), maxReq, fReqData)
	if err != nil {
		_ = s.Reset()
		return
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
	if err := writeFrame(s, pair(resp.marshalParts())...); err != nil {
		_ = s.Reset()
	}
	// The stream has copied what it sends: the buffers the handler is done
	// with can be used again.
	for _, b := range resp.release {
		putBuf(b)
	}
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
