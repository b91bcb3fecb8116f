package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// errRemote is wrapped around an error status sent by a peer.
var errRemote = errors.New("peer refused")

// call sends one request on a fresh stream of proto and reads the answer.
// A failure to reach the peer marks it dead for placement and reads.
func (n *Node) call(ctx context.Context, to peer.ID, proto protocol.ID, req *rpcRequest, maxResp int) (*rpcResponse, error) {
	s, err := n.host.NewStream(ctx, to, proto)
	if err != nil {
		n.markDead(to)
		return nil, fmt.Errorf("open %s stream to %s: %w", proto, to, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, pair(req.marshalParts())...); err != nil {
		_ = s.Reset()
		n.markDead(to)
		return nil, fmt.Errorf("send to %s: %w", to, err)
	}
	// The request is length-delimited, so the peer may answer (and close
	// its side) before our half-close arrives; a failed CloseWrite is then
	// harmless and the answer is still there to read.
	_ = s.CloseWrite()
	b, err := readFrame(bufio.NewReader(s), maxResp)
	if err != nil {
		_ = s.Reset()
		n.markDead(to)
		return nil, fmt.Errorf("read answer from %s: %w", to, err)
	}
	var resp rpcResponse
	if err := resp.unmarshal(b); err != nil {
		return nil, fmt.Errorf("answer from %s: %w", to, err)
	}
	n.markAlive(to)
	return &resp, nil
}

// serve reads one request from s, runs handle and writes its answer.
func (n *Node) serve(s network.Stream, maxReq int, handle func(from peer.ID, req *rpcRequest) *rpcResponse) {
	defer s.Close()
	_ = s.SetDeadline(deadlineIn(n.cfg.RPCTimeout * 4))
	b, err := readFrame(bufio.NewReader(s), maxReq)
	if err != nil {
		_ = s.Reset()
		return
	}
	var req rpcRequest
	var resp *rpcResponse
	if err := req.unmarshal(b); err != nil {
		resp = &rpcResponse{Status: statusBadRequest, Err: err.Error()}
	} else {
		resp = handle(s.Conn().RemotePeer(), &req)
	}
	if err := writeFrame(s, pair(resp.marshalParts())...); err != nil {
		_ = s.Reset()
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
