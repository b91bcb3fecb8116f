package node

import (
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/chorus-data/chorus/overlay"
)

// The project's own versioned protocol IDs.
const (
	// RingProtocol carries overlay messages, one per stream.
	RingProtocol protocol.ID = "/chorus/ring/1.0.0"
	// BlockProtocol carries block put/get/has requests, one per stream.
	BlockProtocol protocol.ID = "/chorus/block/1.0.0"
	// BlockStreamProtocol carries the same requests, many per stream,
	// one at a time; peers prefer it and fall back to BlockProtocol.
	BlockStreamProtocol protocol.ID = "/chorus/block/1.1.0"
	// NameProtocol carries version record requests, one per stream.
	NameProtocol protocol.ID = "/chorus/name/1.0.0"
	// DHTPrefix is the protocol prefix of the node's kad-dht.
	DHTPrefix protocol.ID = "/chorus"
)

// Size bounds of one frame on each protocol.
const (
	maxRingFrame  = overlay.MaxMessageSize
	maxBlockFrame = 8<<20 + 64<<10
	maxNameFrame  = 16 << 20
	maxSmallFrame = 64 << 10
)
