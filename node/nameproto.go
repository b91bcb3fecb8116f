package node

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

func (n *Node) handleName(s network.Stream) {
	n.serve(s, maxNameFrame, n.serveName)
}

func (n *Node) serveName(_ peer.ID, req *rpcRequest) *rpcResponse {
	if req.Op == opRingSample {
		return n.serveRingSample()
	}
	if req.Op != opNamesList {
		if err := dataset.ValidateName(req.Name); err != nil {
			return errStatus(statusBadRequest, err)
		}
	}
	switch req.Op {
	case opRecordPut:
		rec, err := dataset.DecodeRecord(req.Data)
		if err != nil {
			return errStatus(statusBadRequest, err)
		}
		if rec.Name != req.Name || rec.Version != req.Version {
			return errStatus(statusBadRequest, fmt.Errorf("record is %s@%d, request names %s@%d", rec.Name, rec.Version, req.Name, req.Version))
		}
		err = n.store.PutRecord(req.Name, req.Version, req.Data)
		if errors.Is(err, replica.ErrConflict) {
			return errStatus(statusConflict, err)
		}
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK}
	case opRecordGet:
		b, err := n.store.GetRecord(req.Name, req.Version)
		if errors.Is(err, replica.ErrNotFound) {
			return &rpcResponse{Status: statusNotFound}
		}
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Data: b}
	case opRecordVersions:
		vs, err := n.store.Versions(req.Name)
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Versions: vs}
	case opNamesList:
		names, err := n.store.Names()
		if err != nil {
			return errStatus(statusError, err)
		}
		return &rpcResponse{Status: statusOK, Names: names}
	}
	return errStatus(statusBadRequest, fmt.Errorf("op %d is not a name operation", req.Op))
}
