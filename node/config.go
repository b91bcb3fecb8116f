package node

import (
	"log/slog"
	"time"
)

// Defaults of Config.
const (
	// DefaultAPIAddr is where a node serves its HTTP API unless told
	// otherwise. It is loopback-only on purpose.
	DefaultAPIAddr = "127.0.0.1:7070"
	// DefaultReplicas is the replication factor of a dataset that does not
	// ask for one.
	DefaultReplicas = 3
	// DefaultStabilizeInterval is how often a node runs stabilize,
	// check-predecessor and fix-fingers.
	DefaultStabilizeInterval = time.Second
	// DefaultRPCTimeout bounds one ring hop.
	DefaultRPCTimeout = 2 * time.Second
	// DefaultSuccListLen is the successor list length of a real node.
	DefaultSuccListLen = 8
)

// DefaultNodeListenAddrs are the libp2p listen addresses of a node that names
// none: loopback only, so a node never exposes itself by accident. Pass
// --listen /ip4/0.0.0.0/tcp/4001 to accept peers from other machines.
var DefaultNodeListenAddrs = []string{
	"/ip4/127.0.0.1/tcp/4001",
	"/ip4/127.0.0.1/udp/4001/quic-v1",
}

// Config configures a Node.
type Config struct {
	// DataDir holds the identity key and the block store. Required.
	DataDir string
	// ListenAddrs are libp2p multiaddrs to listen on; DefaultNodeListenAddrs
	// when empty.
	ListenAddrs []string
	// AnnounceAddrs, when set, replace the addresses the node announces.
	AnnounceAddrs []string
	// Bootstrap lists full multiaddrs (ending in /p2p/ID) of ring members
	// to join through. Empty: start a new ring.
	Bootstrap []string
	// APIAddr is the HOST:PORT of the HTTP API; empty disables it.
	APIAddr string
	// StabilizeInterval is the ring maintenance period.
	StabilizeInterval time.Duration
	// RPCTimeout bounds one ring hop and one block request.
	RPCTimeout time.Duration
	// SuccListLen is the ring successor list length.
	SuccListLen int
	// RandomID turns off balanced placement. By default a node that
	// starts with no identity and joins an existing ring asks its
	// bootstrap node for a sample of the ring and generates keys until its
	// ring ID lands in the middle third of the widest arc sampled (see
	// placeid.go); with RandomID it takes the first key generated.
	RandomID bool
	// Zone is the node's zone (a site, rack or region), which datasets
	// that ask for zones spread their copies over; "" for none.
	Zone string
	// Repair configures replica maintenance; zero fields take defaults.
	Repair RepairConfig
	// Logger receives the node's logs; slog.Default() when nil.
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	out := *c
	if len(out.ListenAddrs) == 0 {
		out.ListenAddrs = DefaultNodeListenAddrs
	}
	if out.StabilizeInterval <= 0 {
		out.StabilizeInterval = DefaultStabilizeInterval
	}
	if out.RPCTimeout <= 0 {
		out.RPCTimeout = DefaultRPCTimeout
	}
	if out.SuccListLen <= 0 {
		out.SuccListLen = DefaultSuccListLen
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}
