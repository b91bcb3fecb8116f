package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// IdentityFile is the name of the node's private key file in its data
// directory.
const IdentityFile = "identity.key"

// LoadOrCreateIdentity returns the node's libp2p private key from
// dataDir/identity.key, creating the directory and a new Ed25519 key if
// there is none. The key is written with mode 0600 to a temporary file,
// synced, and hard-linked into place, so a crash never leaves a partial key
// and two processes racing to create it end up with the same key.
func LoadOrCreateIdentity(dataDir string) (crypto.PrivKey, error) {
	return loadOrCreateIdentityWith(dataDir, func() (crypto.PrivKey, error) {
		priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
		return priv, err
	})
}

// loadOrCreateIdentityWith is LoadOrCreateIdentity with the new key, when
// one is needed, coming from generate.
func loadOrCreateIdentityWith(dataDir string, generate func() (crypto.PrivKey, error)) (crypto.PrivKey, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	path := filepath.Join(dataDir, IdentityFile)
	if k, err := readIdentity(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	priv, err := generate()
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("identity: marshal key: %w", err)
	}
	if err := writeNew(dataDir, path, raw); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created the key first: use theirs.
			return readIdentity(path)
		}
		return nil, fmt.Errorf("identity: %w", err)
	}
	return priv, nil
}

// hasIdentity reports whether dataDir already holds an identity key.
func hasIdentity(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, IdentityFile))
	return err == nil
}

// readIdentity reads and decodes a key file.
func readIdentity(path string) (crypto.PrivKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	k, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("identity: decode %s: %w", path, err)
	}
	return k, nil
}

// writeNew writes data to path atomically without replacing an existing
// file: temp file (mode 0600) + fsync + link + directory fsync. It fails
// with an error wrapping fs.ErrExist if path already exists.
func writeNew(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+IdentityFile+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(name, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
