package node

import (
	"context"
	"crypto/rand"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

func testKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestHost(t *testing.T, cfg HostConfig) host.Host {
	t.Helper()
	if cfg.PrivKey == nil {
		cfg.PrivKey = testKey(t)
	}
	h, err := NewHost(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// addrsWith keeps the addresses of h that use protocol code.
func addrsWith(h host.Host, code int) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range h.Addrs() {
		if _, err := a.ValueForProtocol(code); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func TestHostConnectAndPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
	}{
		{"tcp", ma.P_TCP},
		{"quic", ma.P_QUIC_V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestHost(t, HostConfig{})
			b := newTestHost(t, HostConfig{})
			addrs := addrsWith(b, tc.code)
			if len(addrs) == 0 {
				t.Fatalf("host listens on no %s address: %v", tc.name, b.Addrs())
			}
			for _, addr := range b.Addrs() {
				ip, err := addr.ValueForProtocol(ma.P_IP4)
				if err != nil || ip != "127.0.0.1" {
					t.Fatalf("default listen address %s is not loopback IPv4", addr)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: addrs}); err != nil {
				t.Fatalf("connect over %s: %v", tc.name, err)
			}
			conns := a.Network().ConnsToPeer(b.ID())
			if len(conns) == 0 {
				t.Fatal("no connection after Connect")
			}
			if _, err := conns[0].RemoteMultiaddr().ValueForProtocol(tc.code); err != nil {
				t.Fatalf("connection uses %s, want %s", conns[0].RemoteMultiaddr(), tc.name)
			}
			res := <-ping.Ping(ctx, a, b.ID())
			if res.Error != nil {
				t.Fatalf("ping over %s: %v", tc.name, res.Error)
			}
			if res.RTT <= 0 {
				t.Fatalf("ping RTT %v", res.RTT)
			}
		})
	}
}

func TestHostIdentityPersists(t *testing.T) {
	dir := t.TempDir()
	start := func() peer.ID {
		k, err := LoadOrCreateIdentity(dir)
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHost(context.Background(), HostConfig{PrivKey: k})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		return h.ID()
	}
	first := start()
	second := start()
	if first != second {
		t.Fatalf("peer ID changed across restart: %s then %s", first, second)
	}
	k, err := LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := peer.IDFromPrivateKey(k)
	if other == first {
		t.Fatal("another data directory produced the same peer ID")
	}
}

func TestHostConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewHost(ctx, HostConfig{}); err == nil {
		t.Error("NewHost without a key succeeded")
	}
	if _, err := NewHost(ctx, HostConfig{PrivKey: testKey(t), PSK: []byte("short")}); err == nil {
		t.Error("NewHost with a 5-byte PSK succeeded")
	}
	psk := make([]byte, 32)
	if _, err := NewHost(ctx, HostConfig{PrivKey: testKey(t), PSK: psk, ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}); err == nil {
		t.Error("NewHost with a PSK and only QUIC addresses succeeded")
	}
	if _, err := NewHost(ctx, HostConfig{PrivKey: testKey(t), ListenAddrs: []string{"not an addr"}}); err == nil {
		t.Error("NewHost with a bad listen address succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewHost(cancelled, HostConfig{PrivKey: testKey(t)}); err == nil {
		t.Error("NewHost with a cancelled context succeeded")
	}
}

func TestHostPrivateNetwork(t *testing.T) {
	psk := make([]byte, 32)
	if _, err := rand.Read(psk); err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	if _, err := rand.Read(other); err != nil {
		t.Fatal(err)
	}
	a := newTestHost(t, HostConfig{PSK: psk})
	b := newTestHost(t, HostConfig{PSK: psk})
	c := newTestHost(t, HostConfig{PSK: other})
	open := newTestHost(t, HostConfig{})
	if q := addrsWith(a, ma.P_UDP); len(q) != 0 {
		t.Fatalf("private host listens on UDP: %v", q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("same PSK: %v", err)
	}
	if res := <-ping.Ping(ctx, a, b.ID()); res.Error != nil {
		t.Fatalf("ping in private network: %v", res.Error)
	}
	// A mismatched key garbles the handshake, which then hangs until the
	// deadline; two seconds is ample on loopback, where the good connect
	// above takes milliseconds.
	for _, tc := range []struct {
		name     string
		from, to host.Host
	}{
		{"other PSK", a, c},
		{"no PSK", open, a},
	} {
		short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
		err := tc.from.Connect(short, peer.AddrInfo{ID: tc.to.ID(), Addrs: tc.to.Addrs()})
		cancelShort()
		if err == nil {
			t.Fatalf("%s: connected across private networks", tc.name)
		}
	}
}

func TestHostAnnounceAddrs(t *testing.T) {
	announce := []string{"/ip4/127.0.0.9/tcp/4001", "/dns4/node.example/udp/4001/quic-v1"}
	h := newTestHost(t, HostConfig{AnnounceAddrs: announce})
	got := h.Addrs()
	if len(got) != len(announce) {
		t.Fatalf("Addrs = %v, want %v", got, announce)
	}
	for i, a := range got {
		if a.String() != announce[i] {
			t.Fatalf("Addrs[%d] = %s, want %s", i, a, announce[i])
		}
	}
	if _, err := NewHost(context.Background(), HostConfig{PrivKey: testKey(t), AnnounceAddrs: []string{"bogus"}}); err == nil {
		t.Fatal("NewHost with a bad announce address succeeded")
	}
}

func TestResourceLimitsExplicit(t *testing.T) {
	l := ResourceLimits().ToPartialLimitConfig()
	checks := []struct {
		name      string
		got, want rcmgr.LimitVal
	}{
		{"system conns", l.System.Conns, 1024},
		{"system streams", l.System.Streams, 32768},
		{"transient streams", l.Transient.Streams, 8192},
		{"peer conns", l.PeerDefault.Conns, 16},
		{"peer inbound streams", l.PeerDefault.StreamsInbound, 4096},
		{"peer outbound streams", l.PeerDefault.StreamsOutbound, 4096},
		{"protocol-peer inbound streams", l.ProtocolPeerDefault.StreamsInbound, 4096},
		{"service-peer inbound streams", l.ServicePeerDefault.StreamsInbound, 4096},
		{"protocol streams", l.ProtocolDefault.Streams, 16384},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if l.System.Memory != 4<<30 || l.PeerDefault.Memory != 2<<30 || l.Conn.Memory != 128<<20 {
		t.Errorf("memory limits: system %v, peer %v, conn %v", l.System.Memory, l.PeerDefault.Memory, l.Conn.Memory)
	}
	// The bundled ping service keeps libp2p's own tight per-peer limit.
	if pp, ok := l.ServicePeer[ping.ServiceName]; !ok || pp.Streams >= 100 {
		t.Errorf("ping service-peer limits = %+v (present %v), want libp2p's small default", pp, ok)
	}
}

// TestHostManyStreams holds thousands of streams open between two peers at
// once, far above libp2p's default per-peer and per-protocol limits.
func TestHostManyStreams(t *testing.T) {
	const n = 3000
	const proto = "/chorus/test-many-streams/1.0.0"
	a := newTestHost(t, HostConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	b := newTestHost(t, HostConfig{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	var open atomic.Int64
	release := make(chan struct{})
	b.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		var one [1]byte
		if _, err := io.ReadFull(s, one[:]); err != nil {
			s.Reset()
			return
		}
		open.Add(1)
		<-release
		_, _ = s.Write(one[:])
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	streams := make([]network.Stream, 0, n)
	defer func() {
		for _, s := range streams {
			s.Reset()
		}
	}()
	for i := range n {
		s, err := a.NewStream(ctx, b.ID(), proto)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		streams = append(streams, s)
		if _, err := s.Write([]byte{byte(i)}); err != nil {
			t.Fatalf("stream %d write: %v", i, err)
		}
	}
	for open.Load() < n {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d streams open at the handler", open.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for _, s := range streams {
		wg.Go(func() {
			var one [1]byte
			if _, err := io.ReadFull(s, one[:]); err != nil {
				bad.Add(1)
			}
			s.Close()
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d streams failed to read the echo", bad.Load())
	}
	streams = nil
}
