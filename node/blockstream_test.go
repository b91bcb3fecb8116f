package node

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/chorus-data/chorus/overlay"
)

// countStreams makes n count the streams of proto it is asked to serve,
// served as before by handler.
func countStreams(n *Node, proto protocol.ID, handler network.StreamHandler) *atomic.Int64 {
	var opened atomic.Int64
	n.host.SetStreamHandler(proto, func(s network.Stream) {
		opened.Add(1)
		handler(s)
	})
	return &opened
}

// pipeGets gets each block through a's pipeline to h, one after another,
// and checks the bytes.
func pipeGets(t *testing.T, a, h *Node, blocks int) {
	t.Helper()
	cids, datas := benchBlocks(blocks, 64<<10)
	if err := h.Store().PutBlocks(cids, datas); err != nil {
		t.Fatal(err)
	}
	pp := a.pipeTo(h.host.ID())
	for i, c := range cids {
		r := pp.do(&pipeOp{ctx: context.Background(), op: opBlockGet, c: c})
		if r.err != nil {
			t.Fatalf("get %d: %v", i, r.err)
		}
		if !bytes.Equal(r.data, datas[i]) {
			t.Fatalf("get %d: wrong bytes", i)
		}
	}
}

func TestBlockStreamCarriesManyRequests(t *testing.T) {
	nodes := startRing(t, 2)
	a, h := nodes[0], nodes[1]
	many := countStreams(h, BlockStreamProtocol, h.handleBlockStream)
	one := countStreams(h, BlockProtocol, h.handleBlock)
	pipeGets(t, a, h, 40)
	// Sequential requests need one stream; allow for one the peer
	// might have closed meanwhile.
	if got := many.Load(); got < 1 || got > 2 {
		t.Errorf("40 sequential gets opened %d streams, want 1 (or 2)", got)
	}
	if got := one.Load(); got != 0 {
		t.Errorf("%d requests fell back to one stream each", got)
	}
}

func TestBlockStreamFallsBackToOnePerStream(t *testing.T) {
	nodes := startRing(t, 2)
	a, h := nodes[0], nodes[1]
	// h stops speaking the stream protocol, as a peer of an earlier
	// version would; a learns it from identify's push.
	h.host.RemoveStreamHandler(BlockStreamProtocol)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left, err := a.host.Peerstore().SupportsProtocols(h.host.ID(), BlockStreamProtocol)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the peer's protocol change never reached the other node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Streams opened before still run the stream handler: end them.
	resetBlockStreams(h)
	one := countStreams(h, BlockProtocol, h.handleBlock)
	pipeGets(t, a, h, 10)
	if got := one.Load(); got != 10 {
		t.Errorf("10 gets from a peer without the stream protocol used %d one-request streams, want 10", got)
	}
}

func TestBlockStreamClosedByPeerIsReplaced(t *testing.T) {
	nodes := startRing(t, 2)
	a, h := nodes[0], nodes[1]
	many := countStreams(h, BlockStreamProtocol, h.handleBlockStream)
	pipeGets(t, a, h, 5)
	// The peer drops the idle stream, as it does after streamIdle; the
	// next request goes on a new stream, and the peer is not taken for
	// dead.
	resetBlockStreams(h)
	pipeGets(t, a, h, 5)
	if got := many.Load(); got != 2 {
		t.Errorf("%d streams opened, want 2", got)
	}
	if a.isDead(overlay.NodeRef{Addr: h.host.ID().String()}) {
		t.Error("a peer that closed an idle stream was marked dead")
	}
}

// resetBlockStreams resets every open BlockStreamProtocol stream of n.
func resetBlockStreams(n *Node) {
	for _, c := range n.host.Network().Conns() {
		for _, s := range c.GetStreams() {
			if s.Protocol() == BlockStreamProtocol {
				_ = s.Reset()
			}
		}
	}
}
