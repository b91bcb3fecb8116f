package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DHTProtocolPrefix is the protocol prefix of Chorus's kad-dht, so it never
// talks to (or is found by) the public IPFS DHT: its protocol is
// /chorus/kad/1.0.0.
const DHTProtocolPrefix = "/chorus"

// dhtRefreshPeriod is how often the DHT refreshes its routing table; the
// table also refreshes when it runs low. The DHT only resolves peers, so
// a slow refresh is plenty.
const dhtRefreshPeriod = 15 * time.Minute

// NewDHT starts a kad-dht on h in server mode, with the Chorus protocol
// prefix and the given bootstrap peers only (never the public IPFS ones).
// Provider and value records are off: the DHT serves bootstrap and peer
// routing (FindPeer), nothing else. NewDHT connects to the bootstrap peers
// it can reach and starts a routing-table refresh. An unreachable bootstrap
// peer is logged, not fatal: while its routing table is empty the DHT
// itself keeps retrying the bootstrap peers, so a node can start while they
// are down. ctx bounds only the connection attempts, not the DHT's life;
// close the DHT to stop it. log receives its messages (nil: slog.Default).
func NewDHT(ctx context.Context, h host.Host, bootstrap []peer.AddrInfo, log *slog.Logger) (*dht.IpfsDHT, error) {
	if log == nil {
		log = slog.Default()
	}
	var peers []peer.AddrInfo
	for _, p := range bootstrap {
		if p.ID != h.ID() {
			peers = append(peers, p)
		}
	}
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.BootstrapPeers(peers...),
		dht.DisableProviders(),
		dht.DisableValues(),
		dht.RoutingTableRefreshPeriod(dhtRefreshPeriod),
	)
	if err != nil {
		return nil, fmt.Errorf("new dht: %w", err)
	}
	for _, p := range peers {
		if err := h.Connect(ctx, p); err != nil {
			log.Debug("dht: bootstrap peer unreachable", "peer", p.ID, "err", err)
		}
	}
	if err := d.Bootstrap(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("new dht: bootstrap: %w", err)
	}
	return d, nil
}
