package node

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/overlay"
)

// CreateIdentityAt is LoadOrCreateIdentity for a node whose place on the
// ring is given: a new key is one whose ring ID lies after `after`,
// within fraction of the ring (0 < fraction <= 1). It generates keys from
// rng (crypto/rand when nil) until one does, at most a million; a fixed
// rng gives the same key every time. Benchmarks and tests use it to put
// nodes at known places; a node otherwise takes its own place (balanced
// placement, placeid.go). An existing key is returned as it is.
func CreateIdentityAt(dataDir string, after overlay.ID, fraction float64, rng io.Reader) (crypto.PrivKey, error) {
	if !(fraction > 0 && fraction <= 1) {
		return nil, fmt.Errorf("identity: fraction of the ring %g is not in (0, 1]", fraction)
	}
	if rng == nil {
		rng = rand.Reader
	}
	ring := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), overlay.IDBits))
	limit, _ := new(big.Float).Mul(ring, big.NewFloat(fraction)).Int(nil)
	return loadOrCreateIdentityWith(dataDir, func() (crypto.PrivKey, error) {
		for range 1_000_000 {
			priv, _, err := crypto.GenerateEd25519Key(rng)
			if err != nil {
				return nil, err
			}
			id, err := peer.IDFromPrivateKey(priv)
			if err != nil {
				return nil, err
			}
			d := overlay.Distance(after, refOf(id).ID)
			if new(big.Int).SetBytes(d[:]).Cmp(limit) <= 0 {
				return priv, nil
			}
		}
		return nil, fmt.Errorf("no key within %g of the ring after %s in a million tries", fraction, after)
	})
}
