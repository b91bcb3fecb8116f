package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/chorus-data/chorus/node"
)

func cmdNode(args []string, _, stderr io.Writer) error {
	fs := newFlags("node", "node --data DIR [--listen MULTIADDR]... [--api HOST:PORT] [--bootstrap MULTIADDR]... [--zone Z] [--random-id]", stderr)
	data := fs.String("data", "", "data directory: identity key and block store (required)")
	var listen, bootstrap, announce listFlag
	fs.Var(&listen, "listen", "libp2p listen multiaddr, repeatable (default /ip4/127.0.0.1/tcp/4001 and /ip4/127.0.0.1/udp/4001/quic-v1)")
	fs.Var(&bootstrap, "bootstrap", "full multiaddr (…/p2p/ID) of a ring member to join through, repeatable; none starts a new ring")
	fs.Var(&announce, "announce", "multiaddr to announce instead of the listen addresses, repeatable")
	api := apiFlag(fs)
	stabilize := fs.Duration("stabilize", node.DefaultStabilizeInterval, "ring maintenance interval")
	zone := fs.String("zone", "", "this node's zone (site, rack or region) for datasets that ask for zones")
	randomID := fs.Bool("random-id", false, "on first start, take a random ring ID instead of one that splits the widest arc the bootstrap node samples")
	repair := repairFlags(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("%w: --data DIR is required", errUsage)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level: %w", errUsage, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(ctx, node.Config{
		DataDir:           *data,
		ListenAddrs:       listen,
		AnnounceAddrs:     announce,
		Bootstrap:         bootstrap,
		APIAddr:           apiAddr(*api),
		StabilizeInterval: *stabilize,
		Zone:              *zone,
		RandomID:          *randomID,
		Repair:            *repair,
		Logger:            log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "chorus node %s\n", n.ID())
	for _, a := range n.Addrs() {
		fmt.Fprintf(stderr, "  listening on %s\n", a)
	}
	fmt.Fprintf(stderr, "  API on http://%s\n", n.APIAddr())
	<-ctx.Done()
	stop()
	fmt.Fprintln(stderr, "chorus node: leaving the ring")
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("shutdown took longer than 30s")
	}
}
