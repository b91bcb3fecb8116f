package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/chorus-data/chorus/node"
)

// routeThroughProxies makes every connection between reader and the
// shaped nodes one that reader dialled through their proxies. A shaped
// node that dialled reader itself would otherwise reach it directly,
// around its proxy, and libp2p reuses whichever connection exists.
func routeThroughProxies(ctx context.Context, reader *node.Node, shaped []*node.Node) error {
	h := reader.Host()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, n := range shaped {
			proxied := n.Addrs() // the announced addresses: the proxy's
			for _, c := range h.Network().ConnsToPeer(n.ID()) {
				if !announced(c.RemoteMultiaddr(), proxied) {
					ok = false
					_ = c.Close()
				}
			}
			if len(h.Network().ConnsToPeer(n.ID())) == 0 {
				ai, err := peer.AddrInfoFromString(proxied[0])
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				if err := h.Connect(ctx, *ai); err != nil {
					return fmt.Errorf("bench: connect through proxy: %w", err)
				}
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: could not route every connection through the proxies")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// announced reports whether remote is one of the full addresses in full
// (which end in /p2p/ID).
func announced(remote ma.Multiaddr, full []string) bool {
	for _, f := range full {
		a, err := ma.NewMultiaddr(f)
		if err != nil {
			continue
		}
		base, _ := ma.SplitLast(a)
		if base != nil && base.Equal(remote) {
			return true
		}
	}
	return false
}
