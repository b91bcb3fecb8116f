package simulations

import (
	"math"
	"sort"

	"github.com/chorus-data/chorus/overlay"
)

// Bucket holds what happened during one interval of virtual time; a run's
// time series is a slice of Buckets of equal width.
type Bucket struct {
	// Start is the virtual time at which the bucket begins.
	Start overlay.Time
	// Live is the number of live nodes at the end of the bucket (or at the
	// last change within it).
	Live int
	// NodeMS is the integral of the live-node count over the bucket, in
	// node-milliseconds; NodeMS/width is the mean population.
	NodeMS float64
	// Joins and Departures count nodes started and nodes gone.
	Joins, Departures int64
	// Lookups counts user lookups that finished (answered or failed) in
	// the bucket; Failed and Wrong count the failed and the wrong ones.
	Lookups, Failed, Wrong int64
	// HopSum and LatencySum add up hops and latency (ms) of the answered
	// lookups (Lookups-Failed of them).
	HopSum, LatencySum int64
	// MaintMsgs and MaintBytes count maintenance messages sent and their
	// wire size; LookupMsgs and LookupBytes the same for user lookups.
	MaintMsgs, MaintBytes, LookupMsgs, LookupBytes int64
	// Dropped counts messages that never arrived (lost, or sent to a node
	// that was gone).
	Dropped int64
	// Events counts simulation events processed (a measure of cost).
	Events int64
}

// metrics accumulates the measurements of one run.
type metrics struct {
	width  overlay.Time
	series []Bucket

	// Population integral.
	lastT    overlay.Time
	lastLive int

	// Lookups, all of them (the workload issues user lookups only while
	// measuring).
	issued, answered, failed, wrong, aborted, noAnswer int64
	hopHist                                            []int64
	hopSum, timeoutSum                                 int64
	latencies                                          []int32

	// Maintenance window totals.
	maintFrom, maintTo    overlay.Time
	maintMsgs, maintBytes int64
	windowNodeMS          float64
	// User-lookup traffic, whole run.
	lookupMsgs, lookupB int64
}

func newMetrics(width overlay.Time) *metrics {
	// No maintenance window until the scenario sets one.
	return &metrics{width: width, maintFrom: math.MaxInt64, maintTo: math.MaxInt64}
}

// bucket returns the bucket that holds time t, growing the series as needed.
func (m *metrics) bucket(t overlay.Time) *Bucket {
	i := int(t / m.width)
	for len(m.series) <= i {
		b := Bucket{Start: overlay.Time(len(m.series)) * m.width}
		if n := len(m.series); n > 0 {
			b.Live = m.series[n-1].Live
		}
		m.series = append(m.series, b)
	}
	return &m.series[i]
}

// advance integrates the population up to time t.
func (m *metrics) advance(t overlay.Time) {
	for m.lastT < t {
		b := m.bucket(m.lastT)
		end := min(b.Start+m.width, t)
		dt := float64(end - m.lastT)
		b.NodeMS += dt * float64(m.lastLive)
		b.Live = m.lastLive
		// The part of [lastT, end) inside the maintenance window.
		lo, hi := max(m.lastT, m.maintFrom), min(end, m.maintTo)
		if hi > lo {
			m.windowNodeMS += float64(hi-lo) * float64(m.lastLive)
		}
		m.lastT = end
	}
}

// setLive records that the population changed to live at time t.
func (m *metrics) setLive(t overlay.Time, live int, joined bool) {
	m.advance(t)
	b := m.bucket(t)
	if joined {
		b.Joins++
	} else {
		b.Departures++
	}
	b.Live = live
	m.lastLive = live
}

func (m *metrics) inMaintWindow(t overlay.Time) bool {
	return t >= m.maintFrom && t < m.maintTo
}

// sent records one message sent at time t.
func (m *metrics) sent(t overlay.Time, user bool, size int) {
	b := m.bucket(t)
	if user {
		b.LookupMsgs++
		b.LookupBytes += int64(size)
		m.lookupMsgs++
		m.lookupB += int64(size)
		return
	}
	b.MaintMsgs++
	b.MaintBytes += int64(size)
	if m.inMaintWindow(t) {
		m.maintMsgs++
		m.maintBytes += int64(size)
	}
}

// dropped records one message that will never arrive.
func (m *metrics) dropped(t overlay.Time) { m.bucket(t).Dropped++ }

// outcome is how a finished lookup is scored.
type outcome uint8

const (
	outCorrect outcome = iota
	outWrong
	outFailed
)

// lookupDone records a finished user lookup.
func (m *metrics) lookupDone(t overlay.Time, out outcome, hops, timeouts int, latency overlay.Time) {
	b := m.bucket(t)
	b.Lookups++
	m.timeoutSum += int64(timeouts)
	if out == outFailed {
		b.Failed++
		m.failed++
		return
	}
	m.answered++
	if out == outWrong {
		b.Wrong++
		m.wrong++
	}
	hops = max(hops, 0)
	for len(m.hopHist) <= hops {
		m.hopHist = append(m.hopHist, 0)
	}
	m.hopHist[hops]++
	m.hopSum += int64(hops)
	b.HopSum += int64(hops)
	b.LatencySum += int64(latency)
	m.latencies = append(m.latencies, int32(min(latency, math.MaxInt32)))
}

// hopQuantile returns the smallest hop count h such that at least q of the
// answered lookups took h hops or fewer.
func (m *metrics) hopQuantile(q float64) int {
	if m.answered == 0 {
		return 0
	}
	need := int64(math.Ceil(q * float64(m.answered)))
	var cum int64
	for h, c := range m.hopHist {
		cum += c
		if cum >= need {
			return h
		}
	}
	return len(m.hopHist) - 1
}

// latencyQuantile returns the q-quantile (nearest rank) of the latencies of
// answered lookups, in ms.
func (m *metrics) latencyQuantile(q float64) float64 {
	n := len(m.latencies)
	if n == 0 {
		return 0
	}
	s := append([]int32(nil), m.latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(q*float64(n))) - 1
	return float64(s[min(max(k, 0), n-1)])
}

func (m *metrics) meanLatency() float64 {
	if len(m.latencies) == 0 {
		return 0
	}
	var sum int64
	for _, l := range m.latencies {
		sum += int64(l)
	}
	return float64(sum) / float64(len(m.latencies))
}
