package simulations

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/chorus-data/chorus/overlay"
)

const durabilityUsage = `usage: chorus sim durability --nodes N --seed S --out DIR [flags]

Builds a ring of N nodes, places --blocks blocks of --block-size bytes on
their replica sets, then for --duration runs transient failures (online
spells from --session, offline spells from --downtime; a node comes back
with its data) and permanent failures (exponential lifetimes of mean
--lifetime; the node's data is lost and a fresh node joins in its place),
with every node's replication core repairing. Writes DIR/summary.json,
DIR/timeseries.csv, DIR/availability.png and DIR/repair.png.

Durations are Go durations (90s, 10m, 1h), seconds, or days (30d).
Byte counts take K, M, G (1000s) or KiB, MiB, GiB suffixes.

flags:
`

// longMSFlag is a duration flag that also accepts days ("30d").
type longMSFlag struct{ v *overlay.Time }

func (f longMSFlag) String() string {
	if f.v == nil || *f.v == 0 {
		return ""
	}
	return fmt.Sprintf("%gs", float64(*f.v)/1000)
}

func (f longMSFlag) Set(s string) error {
	t, err := ParseLongDurationMS(s)
	if err != nil {
		return err
	}
	*f.v = t
	return nil
}

// ParseLongDurationMS is ParseDurationMS that also accepts a number of
// days with a "d" suffix ("30d", "1.5d").
func ParseLongDurationMS(s string) (overlay.Time, error) {
	if v, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsNaN(f) || f > 1e6 {
			return 0, fmt.Errorf("duration %q: want a number of days", s)
		}
		return overlay.Time(math.Round(f * float64(Day))), nil
	}
	return ParseDurationMS(s)
}

// bytesFlag is a flag holding a byte count.
type bytesFlag struct{ v *int64 }

func (f bytesFlag) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f bytesFlag) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

// ParseBytes parses a byte count: a number with an optional suffix K, M,
// G (powers of 1000) or KiB, MiB, GiB (powers of 1024), B allowed after
// the decimal ones ("10MB").
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1},
	}
	num, mult := s, 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f*mult > 1e18 {
		return 0, fmt.Errorf("byte count %q: want a number with an optional K, M, G, KiB, MiB or GiB suffix", s)
	}
	return int64(math.Round(f * mult)), nil
}

// durabilityScenarioArg returns the position of the scenario name
// "durability" in args (flags may come before it), or -1.
func durabilityScenarioArg(args []string) int {
	for i, a := range args {
		if a != ScenarioDurability {
			continue
		}
		if i == 0 {
			return i
		}
		prev := args[i-1]
		// A value of the previous flag, unless that flag carried its value
		// or takes none.
		if !strings.HasPrefix(prev, "-") || strings.Contains(prev, "=") || strings.TrimLeft(prev, "-") == "quiet" {
			return i
		}
	}
	return -1
}

