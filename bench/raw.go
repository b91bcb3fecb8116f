package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/node"
)

// rawProtocol is the benchmark's sink protocol.
const rawProtocol = "/chorus/bench/raw/1.0.0"

// rawStream sends size bytes over one libp2p stream between two hosts on
// loopback built exactly as nodes build theirs (TCP, Noise or TLS, yamux)
// and returns the rate in MB/s: the limit a fetch is measured against.
func rawStream(ctx context.Context, size int64) (float64, error) {
	a, err := benchHost(ctx)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := benchHost(ctx)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	b.SetStreamHandler(rawProtocol, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_, _ = s.Write([]byte{1})
		_ = s.Close()
	})
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		return 0, fmt.Errorf("bench raw: %w", err)
	}
	s, err := a.NewStream(ctx, b.ID(), rawProtocol)
	if err != nil {
		return 0, fmt.Errorf("bench raw: %w", err)
	}
	defer s.Close()
	start := time.Now()
	if err := sendZeros(s, size); err != nil {
		return 0, fmt.Errorf("bench raw: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		return 0, fmt.Errorf("bench raw: %w", err)
	}
	// The sink answers once it has read everything.
	var one [1]byte
	if _, err := io.ReadFull(s, one[:]); err != nil {
		return 0, fmt.Errorf("bench raw: %w", err)
	}
	return mbps(size, time.Since(start)), nil
}

// sendZeros writes size zero bytes to w in 1 MiB writes: the raw
// stream's traffic (the transport encrypts it, so the bytes' values do
// not matter).
func sendZeros(w io.Writer, size int64) error {
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

func benchHost(ctx context.Context) (host.Host, error) {
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return node.NewHost(ctx, node.HostConfig{PrivKey: priv, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
}
