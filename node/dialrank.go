package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// quicDialDelay is how long a dial waits for TCP before trying QUIC too.
const quicDialDelay = 250 * time.Millisecond

// tcpFirstRanker dials a peer's TCP addresses at once and its other
// addresses (QUIC) only if TCP has not connected after quicDialDelay.
// Chorus moves bulk data, and on the machines it was measured on, TCP with
// Noise and yamux carried a single stream about 1.6 times as fast as QUIC
// (see docs/design.md); libp2p's default ranker prefers QUIC.
func tcpFirstRanker(addrs []ma.Multiaddr) []network.AddrDelay {
	out := make([]network.AddrDelay, 0, len(addrs))
	for _, a := range addrs {
		d := quicDialDelay
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			d = 0
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}