// runDurabilityCLI runs `chorus sim durability` with args (the scenario
// name removed).
func runDurabilityCLI(args []string, stdout, stderr io.Writer) error {
	var (
		cfg   DurabilityConfig
		out   string
		quiet bool
	)
	fs := flag.NewFlagSet("sim durability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, durabilityUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&out, "out", "", "output directory (required)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (required)")
	fs.IntVar(&cfg.Nodes, "nodes", 0, "number of nodes N (required)")
	fs.IntVar(&cfg.Replicas, "replicas", 0, "replication factor r (default 3)")
	fs.IntVar(&cfg.SuccListLen, "succ", 0, "successor list length, also the replication scope (default max(8, 2*ceil(log2 N)))")
	fs.Var(longMSFlag{&cfg.Duration}, "duration", "length of the churn phase (default 30d)")
	fs.Var(longMSFlag{&cfg.Warmup}, "warmup", "time between placing the blocks and the churn phase (default 30m)")
	fs.Var(sessionFlag{&cfg.Session}, "session", "online spells, e.g. pareto:median=1h[,alpha=1.5] or exp:median=1h (default: no transient failures)")
	fs.Var(sessionFlag{&cfg.Downtime}, "downtime", "offline spells (default: the --session distribution)")
	fs.Var(longMSFlag{&cfg.Lifetime}, "lifetime", "mean node lifetime before a permanent failure, e.g. 30d (default: none)")
	fs.Var(bytesFlag{&cfg.RepairBandwidth}, "repair-bandwidth", "repair bandwidth per node, bytes per second (default 64MiB)")
	fs.Var(bytesFlag{&cfg.LinkBandwidth}, "link-bandwidth", "speed of one transfer, bytes per second (default 125M)")
	fs.IntVar(&cfg.Blocks, "blocks", 0, "blocks placed at the start (default 10000)")
	fs.Var(bytesFlag{&cfg.BlockSize}, "block-size", "block size in bytes (default 1MiB)")
	fs.Var(longMSFlag{&cfg.Stabilize}, "stabilize", "mean ring maintenance period (default 5m)")
	fs.Var(longMSFlag{&cfg.StabilizeJitter}, "stabilize-jitter", "maintenance period jitter (default half the default period)")
	fs.Var(longMSFlag{&cfg.SyncInterval}, "sync-interval", "period of anti-entropy rounds (default 10m)")
	fs.Var(longMSFlag{&cfg.ExtraGrace}, "extra-grace", "how long a copy outside the replica set must be spare before it is dropped, and a member must lack a copy before handoff (default 24h)")
	fs.Var(longMSFlag{&cfg.RepairDelay}, "repair-delay", "how long a block short of copies waits before it is repaired (default 0: at once)")
	fs.Var(longMSFlag{&cfg.LastCopyDelay}, "last-copy-delay", "how long a block with a single copy reachable waits, at most --repair-delay (default a quarter of it)")
	fs.Var(msFlag{&cfg.RPCTimeout}, "rpc-timeout", "per-hop timeout (default 500ms)")
	fs.IntVar(&cfg.Net.Regions, "regions", 0, "number of network regions (default 5)")
	fs.Var(longMSFlag{&cfg.Bucket}, "bucket", "time-series bucket width (default 1h)")
	fs.BoolVar(&quiet, "quiet", false, "no progress line even on a terminal")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sim durability: %w", err)
	}
	if extra := fs.Args(); len(extra) > 0 {
		return fmt.Errorf("sim durability: unexpected argument %q", extra[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"out", "seed", "nodes"} {
		if !set[name] {
			return fmt.Errorf("sim durability: --%s is required", name)
		}
	}
	if set["downtime"] && !set["session"] {
		return errors.New("sim durability: --downtime needs --session")
	}
	var progress io.Writer
	if !quiet && isTerminal(stderr) {
		progress = stderr
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	res, err := RunDurability(cfg, progress)
	if err != nil {
		return fmt.Errorf("sim durability: %w", err)
	}
	if err := WriteDurabilityOutputs(out, res); err != nil {
		return fmt.Errorf("sim durability: %w", err)
	}
	s := res.Summary
	fmt.Fprintf(stdout, "durability N=%d r=%d seed=%d, %.0f days: %d blocks lost, availability mean %.6f min %.6f; %d permanent and %d transient failures\n",
		s.Nodes, s.Replicas, s.Seed, s.DurationS/86400, s.BlocksLost, s.AvailabilityMean, s.AvailabilityMin, s.PermanentFailures, s.TransientFailures)
	fmt.Fprintf(stdout, "repair %.1f MiB per node, oracle %.1f MiB per node: %.2fx the oracle\n",
		s.RepairBytesPerNode/(1<<20), float64(s.OracleRepairBytes)/float64(max(s.Nodes, 1))/(1<<20), s.RepairVsOracle)
	fmt.Fprintf(stdout, "%d events in %.1f s wall (%.0f events/s); wrote %s\n",
		res.Events, s.WallSeconds, res.EventsPerSec, filepath.Join(out, FileSummary))
	return nil
}
