package simulations

import (
	"bytes"

	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/chorus-data/chorus/overlay"
	"io"
	"math"
	"strconv"
)

// Summary is the flat record written to summary.json. Its fields are
// written in this order; all but WallSeconds follow from the Config alone,
// so the same seed gives the same bytes.
type Summary struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// Nodes is the size of the ring that was built; Succ the successor
	// list length R.
	Nodes int `json:"nodes"`
	Succ  int `json:"succ"`
	// LiveNodesEnd is the population at the end of the run.
	LiveNodesEnd int `json:"live_nodes_end"`
	// VirtualSeconds is the simulated time the run covered.
	VirtualSeconds float64 `json:"virtual_seconds"`
	// JoinPhaseS is the length of the join phase that built the ring: the
	// time at which the last node joined.
	JoinPhaseS float64 `json:"join_phase_s"`
	// FailFraction (massfail), Rate and Session (churn) echo the scenario.
	FailFraction float64 `json:"fail_fraction"`
	Rate         float64 `json:"rate"`
	Session      string  `json:"session"`
	Joins        int64   `json:"joins"`
	Departures   int64   `json:"departures"`

	// Lookups is the number of user lookups issued; Answered those that
	// returned a successor; Aborted those whose origin left before the
	// answer (not scored).
	Lookups  int64 `json:"lookups"`
	Answered int64 `json:"answered"`
	Aborted  int64 `json:"aborted_lookups"`
	// Hop statistics over answered lookups.
	MeanHops float64 `json:"mean_hops"`
	P50Hops  int     `json:"p50_hops"`
	P99Hops  int     `json:"p99_hops"`
	MaxHops  int     `json:"max_hops"`
	// MeanTimeouts is the mean number of per-hop timeouts per lookup.
	MeanTimeouts float64 `json:"mean_timeouts"`
	// FailedLookups ended with overlay.ErrLookupFailed or never returned;
	// WrongLookups returned a first successor that was not the key's true
	// live successor when the answer arrived.
	FailedLookups int64 `json:"failed_lookups"`
	WrongLookups  int64 `json:"wrong_lookups"`
	// FailedOrWrongPer10k is (failed+wrong) per 10,000 scored lookups.
	FailedOrWrongPer10k float64 `json:"failed_or_wrong_per_10k"`
	// Lookup latency over answered lookups, virtual milliseconds.
	MeanLookupMS float64 `json:"mean_lookup_ms"`
	P50LookupMS  float64 `json:"p50_lookup_ms"`
	P99LookupMS  float64 `json:"p99_lookup_ms"`
	// Maintenance (everything that is not a user lookup) per live node per
	// second over the measurement window, and user-lookup traffic per
	// lookup.
	MaintMsgsPerNodeS  float64 `json:"maint_msgs_per_node_s"`
	MaintBytesPerNodeS float64 `json:"maint_bytes_per_node_s"`
	LookupMsgsPerLook  float64 `json:"lookup_msgs_per_lookup"`
	LookupBytesPerLook float64 `json:"lookup_bytes_per_lookup"`
	// MaintWindowS is the length of the maintenance measurement window.
	MaintWindowS float64 `json:"maint_window_s"`
	// Events is the number of simulation events processed.
	Events uint64 `json:"events"`
	// WallSeconds is the wall-clock time of the run, the only field that
	// differs between two runs of the same Config.
	WallSeconds float64 `json:"wall_seconds"`
}

// round4 rounds to 4 decimal places, keeping the JSON short and free of
// representation noise.
func round4(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*1e4) / 1e4
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func summarize(cfg Config, e *engine, t0 overlay.Time, wall float64) Summary {
	m := e.met
	var joins, deps int64
	for _, b := range m.series {
		joins += b.Joins
		deps += b.Departures
	}
	failed := m.failed + m.noAnswer
	scored := m.answered + failed
	nodeS := m.windowNodeMS / 1000
	window := float64(min(m.maintTo, e.now)-m.maintFrom) / 1000
	return Summary{
		Scenario:            cfg.Scenario,
		Seed:                cfg.Seed,
		Nodes:               cfg.Nodes,
		Succ:                cfg.SuccListLen,
		LiveNodesEnd:        len(e.alive),
		VirtualSeconds:      round4(float64(e.now) / 1000),
		JoinPhaseS:          round4(float64(t0) / 1000),
		FailFraction:        cfg.FailFraction,
		Rate:                cfg.Rate,
		Session:             cfg.Session.String(),
		Joins:               joins,
		Departures:          deps,
		Lookups:             m.issued,
		Answered:            m.answered,
		Aborted:             m.aborted,
		MeanHops:            round4(ratio(float64(m.hopSum), float64(m.answered))),
		P50Hops:             m.hopQuantile(0.5),
		P99Hops:             m.hopQuantile(0.99),
		MaxHops:             max(len(m.hopHist)-1, 0),
		MeanTimeouts:        round4(ratio(float64(m.timeoutSum), float64(scored))),
		FailedLookups:       failed,
		WrongLookups:        m.wrong,
		FailedOrWrongPer10k: round4(ratio(float64(failed+m.wrong)*10000, float64(scored))),
		MeanLookupMS:        round4(m.meanLatency()),
		P50LookupMS:         m.latencyQuantile(0.5),
		P99LookupMS:         m.latencyQuantile(0.99),
		MaintMsgsPerNodeS:   round4(ratio(float64(m.maintMsgs), nodeS)),
		MaintBytesPerNodeS:  round4(ratio(float64(m.maintBytes), nodeS)),
		LookupMsgsPerLook:   round4(ratio(float64(m.lookupMsgs), float64(m.issued))),
		LookupBytesPerLook:  round4(ratio(float64(m.lookupB), float64(m.issued))),
		MaintWindowS:        round4(window),
		Events:              e.events,
		WallSeconds:         math.Round(wall*1000) / 1000,
	}
}

// MarshalSummary renders s as indented JSON with a trailing newline.
func MarshalSummary(s Summary) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding summary: %w", err)
	}
	return buf.Bytes(), nil
}

// seriesHeader names the columns of the time-series CSV.
var seriesHeader = []string{
	"t_s", "live_nodes", "joins", "departures",
	"lookups", "failed", "wrong", "mean_hops", "mean_lookup_ms",
	"maint_msgs", "maint_bytes", "maint_msgs_per_node_s", "maint_bytes_per_node_s",
	"lookup_msgs", "lookup_bytes", "dropped_msgs", "events",
}

// WriteSeriesCSV writes the time series of res as CSV, one row per bucket.
func WriteSeriesCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(seriesHeader); err != nil {
		return fmt.Errorf("writing series: %w", err)
	}
	f := func(x float64) string { return strconv.FormatFloat(round4(x), 'f', -1, 64) }
	d := func(x int64) string { return strconv.FormatInt(x, 10) }
	for _, b := range res.Series {
		answered := float64(b.Lookups - b.Failed)
		nodeS := b.NodeMS / 1000
		row := []string{
			f(float64(b.Start) / 1000), strconv.Itoa(b.Live), d(b.Joins), d(b.Departures),
			d(b.Lookups), d(b.Failed), d(b.Wrong),
			f(ratio(float64(b.HopSum), answered)), f(ratio(float64(b.LatencySum), answered)),
			d(b.MaintMsgs), d(b.MaintBytes), f(ratio(float64(b.MaintMsgs), nodeS)), f(ratio(float64(b.MaintBytes), nodeS)),
			d(b.LookupMsgs), d(b.LookupBytes), d(b.Dropped), d(b.Events),
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("writing series: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing series: %w", err)
	}
	return nil
}
