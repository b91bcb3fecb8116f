package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/pnet"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// DefaultListenAddrs are the addresses a host listens on when HostConfig
// names none: TCP and QUIC on loopback, on ports the system picks.
var DefaultListenAddrs = []string{
	"/ip4/127.0.0.1/tcp/0",
	"/ip4/127.0.0.1/udp/0/quic-v1",
}

// Connection manager water marks. A Chord node keeps about 2*log2(N)
// successors, a finger table and kad-dht's routing table; 128 connections
// cover that at 100,000 nodes with room for transfers. Above 256 the
// manager trims back to 128, sparing connections younger than the grace
// period and peers the ring has protected.
const (
	connLowWater    = 128
	connHighWater   = 256
	connGracePeriod = time.Minute
)

// HostConfig configures NewHost.
type HostConfig struct {
	// PrivKey is the host's identity (see LoadOrCreateIdentity). Required.
	PrivKey crypto.PrivKey
	// ListenAddrs are multiaddrs to listen on; empty means
	// DefaultListenAddrs.
	ListenAddrs []string
	// NoListen makes a host that only dials out (ListenAddrs is ignored):
	// the throwaway host a joining node samples the ring with.
	NoListen bool
	// AnnounceAddrs, when set, replace the listen addresses in what the
	// host advertises to peers (identify, the DHT).
	AnnounceAddrs []string
	// PSK, when set, makes the host join only the private network of peers
	// holding the same 32-byte key. QUIC cannot run under a pre-shared key,
	// so its listen addresses are dropped and only TCP is used.
	PSK []byte
}

// NewHost builds the node's libp2p host: TCP and QUIC (TCP only with a
// PSK), Noise and TLS, yamux, identify, ping, the resource manager with the
// limits of ResourceLimits, and a connection manager. It turns off
// libp2p's Prometheus metrics, which nothing reads, and
// everything aimed at the public internet: relays (client and service),
// hole punching, NAT port mapping, AutoNAT v2 and the AutoNAT service stay
// off, there is no mDNS and no default bootstrap peer.
func NewHost(ctx context.Context, cfg HostConfig) (host.Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	if cfg.PrivKey == nil {
		return nil, errors.New("new host: no private key")
	}
	listen := cfg.ListenAddrs
	if len(listen) == 0 {
		listen = DefaultListenAddrs
	}
	if len(cfg.PSK) > 0 {
		if len(cfg.PSK) != 32 {
			return nil, fmt.Errorf("new host: private network key is %d bytes, want 32", len(cfg.PSK))
		}
		var err error
		if listen, err = withoutUDP(listen); err != nil {
			return nil, fmt.Errorf("new host: %w", err)
		}
		if len(listen) == 0 {
			return nil, errors.New("new host: a private network needs a TCP listen address")
		}
	}
	var announce []ma.Multiaddr
	for _, s := range cfg.AnnounceAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("new host: announce address %q: %w", s, err)
		}
		announce = append(announce, a)
	}

	// Nothing reads libp2p's Prometheus metrics, and keeping them costs
	// work on every stream opened and closed (ring messages, repair
	// transfers and name requests each open one).
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(ResourceLimits()), rcmgr.WithMetricsDisabled())
	if err != nil {
		return nil, fmt.Errorf("new host: resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(connLowWater, connHighWater, connmgr.WithGracePeriod(connGracePeriod))
	if err != nil {
		mgr.Close()
		return nil, fmt.Errorf("new host: connection manager: %w", err)
	}

	opts := []libp2p.Option{
		libp2p.Identity(cfg.PrivKey),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(mgr),
		libp2p.ConnectionManager(cm),
		libp2p.Ping(true),
		libp2p.DisableRelay(),
		libp2p.UserAgent("chorus"),
		libp2p.DisableMetrics(),
		libp2p.SwarmOpts(swarm.WithDialRanker(tcpFirstRanker)),
	}
	if cfg.NoListen {
		opts = append(opts, libp2p.NoListenAddrs)
	} else {
		opts = append(opts, libp2p.ListenAddrStrings(listen...))
	}
	if len(cfg.PSK) > 0 {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(cfg.PSK)))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	if len(announce) > 0 {
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr {
			return append([]ma.Multiaddr(nil), announce...)
		}))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		// Both managers tolerate a second Close if libp2p closed them.
		mgr.Close()
		cm.Close()
		return nil, fmt.Errorf("new host: %w", err)
	}
	return h, nil
}

