package simulations

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/chorus-data/chorus/overlay"
)

// The files RunCLI writes into --out besides the plots.
const (
	FileSummary = "summary.json"
	FileSeries  = "timeseries.csv"
	FileHops    = "hops.csv"
)

// msFlag is a flag holding a duration in virtual milliseconds, written as a
// Go duration ("90s", "10m") or a number of seconds.
type msFlag struct{ v *overlay.Time }

func (f msFlag) String() string {
	if f.v == nil || *f.v == 0 {
		return ""
	}
	return fmt.Sprintf("%gs", float64(*f.v)/1000)
}

func (f msFlag) Set(s string) error {
	t, err := ParseDurationMS(s)
	if err != nil {
		return err
	}
	*f.v = t
	return nil
}

// sessionFlag is a flag holding a session-time distribution.
type sessionFlag struct{ v *SessionDist }

func (f sessionFlag) String() string {
	if f.v == nil || f.v.IsZero() {
		return ""
	}
	return f.v.String()
}

func (f sessionFlag) Set(s string) error {
	d, err := ParseSession(s)
	if err != nil {
		return err
	}
	*f.v = d
	return nil
}

// Which flags each scenario accepts, besides the common ones.
var (
	commonFlags = []string{"out", "seed", "nodes", "succ", "doubling-time", "join-hold", "stabilize", "stabilize-jitter",
		"rpc-timeout", "lookup-timeout", "alpha", "loss", "regions", "bucket", "quiet"}
	scenarioFlags = map[string][]string{
		ScenarioStable:   {"duration", "lookups", "lookup-window"},
		ScenarioMassFail: {"warmup", "lookups", "lookup-window", "fail-fraction"},
		ScenarioChurn:    {"warmup", "duration", "rate", "lookup-rate", "session", "trace", "graceful"},
	}
)

const cliUsage = `usage: chorus sim SCENARIO [flags] --out DIR

scenarios:
  stable   --nodes N [--succ R] [--duration D] [--lookups L] --seed S
  massfail --nodes N --succ R --fail-fraction P --lookups L --seed S
  churn    --nodes N --succ R --rate X --duration D --lookup-rate Y --seed S
           [--session pareto:median=10m | exp:median=1h] [--trace FILE]
  durability --nodes N --replicas r --duration 30d --session pareto:median=1h
           --lifetime 30d --repair-bandwidth B --blocks K --seed S
           (chorus sim durability --help for its flags)

Flags may come before or after the scenario name. Durations are Go
durations (90s, 10m, 1h) or seconds. Writes DIR/summary.json,
DIR/timeseries.csv, DIR/hops.csv and PNG plots.

flags:
`

