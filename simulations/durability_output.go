package simulations

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// The plots WriteDurabilityOutputs draws.
const (
	PlotAvailability = "availability.png"
	PlotRepair       = "repair.png"
)

// DurabilitySummary is the flat record the durability scenario writes to
// summary.json, fields in this order. All but WallSeconds follow from the
// configuration alone.
type DurabilitySummary struct {
	Scenario  string `json:"scenario"`
	Seed      uint64 `json:"seed"`
	Nodes     int    `json:"nodes"`
	Replicas  int    `json:"replicas"`
	Succ      int    `json:"succ"`
	Blocks    int    `json:"blocks"`
	BlockSize int64  `json:"block_size"`
	// DurationS is the length of the churn phase, over which every figure
	// below is measured.
	DurationS       float64 `json:"duration_s"`
	Session         string  `json:"session"`
	Downtime        string  `json:"downtime"`
	LifetimeS       float64 `json:"lifetime_s"`
	RepairBandwidth int64   `json:"repair_bandwidth"`
	StabilizeS      float64 `json:"stabilize_s"`
	SyncIntervalS   float64 `json:"sync_interval_s"`
	ExtraGraceS     float64 `json:"extra_grace_s"`
	RepairDelayS    float64 `json:"repair_delay_s"`
	LastCopyDelayS  float64 `json:"last_copy_delay_s"`
	JoinPhaseS      float64 `json:"join_phase_s"`
	WarmupS         float64 `json:"warmup_s"`
	// MeanOnlineNodes is the time-averaged online population.
	MeanOnlineNodes float64 `json:"mean_online_nodes"`
	// TransientFailures counts nodes going offline with their data,
	// Returns their comebacks, PermanentFailures nodes failing for good.
	TransientFailures int64 `json:"transient_failures"`
	Returns           int64 `json:"returns"`
	PermanentFailures int64 `json:"permanent_failures"`
	// CopiesLost counts block copies held by permanently failed nodes.
	CopiesLost int64 `json:"copies_lost"`
	// BlocksLost counts blocks with no copy left at the end.
	BlocksLost int `json:"blocks_lost"`
	// AvailabilityMean is the time average of the fraction of blocks with
	// at least one online copy; AvailabilityMin its least value.
	AvailabilityMean float64 `json:"availability_mean"`
	AvailabilityMin  float64 `json:"availability_min"`
	// MeanCopiesEnd is the mean number of copies per block at the end,
	// on online and offline nodes.
	MeanCopiesEnd   float64 `json:"mean_copies_end"`
	RepairTransfers int64   `json:"repair_transfers"`
	FailedTransfers int64   `json:"failed_transfers"`
	// PullTransfers counts the completed transfers that were pulls (a
	// primary fetching a block of its range it lacked); the others were
	// pushes (repair and handoff).
	PullTransfers int64 `json:"pull_transfers"`
	// CopiesDropped counts extra copies deleted on a primary's request.
	CopiesDropped int64 `json:"copies_dropped"`
	// RepairBytes is the bytes of every completed repair transfer (repair,
	// handoff, pulls); RepairBytesPerNode divides it by Nodes.
	RepairBytes        int64   `json:"repair_bytes"`
	RepairBytesPerNode float64 `json:"repair_bytes_per_node"`
	// OracleRepairBytes is what an oracle that repairs only permanent
	// losses sends; RepairVsOracle is RepairBytes over it.
	OracleRepairBytes int64   `json:"oracle_repair_bytes"`
	RepairVsOracle    float64 `json:"repair_vs_oracle"`
	// ReplicaMsgsPerNodeS is replica protocol messages per online node
	// per second.
	ReplicaMsgsPerNodeS float64 `json:"replica_msgs_per_node_s"`
	Events              uint64  `json:"events"`
	VirtualSeconds      float64 `json:"virtual_seconds"`
	WallSeconds         float64 `json:"wall_seconds"`
}

// durSeriesHeader names the columns of the durability time series.
var durSeriesHeader = []string{
	"t_s", "online_nodes", "availability_mean", "availability_min", "unavailable_blocks_mean",
	"offline", "returns", "permanent_failures", "repair_transfers", "failed_transfers",
	"repair_bytes", "oracle_bytes", "repair_bytes_cum", "oracle_bytes_cum",
	"replica_msgs", "copies", "blocks_lost",
}

