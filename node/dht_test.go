package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newTestDHT(t *testing.T, h host.Host, bootstrap []peer.AddrInfo) *dht.IpfsDHT {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := NewDHT(ctx, h, bootstrap, nil)
	if err != nil {
		t.Fatalf("NewDHT: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDHTFindPeerThroughBootstrap(t *testing.T) {
	a := newTestHost(t, HostConfig{})
	b := newTestHost(t, HostConfig{})
	c := newTestHost(t, HostConfig{})
	bInfo := peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}

	newTestDHT(t, b, nil)
	da := newTestDHT(t, a, []peer.AddrInfo{bInfo})
	if a.Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("A is not connected to its bootstrap peer")
	}
	if len(a.Peerstore().Addrs(c.ID())) != 0 || a.Network().Connectedness(c.ID()) == network.Connected {
		t.Fatal("A knows C before C joins the DHT")
	}
	newTestDHT(t, c, []peer.AddrInfo{bInfo})
	// C's own bootstrap lookup may ask B for its neighbours and dial A, so
	// A can meet C without asking. Make A forget C, so that only a lookup
	// through the DHT can tell A where C is. (C's background refresh may
	// still dial A again; then A knows C through the DHT all the same.)
	a.Network().ClosePeer(c.ID())
	a.Peerstore().ClearAddrs(c.ID())
	for _, p := range []string{"/chorus/kad/1.0.0"} {
		if !slices.Contains(b.Mux().Protocols(), "/chorus/kad/1.0.0") {
			t.Fatalf("B does not serve %s: %v", p, b.Mux().Protocols())
		}
	}
	if slices.Contains(b.Mux().Protocols(), "/ipfs/kad/1.0.0") {
		t.Fatal("B serves the public IPFS DHT protocol")
	}

	deadline := time.Now().Add(30 * time.Second)
	var info peer.AddrInfo
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		info, err = da.FindPeer(ctx, c.ID())
		cancel()
		if err == nil && len(info.Addrs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A could not resolve C through B: %v", errors.Join(err, ctx.Err()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info.ID != c.ID() {
		t.Fatalf("FindPeer returned %s, want %s", info.ID, c.ID())
	}
	found := false
	for _, got := range info.Addrs {
		for _, want := range c.Addrs() {
			if got.Equal(want) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("FindPeer addrs %v share nothing with C's %v", info.Addrs, c.Addrs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, info); err != nil {
		t.Fatalf("connect A to C: %v", err)
	}
	if a.Network().Connectedness(c.ID()) != network.Connected {
		t.Fatal("A is not connected to C")
	}
}

func TestDHTUnreachableBootstrapIsNotFatal(t *testing.T) {
	h := newTestHost(t, HostConfig{})
	// TCP only: a dial to a closed TCP port is refused at once, while QUIC
	// would wait out its handshake timeout.
	gone := newTestHost(t, HostConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	info := peer.AddrInfo{ID: gone.ID(), Addrs: gone.Addrs()}
	gone.Close()
	d := newTestDHT(t, h, []peer.AddrInfo{info})
	if d.RoutingTable().Size() != 0 {
		t.Fatalf("routing table holds %d peers with no reachable bootstrap", d.RoutingTable().Size())
	}
}
