package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/replica"
)

// errBadBlock is returned when a peer sends bytes that do not match the CID
// asked for.
var errBadBlock = errors.New("block does not match its CID")

func (n *Node) handleBlock(s network.Stream) {
	n.serve(s, maxBlockFrame, n.serveBlock)
}

func (n *Node) serveBlock(_ peer.ID, req *rpcRequest) *rpcResponse {
	switch req.Op {
	case opBlockPutMany:
		return n.servePutMany(req)
	case opBlockGetMany:
		return n.serveGetMany(req)
	}
	_, c, err := cid.CidFromBytes(req.CID)
	if err != nil {
		return errStatus(statusBadRequest, fmt.Errorf("cid: %w", err))
	}
	switch req.Op {
	case opBlockPut:
		// The store verifies the bytes against the CID before writing and
		// syncs before returning: the OK below is a durable ack. It keeps
		// no reference to them, so their buffer can be used again.
		resp := &rpcResponse{Status: statusOK}
		if err := n.store.PutBlock(c, req.Data); err != nil {
			resp = errStatus(statusBadRequest, err)
		}
		if req.ownData {
			resp.release = append(resp.release, req.Data)
		}
		return resp
	case opBlockGet:
		data, pooled, err := n.store.getBlock(c)
		if errors.Is(err, replica.ErrNotFound) {
			return &rpcResponse{Status: statusNotFound}
		}
		if err != nil {
			return errStatus(statusError, err)
		}
		resp := &rpcResponse{Status: statusOK, Data: data}
		if pooled {
			resp.release = append(resp.release, data)
		}
		return resp
	case opBlockHas:
		has, err := n.store.HasBlock(c)
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Has: has}
	}
	return errStatus(statusBadRequest, fmt.Errorf("op %d is not a block operation", req.Op))
}

// servePutMany stores a batch of blocks in one synced transaction: all of
// them, verified, or none.
func (n *Node) servePutMany(req *rpcRequest) *rpcResponse {
	cids := make([]cid.Cid, len(req.Blocks))
	datas := make([][]byte, len(req.Blocks))
	for i, b := range req.Blocks {
		_, c, err := cid.CidFromBytes(b.CID)
		if err != nil {
			return errStatus(statusBadRequest, fmt.Errorf("block %d: cid: %w", i, err))
		}
		cids[i], datas[i] = c, b.Data
		if datas[i] == nil {
			datas[i] = []byte{}
		}
	}
	if err := n.store.PutBlocks(cids, datas); err != nil {
		return errStatus(statusBadRequest, err)
	}
	out := &rpcResponse{Status: statusOK, Blocks: make([]rpcBlock, len(cids))}
	for i := range out.Blocks {
		out.Blocks[i].Status = statusOK
	}
	return out
}

// serveGetMany answers a batch of block gets, one entry per block, keeping
// the answer within the frame bound (blocks past it answer statusError and
// are asked for again on their own).
func (n *Node) serveGetMany(req *rpcRequest) *rpcResponse {
	out := &rpcResponse{Status: statusOK, Blocks: make([]rpcBlock, len(req.Blocks))}
	budget := maxBlockFrame - 64<<10
	for i, b := range req.Blocks {
		_, c, err := cid.CidFromBytes(b.CID)
		if err != nil {
			out.Blocks[i].Status = statusBadRequest
			continue
		}
		data, pooled, err := n.store.getBlock(c)
		switch {
		case errors.Is(err, replica.ErrNotFound):
			out.Blocks[i].Status = statusNotFound
		case err != nil || len(data) > budget:
			out.Blocks[i].Status = statusError
		default:
			budget -= len(data)
			out.Blocks[i] = rpcBlock{Status: statusOK, Data: data}
			if pooled {
				out.release = append(out.release, data)
			}
		}
	}
	return out
}

// blockTimeout allows a block request the RPC timeout plus time for the
// bytes at a pessimistic 1 MB/s.
func (n *Node) blockTimeout(size int) time.Duration {
	return n.cfg.RPCTimeout*2 + time.Duration(size)*time.Microsecond
}
