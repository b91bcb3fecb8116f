package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// errBadBlock is returned when a peer sends bytes that do not match the CID
// asked for.
var errBadBlock = errors.New("block does not match its CID")

func (n *Node) handleBlock(s network.Stream) {
	n.serve(s, maxBlockFrame, n.serveBlock)
}

func (n *Node) serveBlock(_ peer.ID, req *rpcRequest) *rpcResponse {
	_, c, err := cid.CidFromBytes(req.CID)
	if err != nil {
		return errStatus(statusBadRequest, fmt.Errorf("cid: %w", err))
	}
	switch req.Op {
	case opBlockPut:
		// The store verifies the bytes against the CID before writing and
		// syncs before returning: the OK below is a durable ack.
		if err := n.store.PutBlock(c, req.Data); err != nil {
			return errStatus(statusBadRequest, err)
		}
		return &rpcResponse{Status: statusOK}
	case opBlockGet:
		data, err := n.store.GetBlock(c)
		if errors.Is(err, replica.ErrNotFound) {
			return &rpcResponse{Status: statusNotFound}
		}
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Data: data}
	case opBlockHas:
		has, err := n.store.HasBlock(c)
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Has: has}
	}
	return errStatus(statusBadRequest, fmt.Errorf("op %d is not a block operation", req.Op))
}

// putBlockTo stores a block on one peer (or locally) and returns once the
// peer has acknowledged it durable.
func (n *Node) putBlockTo(ctx context.Context, to peer.ID, c cid.Cid, data []byte) error {
	if to == n.host.ID() {
		return n.store.PutBlock(c, data)
	}
	ctx, cancel := context.WithTimeout(ctx, n.blockTimeout(len(data)))
	defer cancel()
	resp, err := n.call(ctx, to, BlockProtocol, &rpcRequest{Op: opBlockPut, CID: c.Bytes(), Data: data}, maxSmallFrame)
	if err != nil {
		return err
	}
	if resp.Status != statusOK {
		return fmt.Errorf("%w: put %s on %s: %s", errRemote, c, to, resp.Err)
	}
	return nil
}

// getBlockFrom fetches a block from one peer (or locally) and verifies it.
// A peer that sends bytes not matching c gets errBadBlock and nothing is
// kept.
func (n *Node) getBlockFrom(ctx context.Context, from peer.ID, c cid.Cid) ([]byte, error) {
	if from == n.host.ID() {
		return n.store.GetBlock(c)
	}
	ctx, cancel := context.WithTimeout(ctx, n.blockTimeout(dataset.MaxBlockSize))
	defer cancel()
	resp, err := n.call(ctx, from, BlockProtocol, &rpcRequest{Op: opBlockGet, CID: c.Bytes()}, maxBlockFrame)
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case statusOK:
	case statusNotFound:
		return nil, fmt.Errorf("block %s on %s: %w", c, from, replica.ErrNotFound)
	default:
		return nil, fmt.Errorf("%w: get %s from %s: %s", errRemote, c, from, resp.Err)
	}
	if err := dataset.VerifyBlock(c, resp.Data); err != nil {
		n.log.Warn("peer sent a block that does not match its CID", "peer", from, "cid", c)
		return nil, fmt.Errorf("%w: %s from %s: %w", errBadBlock, c, from, err)
	}
	return resp.Data, nil
}

// blockTimeout allows a block request the RPC timeout plus time for the
// bytes at a pessimistic 1 MB/s.
func (n *Node) blockTimeout(size int) time.Duration {
	return n.cfg.RPCTimeout*2 + time.Duration(size)*time.Microsecond
}
