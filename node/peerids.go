package node

import (
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Ring entries carry peer IDs as text (overlay.NodeRef.Addr, base58), and
// every block placed or fetched decoded those of its successors: a
// publish of 10,000 small files at r=3 into four nodes decoded four IDs
// about 150,000 times, 4% of its CPU. decodePeer remembers the
// decodings.

// peerIDCacheMax bounds the remembered IDs; past it the cache starts
// afresh (a ring's successor lists name far fewer peers than this).
const peerIDCacheMax = 4096

var (
	peerIDs     sync.Map // string -> peer.ID
	peerIDCount atomic.Int64
)

// decodePeer is peer.Decode with the successful results remembered.
func decodePeer(s string) (peer.ID, error) {
	if p, ok := peerIDs.Load(s); ok {
		return p.(peer.ID), nil
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", err // as peer.Decode gives it: callers add the address
	}
	if peerIDCount.Add(1) > peerIDCacheMax {
		peerIDs.Clear()
		peerIDCount.Store(1)
	}
	peerIDs.Store(s, p)
	return p, nil
}
