package node

import (
	"bufio"
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/overlay"
)

// refOf returns the ring reference of a peer: its ring ID is the SHA-256 of
// its peer ID bytes, so nobody chooses their place on the ring.
func refOf(p peer.ID) overlay.NodeRef {
	return overlay.NodeRef{ID: overlay.HashID([]byte(p)), Addr: p.String()}
}

// sendRing opens a ring stream to m.To and writes m.
func (n *Node) sendRing(ctx context.Context, m overlay.Message) error {
	to, err := decodePeer(m.To.Addr)
	if err != nil {
		return fmt.Errorf("ring message to %q: %w", m.To.Addr, err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode ring message: %w", err)
	}
	s, err := n.host.NewStream(ctx, to, RingProtocol)
	if err != nil {
		n.markDead(to)
		return fmt.Errorf("open ring stream to %s: %w", to, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, b); err != nil {
		_ = s.Reset()
		return err
	}
	n.markAlive(to)
	return nil
}

// handleRing reads one ring message, checks that it really comes from the
// peer it names, and feeds it to the event loop.
func (n *Node) handleRing(s network.Stream) {
	defer s.Close()
	_ = s.SetReadDeadline(deadlineIn(n.cfg.RPCTimeout))
	b, err := readFrame(bufio.NewReader(s), maxRingFrame)
	if err != nil {
		_ = s.Reset()
		return
	}
	var m overlay.Message
	if err := m.UnmarshalBinary(b); err != nil {
		n.log.Debug("bad ring message", "from", s.Conn().RemotePeer(), "err", err)
		return
	}
	from := refOf(s.Conn().RemotePeer())
	if m.From != from {
		n.log.Debug("ring message with forged sender", "from", s.Conn().RemotePeer(), "claims", m.From.Addr)
		return
	}
	if m.To.ID != n.self.ID {
		return
	}
	n.markAlive(s.Conn().RemotePeer())
	n.ring.receive(m)
}
