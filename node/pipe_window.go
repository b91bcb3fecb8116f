package node

import (
	"math"
	"time"
)

// Sizing of a peer's in-flight window.
const (
	// minPipeWindow is the fewest requests kept in flight to a measured
	// peer: one arriving while the next is already on its way.
	minPipeWindow = 2
	// windowSlack is the time beyond one round trip that the requests in
	// flight should cover at the peer's throughput.
	windowSlack = 100 * time.Millisecond
)

// inflightWindow returns how many requests of reqBytes each to keep in
// flight to a peer with throughput bw (bytes per second, 0 when not
// measured) and round-trip time rtt (0 when unknown): one more than
// covers rtt plus windowSlack at bw, so that the link still has a
// request's worth to carry while a new request makes its round trip;
// between minPipeWindow and pipeWindow, and pipeWindow while either is
// unknown.
//
// More is not faster: the requests in flight to a peer share its link,
// so on three 20 MB/s links 16 requests of 1 MiB each all finished near
// the end of a 0.8 s round, the fetch's in-order writer received its
// blocks in bursts and the links idled between rounds. A window limited
// by itself still grows: if bw is only what w requests per round trip
// carry, the next window is w(1 + windowSlack/rtt).
func inflightWindow(bw float64, rtt time.Duration, reqBytes float64) int {
	if bw <= 0 || rtt <= 0 || reqBytes <= 0 {
		return pipeWindow
	}
	w := math.Ceil(bw*(rtt+windowSlack).Seconds()/reqBytes) + 1
	return int(max(minPipeWindow, min(pipeWindow, w)))
}

// windowLocked is the peer's current in-flight window; pp.mu is held.
func (pp *peerPipe) windowLocked() int {
	bw := pp.statsLocked().measured()
	if bw <= 0 || pp.requests == 0 {
		return pipeWindow
	}
	return inflightWindow(bw, pp.n.host.Peerstore().LatencyEWMA(pp.p), float64(pp.moved)/float64(pp.requests))
}
