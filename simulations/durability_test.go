package simulations

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/replica"
)

// smallDurability is a small durability run: 40 nodes, 400 blocks, half a
// day of churn.
func smallDurability(seed uint64) DurabilityConfig {
	return DurabilityConfig{
		Seed:     seed,
		Nodes:    40,
		Blocks:   400,
		Duration: 12 * 3600000,
		Session:  SessionDist{Kind: "pareto", Median: 3600000, Alpha: 1.5},
		Downtime: SessionDist{Kind: "pareto", Median: 20 * 60000, Alpha: 1.5},
		Lifetime: 2 * Day,
	}
}

func runDur(t *testing.T, cfg DurabilityConfig) *DurabilityResult {
	t.Helper()
	res, err := RunDurability(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDurabilityDeterministic(t *testing.T) {
	cfg := smallDurability(7)
	a, b := runDur(t, cfg), runDur(t, cfg)
	a.Summary.WallSeconds, b.Summary.WallSeconds = 0, 0
	ja, _ := MarshalDurabilitySummary(a.Summary)
	jb, _ := MarshalDurabilitySummary(b.Summary)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("same seed, different summaries:\n%s\n%s", ja, jb)
	}
	var ca, cb bytes.Buffer
	if err := WriteDurabilitySeriesCSV(&ca, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteDurabilitySeriesCSV(&cb, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.Bytes(), cb.Bytes()) {
		t.Fatal("same seed, different time series")
	}
	s := a.Summary
	if s.PermanentFailures == 0 || s.TransientFailures == 0 {
		t.Fatalf("no churn happened: %+v", s)
	}
	if s.OracleRepairBytes <= 0 || s.RepairBytes <= 0 {
		t.Fatalf("no repair traffic: repair %d, oracle %d", s.RepairBytes, s.OracleRepairBytes)
	}
	// The oracle re-creates exactly the copies its own holders lose: about
	// r*blocks/N per permanent failure.
	perFail := float64(s.OracleRepairBytes) / float64(s.BlockSize) / float64(s.PermanentFailures)
	if want := float64(s.Replicas*s.Blocks) / float64(s.Nodes); perFail < want/3 || perFail > want*3 {
		t.Fatalf("oracle re-created %.1f copies per permanent failure, want about %.1f", perFail, want)
	}
	if len(a.Series) < 12 {
		t.Fatalf("%d buckets for 12 hours of hourly buckets", len(a.Series))
	}
	c := smallDurability(8)
	if d := runDur(t, c); d.Summary.RepairBytes == s.RepairBytes && d.Summary.TransientFailures == s.TransientFailures {
		t.Fatal("another seed gave the same run")
	}
}

// Without permanent failures no block may be lost, whatever the
// transient churn; and every copy is back online in the end or counted.
func TestDurabilityTransientOnlyLosesNothing(t *testing.T) {
	cfg := smallDurability(3)
	cfg.Lifetime = 0
	cfg.Downtime = SessionDist{Kind: "pareto", Median: 3600000, Alpha: 1.5}
	res := runDur(t, cfg)
	s := res.Summary
	if s.BlocksLost != 0 || s.PermanentFailures != 0 || s.CopiesLost != 0 || s.OracleRepairBytes != 0 {
		t.Fatalf("lost %d blocks, %d copies, %d permanent failures, oracle %d bytes", s.BlocksLost, s.CopiesLost, s.PermanentFailures, s.OracleRepairBytes)
	}
	if s.TransientFailures < int64(cfg.Nodes) {
		t.Fatalf("only %d transient failures", s.TransientFailures)
	}
	if s.RepairBytes == 0 {
		t.Fatal("transient failures caused no repair at all")
	}
	if s.MeanCopiesEnd < float64(s.Replicas) {
		t.Fatalf("%.2f copies per block at the end, want at least r=%d", s.MeanCopiesEnd, s.Replicas)
	}
}

// With no churn at all the blocks stay where they were placed: full
// availability, no repair.
func TestDurabilityStableRingNoRepair(t *testing.T) {
	cfg := smallDurability(5)
	cfg.Session, cfg.Downtime, cfg.Lifetime = SessionDist{}, SessionDist{}, 0
	cfg.Duration = 3 * 3600000
	res := runDur(t, cfg)
	s := res.Summary
	if s.AvailabilityMean != 1 || s.AvailabilityMin != 1 || s.BlocksLost != 0 {
		t.Fatalf("availability %v/%v, lost %d on a stable ring", s.AvailabilityMean, s.AvailabilityMin, s.BlocksLost)
	}
	if s.RepairBytes != 0 || s.MeanCopiesEnd != float64(s.Replicas) {
		t.Fatalf("stable ring: %d repair bytes, %.3f copies per block", s.RepairBytes, s.MeanCopiesEnd)
	}
}

func TestDurabilityCLIWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := RunCLI([]string{"--nodes", "24", "durability", "--blocks", "200", "--duration", "0.25d",
		"--session", "pareto:median=1h", "--lifetime", "1d", "--repair-bandwidth", "4MiB", "--seed", "2", "--out", dir}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, f := range []string{FileSummary, FileSeries, PlotAvailability, PlotRepair} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s missing or empty: %v", f, err)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, FileSummary))
	for _, key := range []string{`"blocks_lost"`, `"availability_mean"`, `"availability_min"`, `"repair_bytes_per_node"`, `"oracle_repair_bytes"`, `"repair_vs_oracle"`, `"repair_bandwidth": 4194304`} {
		if !bytes.Contains(js, []byte(key)) {
			t.Fatalf("summary lacks %s:\n%s", key, js)
		}
	}
	if err := RunCLI([]string{"durability", "--nodes", "10", "--seed", "1", "--out", dir, "--rate", "1"}, &out, &errb); err == nil {
		t.Fatal("a churn-only flag was accepted")
	}
}

func TestParseLongDurationAndBytes(t *testing.T) {
	durs := []struct {
		in   string
		want overlay.Time
		ok   bool
	}{
		{"30d", 30 * Day, true}, {"1.5d", 36 * 3600000, true}, {"90s", 90000, true}, {"2", 2000, true},
		{"xd", 0, false}, {"-1d", 0, false}, {"h", 0, false},
	}
	for _, c := range durs {
		got, err := ParseLongDurationMS(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseLongDurationMS(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	sizes := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1MiB", 1 << 20, true}, {"10MB", 10_000_000, true}, {"512K", 512_000, true}, {"4096", 4096, true},
		{"2GiB", 2 << 30, true}, {"1.5KiB", 1536, true}, {"MiB", 0, false}, {"-3", 0, false}, {"1TB", 0, false},
	}
	for _, c := range sizes {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

// The sim store's own index must walk exactly as the MemStore underneath.
func TestSimStoreWalkMatchesMemStore(t *testing.T) {
	e := newEngine(1, nodeParams{succListLen: 8, stabilize: 1000}, NetConfig{}, 1000, 4)
	tr := newDurTracker(e, 0, 1000)
	s := newSimStore(&host{}, tr, 1<<20)
	var cids []cid.Cid
	for b := 0; b < 300; b++ {
		data := []byte{byte(b), byte(b >> 8), 1, 2, 3}
		mh, _ := multihash.Sum(data, multihash.SHA2_256, -1)
		c := cid.NewCidV1(cid.Raw, mh)
		cids = append(cids, c)
		if err := s.PutBlock(c, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cids[:100] {
		if err := s.DeleteBlock(c); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 50; k++ {
		var start [replica.BlockKeySize]byte
		start[0], start[1] = byte(k*5), byte(k*37)
		var a, b []string
		_ = s.ForEachBlockFrom(start, func(c cid.Cid, size int, _ replica.Meta) error {
			if size != 1<<20 {
				t.Fatalf("size %d", size)
			}
			a = append(a, c.KeyString())
			return nil
		})
		_ = s.MemStore.ForEachBlockFrom(start, func(c cid.Cid, _ int, _ replica.Meta) error {
			b = append(b, c.KeyString())
			return nil
		})
		if !slices.Equal(a, b) {
			t.Fatalf("start %x: walks differ (%d vs %d blocks)", start[:2], len(a), len(b))
		}
	}
}
