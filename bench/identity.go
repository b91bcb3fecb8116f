package bench

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/node"
	"github.com/chorus-data/chorus/overlay"
)

// groundIdentity writes into dataDir an identity whose ring ID falls just
// after after, within fraction of the ring: a node with it owns (after,
// self], almost none of the key space. The benchmark uses it for a
// publisher that stores (almost) nothing itself. It grinds keys, which is
// what a node's ID being the hash of its key makes necessary.
func groundIdentity(dataDir string, after overlay.ID, fraction float64) error {
	ring := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), overlay.IDBits))
	limitF := new(big.Float).Mul(ring, big.NewFloat(fraction))
	limit, _ := limitF.Int(nil)
	for range 1_000_000 {
		priv, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		d := overlay.Distance(after, overlay.HashID([]byte(id)))
		if new(big.Int).SetBytes(d[:]).Cmp(limit) > 0 {
			continue
		}
		b, err := crypto.MarshalPrivateKey(priv)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		return os.WriteFile(filepath.Join(dataDir, node.IdentityFile), b, 0o600)
	}
	return fmt.Errorf("bench: no identity within %g of the ring after a million tries", fraction)
}
