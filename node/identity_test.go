package node

import (
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/overlay"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	k1, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if k1.Type() != crypto.Ed25519 {
		t.Fatalf("key type %v, want Ed25519", k1.Type())
	}
	st, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only the key (temp file left behind?)", len(entries))
	}

	k2, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !k1.Equals(k2) {
		t.Fatal("reloaded key differs")
	}
	id1, _ := peer.IDFromPrivateKey(k1)
	id2, _ := peer.IDFromPrivateKey(k2)
	if id1 != id2 {
		t.Fatalf("peer ID changed across reload: %s vs %s", id1, id2)
	}

	other, err := LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.Equals(k1) {
		t.Fatal("two data dirs got the same key")
	}
}

func TestLoadOrCreateIdentityRace(t *testing.T) {
	dir := t.TempDir()
	keys := make([]crypto.PrivKey, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateIdentity(dir) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !keys[i].Equals(keys[0]) {
			t.Fatalf("caller %d got a different key", i)
		}
	}
}

func TestLoadOrCreateIdentityRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, IdentityFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(dir); err == nil {
		t.Fatal("a corrupt key file was accepted (or silently replaced)")
	}
}

func TestCreateIdentityAt(t *testing.T) {
	var after overlay.ID
	after[0] = 0xf0 // near the end of the ring: the window wraps past zero
	seed := [32]byte{7}
	a, err := CreateIdentityAt(t.TempDir(), after, 1.0/8, mathrand.NewChaCha8(seed))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(a)
	if err != nil {
		t.Fatal(err)
	}
	if d := overlay.Distance(after, refOf(id).ID); d[0] >= 0x20 {
		t.Errorf("ring ID %s is %x... after %s, more than an eighth of the ring", refOf(id).ID, d[:4], after)
	}
	dir := t.TempDir()
	b, err := CreateIdentityAt(dir, after, 1.0/8, mathrand.NewChaCha8(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equals(b) {
		t.Error("the same rng gave another key")
	}
	// The key is the node's: loaded as it is afterwards.
	c, err := CreateIdentityAt(dir, overlay.ID{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Equals(c) {
		t.Error("an existing identity was replaced")
	}
	for _, f := range []float64{0, -1, 1.5} {
		if _, err := CreateIdentityAt(t.TempDir(), after, f, nil); err == nil {
			t.Errorf("fraction %g accepted", f)
		}
	}
}