// withoutUDP drops the UDP-based (QUIC) addresses from addrs.
func withoutUDP(addrs []string) ([]string, error) {
	var out []string
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_UDP); err == nil {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// ResourceLimits returns the resource manager limits every Chorus host
// uses. They start from libp2p's defaults (with its limits for identify,
// ping and the other bundled services) scaled as if libp2p had 1 GiB of
// memory and 4096 file descriptors — a fixed point, so limits do not depend
// on the machine — and then override the scopes a bulk transfer between a
// few peers runs into, so thousands of concurrent streams to one peer fit.
// Transient counts streams whose protocol is not yet confirmed, which with
// lazy negotiation includes every outbound stream that has written its
// request but not read the reply, so it must hold a full pipelined burst:
//
//	scope                  conns (in/out/all)  streams (in/out/all)    FD    memory
//	system                 1024/1024/1024      16384/16384/32768       2048  4 GiB
//	transient              256/256/256         4096/4096/8192          512   256 MiB
//	peer (each)            8/8/16              4096/4096/8192          16    2 GiB
//	protocol (each)        -                   16384/16384/16384       -     1 GiB
//	protocol x peer        -                   4096/4096/8192          -     512 MiB
//	service (each)         -                   16384/16384/16384       -     1 GiB
//	service x peer         -                   4096/4096/8192          -     512 MiB
//	connection (each)      (1 conn, 1 FD)      -                       -     128 MiB
//	stream (each)          -                   (1 stream)              -     16 MiB
//
// Memory is accounting, not allocation. yamux charges every stream's
// initial 256 KiB receive window to the peer scope when the stream opens
// (so peer memory, not the stream counts, is what binds first: 2 GiB is
// 8192 streams at that window, 4 GiB system-wide 16384), and asks for
// more, at a lower priority, to grow a window up to 16 MiB; a refused
// growth only keeps the window small, it fails nothing. Protocol and
// service memory is what stream handlers reserve themselves. Services
// that libp2p limits explicitly (identify, ping) keep their own, tighter,
// limits. FD limits are bookkeeping too: the process's own file limit
// (ulimit -n) must also allow the connections.
func ResourceLimits() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&base)
	scaled := base.Scale(1<<30, 4096)

	bulkPeer := rcmgr.ResourceLimits{
		StreamsInbound: 4096, StreamsOutbound: 4096, Streams: 8192,
		Memory: 512 << 20,
	}
	bulkAll := rcmgr.ResourceLimits{
		StreamsInbound: 16384, StreamsOutbound: 16384, Streams: 16384,
		Memory: 1 << 30,
	}
	over := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			ConnsInbound: 1024, ConnsOutbound: 1024, Conns: 1024,
			StreamsInbound: 16384, StreamsOutbound: 16384, Streams: 32768,
			FD: 2048, Memory: 4 << 30,
		},
		Transient: rcmgr.ResourceLimits{
			ConnsInbound: 256, ConnsOutbound: 256, Conns: 256,
			StreamsInbound: 4096, StreamsOutbound: 4096, Streams: 8192,
			FD: 512, Memory: 256 << 20,
		},
		PeerDefault: rcmgr.ResourceLimits{
			ConnsInbound: 8, ConnsOutbound: 8, Conns: 16,
			StreamsInbound: 4096, StreamsOutbound: 4096, Streams: 8192,
			FD: 16, Memory: 2 << 30,
		},
		ProtocolDefault:     bulkAll,
		ProtocolPeerDefault: bulkPeer,
		ServiceDefault:      bulkAll,
		ServicePeerDefault:  bulkPeer,
		Conn:                rcmgr.ResourceLimits{Memory: 128 << 20},
		Stream:              rcmgr.ResourceLimits{Memory: 16 << 20},
	}
	return over.Build(scaled)
}