// RunCLI runs `chorus sim` with args (everything after "sim"): it parses
// the scenario and its flags, runs the simulation, shows progress on stderr
// if stderr is a terminal, and writes the summary, the time series and the
// plots into --out.
func RunCLI(args []string, stdout, stderr io.Writer) error {
	if i := durabilityScenarioArg(args); i >= 0 {
		return runDurabilityCLI(append(args[:i:i], args[i+1:]...), stdout, stderr)
	}
	var (
		cfg       Config
		out       string
		tracePath string
		quiet     bool
	)
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, cliUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&out, "out", "", "output directory (required)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (required)")
	fs.IntVar(&cfg.Nodes, "nodes", 0, "number of nodes N (required)")
	fs.IntVar(&cfg.SuccListLen, "succ", 0, "successor list length R (default max(8, 2*ceil(log2 N)))")
	fs.Var(msFlag{&cfg.DoublingTime}, "doubling-time", "the ring doubles at most once per this during the join phase (default 7 * stabilize)")
	fs.Var(msFlag{&cfg.JoinHold}, "join-hold", "a node joins only if its predecessor-to-be neither joined nor got another new successor for this long (default stabilize + jitter)")
	fs.Var(msFlag{&cfg.Duration}, "duration", "stable: time the complete ring runs, lookups in its last --lookup-window (default 10m); churn: churn phase (default 1h)")
	fs.Var(msFlag{&cfg.Warmup}, "warmup", "massfail, churn: time the complete ring runs before the experiment (default 10m)")
	fs.IntVar(&cfg.Lookups, "lookups", 0, "stable, massfail: number of lookups L (default 10000)")
	fs.Var(msFlag{&cfg.LookupWindow}, "lookup-window", "stable, massfail: period the lookups are spread over (default 60s)")
	fs.Float64Var(&cfg.LookupRate, "lookup-rate", 0, "churn: lookups per second Y (default 1)")
	fs.Float64Var(&cfg.FailFraction, "fail-fraction", 0, "massfail: fraction P of nodes that fail at once (required)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "churn: Poisson joins and departures, each at X per second")
	fs.Var(sessionFlag{&cfg.Session}, "session", "churn: session times instead of --rate, e.g. pareto:median=10m[,alpha=1.5] or exp:median=1h")
	fs.StringVar(&tracePath, "trace", "", "churn: replay a trace file (TIME join|leave|fail NAME per line) instead of --rate")
	fs.Float64Var(&cfg.Graceful, "graceful", 0, "churn: fraction of departures that leave gracefully (the rest crash)")
	fs.Var(msFlag{&cfg.Stabilize}, "stabilize", "mean maintenance period (default 30s)")
	fs.Var(msFlag{&cfg.StabilizeJitter}, "stabilize-jitter", "maintenance period jitter, periods are U[mean-j, mean+j] (default 15s with the default period, else 0)")
	fs.Var(msFlag{&cfg.RPCTimeout}, "rpc-timeout", "per-hop timeout (default 500ms)")
	fs.Var(msFlag{&cfg.LookupTimeout}, "lookup-timeout", "bound on a whole lookup (default 60 * rpc-timeout)")
	fs.IntVar(&cfg.Parallelism, "alpha", 0, "lookup parallelism (default the overlay's)")
	fs.Float64Var(&cfg.Net.Loss, "loss", 0, "message loss probability")
	fs.IntVar(&cfg.Net.Regions, "regions", 0, "number of network regions (default 5)")
	fs.Var(msFlag{&cfg.Bucket}, "bucket", "time-series bucket width (default 10s)")
	fs.BoolVar(&quiet, "quiet", false, "no progress line even on a terminal")

	// Flags may come before and after the scenario name.
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("sim: missing scenario (stable, massfail or churn)")
	}
	cfg.Scenario = rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if extra := fs.Args(); len(extra) > 0 {
		return fmt.Errorf("sim: unexpected argument %q", extra[0])
	}
	allowed, ok := scenarioFlags[cfg.Scenario]
	if !ok {
		return fmt.Errorf("sim: unknown scenario %q (want stable, massfail or churn)", cfg.Scenario)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var bad []string
	for name := range set {
		if !contains(commonFlags, name) && !contains(allowed, name) {
			bad = append(bad, "--"+name)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("sim %s: flag(s) %s do not apply to this scenario", cfg.Scenario, strings.Join(bad, ", "))
	}
	required := []string{"out", "seed", "nodes"}
	if cfg.Scenario == ScenarioMassFail {
		required = append(required, "fail-fraction")
	}
	for _, name := range required {
		if !set[name] {
			return fmt.Errorf("sim %s: --%s is required", cfg.Scenario, name)
		}
	}
	if cfg.Scenario == ScenarioChurn {
		n := 0
		for _, name := range []string{"rate", "session", "trace"} {
			if set[name] {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("sim churn: give exactly one of --rate, --session and --trace")
		}
	}
	if tracePath != "" {
		f, err := os.Open(tracePath)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		evs, err := ParseTrace(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("sim: %s: %w", tracePath, err)
		}
		cfg.Trace = evs
		if cfg.Trace == nil {
			cfg.Trace = []TraceEvent{}
		}
	}

	var progress io.Writer
	if !quiet && isTerminal(stderr) {
		progress = stderr
	}
	// The simulation allocates a message per event and keeps a large live
	// heap; collecting at 4x the live heap instead of 2x cut the run time
	// of a 30,000-node run by a quarter and keeps a 100,000-node run well
	// under 8 GiB. GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	res, err := Run(cfg, progress)
	if err != nil {
		return fmt.Errorf("sim %s: %w", cfg.Scenario, err)
	}
	if err := WriteOutputs(out, res); err != nil {
		return fmt.Errorf("sim %s: %w", cfg.Scenario, err)
	}
	s := res.Summary
	fmt.Fprintf(stdout, "%s N=%d R=%d seed=%d: %d lookups, mean hops %.2f (p50 %d, p99 %d), failed %d, wrong %d, mean latency %.0f ms, maintenance %.0f B/node/s\n",
		s.Scenario, s.Nodes, s.Succ, s.Seed, s.Lookups, s.MeanHops, s.P50Hops, s.P99Hops,
		s.FailedLookups, s.WrongLookups, s.MeanLookupMS, s.MaintBytesPerNodeS)
	fmt.Fprintf(stdout, "%d events in %.1f s wall (%.0f events/s); wrote %s\n",
		res.Events, s.WallSeconds, res.EventsPerSec, filepath.Join(out, FileSummary))
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// WriteOutputs writes summary.json, timeseries.csv, hops.csv and the PNG
// plots of res into dir, creating it if needed.
func WriteOutputs(dir string, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	js, err := MarshalSummary(res.Summary)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileSummary), js, 0o644); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	if err := writeFile(filepath.Join(dir, FileSeries), func(w io.Writer) error { return WriteSeriesCSV(w, res) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, FileHops), func(w io.Writer) error { return WriteHopsCSV(w, res) }); err != nil {
		return err
	}
	return WritePlots(dir, res)
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

// WriteHopsCSV writes the hop histogram as CSV: hops, lookups, fraction.
func WriteHopsCSV(w io.Writer, res *Result) error {
	var total int64
	for _, c := range res.HopHist {
		total += c
	}
	if _, err := fmt.Fprintln(w, "hops,lookups,fraction"); err != nil {
		return fmt.Errorf("writing hops: %w", err)
	}
	for h, c := range res.HopHist {
		if _, err := fmt.Fprintf(w, "%d,%d,%g\n", h, c, round4(ratio(float64(c), float64(total)))); err != nil {
			return fmt.Errorf("writing hops: %w", err)
		}
	}
	return nil
}