// WriteDurabilitySeriesCSV writes the durability time series as CSV, one
// row per bucket of the churn phase.
func WriteDurabilitySeriesCSV(w io.Writer, res *DurabilityResult) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(durSeriesHeader); err != nil {
		return fmt.Errorf("writing series: %w", err)
	}
	f := func(x float64) string { return strconv.FormatFloat(round4(x), 'f', -1, 64) }
	d := func(x int64) string { return strconv.FormatInt(x, 10) }
	blocks := float64(res.Summary.Blocks)
	var repCum, oraCum int64
	for _, b := range res.Series {
		width := float64(res.Bucket)
		repCum += b.RepairBytes
		oraCum += b.OracleBytes
		unavail := b.UnavailMS / width
		row := []string{
			f(float64(b.Start) / 1000), f(b.OnlineMS / width), f(1 - ratio(unavail, blocks)), f(b.MinAvail), f(unavail),
			d(b.Offline), d(b.Returns), d(b.PermFailures), d(b.Transfers), d(b.FailedTransfers),
			d(b.RepairBytes), d(b.OracleBytes), d(repCum), d(oraCum),
			d(b.ReplicaMsgs), d(b.Copies), d(b.Lost),
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

// MarshalDurabilitySummary renders s as indented JSON with a trailing
// newline.
func MarshalDurabilitySummary(s DurabilitySummary) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding summary: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteDurabilityOutputs writes summary.json, timeseries.csv and the plots
// of a durability run into dir, creating it if needed.
func WriteDurabilityOutputs(dir string, res *DurabilityResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	js, err := MarshalDurabilitySummary(res.Summary)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileSummary), js, 0o644); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if err := writeFile(filepath.Join(dir, FileSeries), func(w io.Writer) error { return WriteDurabilitySeriesCSV(w, res) }); err != nil {
		return err
	}
	s := res.Summary
	title := fmt.Sprintf("N=%d, r=%d, seed %d", s.Nodes, s.Replicas, s.Seed)
	if err := plotAvailability(filepath.Join(dir, PlotAvailability), title, res); err != nil {
		return err
	}
	return plotRepair(filepath.Join(dir, PlotRepair), title, res)
}

func plotAvailability(path, title string, res *DurabilityResult) error {
	p := plot.New()
	p.Title.Text = "Blocks with an online copy: " + title
	p.X.Label.Text = "virtual time (days)"
	p.Y.Label.Text = "fraction of blocks"
	mean := make(plotter.XYs, 0, len(res.Series))
	low := make(plotter.XYs, 0, len(res.Series))
	blocks := float64(res.Summary.Blocks)
	for _, b := range res.Series {
		x := float64(b.Start) / float64(Day)
		mean = append(mean, plotter.XY{X: x, Y: 1 - ratio(b.UnavailMS/float64(res.Bucket), blocks)})
		low = append(low, plotter.XY{X: x, Y: b.MinAvail})
	}
	if err := addLine(p, "mean over bucket", mean, colorBlue); err != nil {
		return err
	}
	if err := addLine(p, "minimum in bucket", low, colorRed); err != nil {
		return err
	}
	p.Add(plotter.NewGrid())
	p.Legend.Left = true
	p.Y.Max = 1.0005
	return save(p, path)
}

func plotRepair(path, title string, res *DurabilityResult) error {
	p := plot.New()
	p.Title.Text = "Repair traffic: " + title
	p.X.Label.Text = "virtual time (days)"
	p.Y.Label.Text = fmt.Sprintf("MiB per node per %gh bucket", float64(res.Bucket)/3600000)
	rep := make(plotter.XYs, 0, len(res.Series))
	ora := make(plotter.XYs, 0, len(res.Series))
	n := float64(max(res.Summary.Nodes, 1)) * (1 << 20)
	for _, b := range res.Series {
		x := float64(b.Start) / float64(Day)
		rep = append(rep, plotter.XY{X: x, Y: float64(b.RepairBytes) / n})
		ora = append(ora, plotter.XY{X: x, Y: float64(b.OracleBytes) / n})
	}
	if err := addLine(p, "Chorus repair", rep, colorBlue); err != nil {
		return err
	}
	if err := addLine(p, "oracle (permanent losses only)", ora, colorOrange); err != nil {
		return err
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Y.Min = 0
	return save(p, path)
}
