package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// sendReplica delivers one core message on its own stream.
func (n *Node) sendReplica(ctx context.Context, m replica.Message) error {
	p, err := decodePeer(m.To.Addr)
	if err != nil {
		return fmt.Errorf("replica message to %q: %w", m.To.Addr, err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RPCTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, p, ReplicaProtocol)
	if err != nil {
		return fmt.Errorf("open replica stream to %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	f := replFrame{Kind: replCore, Msg: b}
	if err := writeFrame(s, f.marshal()); err != nil {
		_ = s.Reset()
		return err
	}
	return s.CloseWrite()
}

// replCall sends one request frame to p and reads the answer.
func (n *Node) replCall(ctx context.Context, p peer.ID, req *replFrame) (*replFrame, error) {
	s, err := n.host.NewStream(ctx, p, ReplicaProtocol)
	if err != nil {
		return nil, fmt.Errorf("open replica stream to %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, req.marshal()); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("send to %s: %w", p, err)
	}
	_ = s.CloseWrite()
	b, err := readFrame(bufio.NewReader(s), maxReplFrame)
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("read answer from %s: %w", p, err)
	}
	var resp replFrame
	if err := resp.unmarshal(b); err != nil {
		return nil, fmt.Errorf("answer from %s: %w", p, err)
	}
	if resp.Status != statusOK {
		if resp.Status == statusNotFound {
			return &resp, fmt.Errorf("%s: %w", p, replica.ErrNotFound)
		}
		return &resp, fmt.Errorf("%w: %s: %s", errRemote, p, resp.Err)
	}
	return &resp, nil
}

// handleReplica serves one replica protocol stream.
func (n *Node) handleReplica(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(deadlineIn(n.cfg.RPCTimeout * 4))
	b, err := readFrame(bufio.NewReader(s), maxReplFrame)
	if err != nil {
		_ = s.Reset()
		return
	}
	var req replFrame
	if err := req.unmarshal(b); err != nil {
		_ = s.Reset()
		return
	}
	from := s.Conn().RemotePeer()
	if req.Kind == replCore {
		var m replica.Message
		if err := m.UnmarshalBinary(req.Msg); err != nil {
			n.log.Debug("bad replica message", "peer", from, "err", err)
			return
		}
		// The claimed sender must be the stream's authenticated peer.
		if m.From.Addr != from.String() || m.From.ID != refOf(from).ID {
			n.log.Debug("replica message with a forged sender", "peer", from, "claimed", m.From.Addr)
			return
		}
		if m.To.ID != n.self.ID {
			return
		}
		n.repl.receive(m)
		return
	}
	resp := n.serveReplica(&req)
	if err := writeFrame(s, resp.marshal()); err != nil {
		_ = s.Reset()
	}
}

func replErr(st status, err error) *replFrame {
	msg := err.Error()
	if len(msg) > maxRPCString {
		msg = msg[:maxRPCString]
	}
	return &replFrame{Kind: replCore, Status: st, Err: msg}
}

// serveReplica answers a request frame.
func (n *Node) serveReplica(req *replFrame) *replFrame {
	switch req.Kind {
	case replPut:
		_, c, err := cid.CidFromBytes(req.CID)
		if err != nil {
			return replErr(statusBadRequest, err)
		}
		var meta replica.Meta
		if len(req.Meta) > 0 {
			if meta, err = replica.UnmarshalMeta(req.Meta); err != nil {
				return replErr(statusBadRequest, err)
			}
		}
		data := req.Data
		if data == nil {
			data = []byte{}
		}
		// Verified against the CID and synced before the answer.
		if err := n.store.PutBlock(c, data); err != nil {
			return replErr(statusBadRequest, err)
		}
		if !meta.IsZero() {
			if _, err := n.store.MergeBlockMeta(c, meta); err != nil {
				return replErr(statusError, err)
			}
		}
		return &replFrame{Kind: replPut, Status: statusOK}
	case replGet:
		_, c, err := cid.CidFromBytes(req.CID)
		if err != nil {
			return replErr(statusBadRequest, err)
		}
		data, err := n.store.GetBlock(c)
		if errors.Is(err, replica.ErrNotFound) {
			return &replFrame{Kind: replGet, Status: statusNotFound}
		}
		if err != nil {
			return replErr(statusError, err)
		}
		meta, err := n.store.BlockMeta(c)
		if err != nil && !errors.Is(err, replica.ErrNotFound) {
			return replErr(statusError, err)
		}
		return &replFrame{Kind: replGet, Status: statusOK, Data: data, Meta: meta.AppendBinary(nil)}
	case replHolds:
		out := &replFrame{Kind: replHolds, Status: statusOK, Zone: n.cfg.Zone}
		for _, raw := range req.CIDs {
			_, c, err := cid.CidFromBytes(raw)
			if err != nil {
				return replErr(statusBadRequest, err)
			}
			meta, err := n.store.BlockMeta(c)
			switch {
			case errors.Is(err, replica.ErrNotFound):
				out.Held = append(out.Held, false)
				out.Metas = append(out.Metas, nil)
			case err != nil:
				return replErr(statusError, err)
			default:
				out.Held = append(out.Held, true)
				out.Metas = append(out.Metas, meta.AppendBinary(nil))
			}
		}
		return out
	case replClaim:
		if len(req.Metas) != len(req.CIDs) {
			return replErr(statusBadRequest, fmt.Errorf("%d metas for %d cids", len(req.Metas), len(req.CIDs)))
		}
		out := &replFrame{Kind: replClaim, Status: statusOK, Zone: n.cfg.Zone}
		cs := make([]cid.Cid, len(req.CIDs))
		metas := make([]replica.Meta, len(req.CIDs))
		for i, raw := range req.CIDs {
			var err error
			if _, cs[i], err = cid.CidFromBytes(raw); err != nil {
				return replErr(statusBadRequest, err)
			}
			if metas[i], err = replica.UnmarshalMeta(req.Metas[i]); err != nil {
				return replErr(statusBadRequest, err)
			}
		}
		held, err := n.store.MergeBlockMetas(cs, metas)
		if err != nil {
			return replErr(statusError, err)
		}
		for _, h := range held {
			out.Held = append(out.Held, h)
			out.Metas = append(out.Metas, nil)
			if h {
				out.Count++
			}
		}
		if out.Count > 0 {
			n.repl.poke() // new targets: a round soon, not at the next period
		}
		return out
	}
	return replErr(statusBadRequest, fmt.Errorf("kind %d is not a request", req.Kind))
}

// runTransfer carries out one repair transfer for the core.
func (n *Node) runTransfer(ctx context.Context, tr replica.Transfer) error {
	p, err := decodePeer(tr.Peer.Addr)
	if err != nil {
		return fmt.Errorf("transfer peer %q: %w", tr.Peer.Addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.blockTimeout(int(max(tr.Size, 0))))
	defer cancel()
	if tr.Pull {
		resp, err := n.replCall(ctx, p, &replFrame{Kind: replGet, CID: tr.CID.Bytes()})
		if err != nil {
			return err
		}
		data := resp.Data
		if data == nil {
			data = []byte{}
		}
		if err := dataset.VerifyBlock(tr.CID, data); err != nil {
			return fmt.Errorf("%w: %s from %s: %w", errBadBlock, tr.CID, p, err)
		}
		var meta replica.Meta
		if len(resp.Meta) > 0 {
			if meta, err = replica.UnmarshalMeta(resp.Meta); err != nil {
				return fmt.Errorf("metadata of %s from %s: %w", tr.CID, p, err)
			}
		}
		if err := n.store.PutBlock(tr.CID, data); err != nil {
			return err
		}
		if !meta.IsZero() {
			if _, err := n.store.MergeBlockMeta(tr.CID, meta); err != nil {
				return err
			}
		}
		return nil
	}
	data, err := n.store.GetBlock(tr.CID)
	if err != nil {
		return err
	}
	meta, err := n.store.BlockMeta(tr.CID)
	if err != nil {
		return err
	}
	_, err = n.replCall(ctx, p, &replFrame{Kind: replPut, CID: tr.CID.Bytes(), Data: data, Meta: meta.AppendBinary(nil)})
	return err
}
