package simulations

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCLIWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	// Flags on both sides of the scenario name.
	args := []string{"--nodes", "60", "--seed", "9", "stable", "--duration", "2m", "--lookups", "300", "--out", out}
	if err := RunCLI(args, &stdout, &stderr); err != nil {
		t.Fatalf("RunCLI: %v (stderr %s)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "stable N=60") {
		t.Errorf("stdout lacks the one-line summary: %q", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("progress written to a non-terminal: %q", stderr.String())
	}
	js, err := os.ReadFile(filepath.Join(out, FileSummary))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	for _, k := range []string{"nodes", "lookups", "mean_hops", "p50_hops", "p99_hops", "failed_lookups",
		"wrong_lookups", "mean_lookup_ms", "maint_bytes_per_node_s", "wall_seconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	if m["nodes"].(float64) != 60 || m["lookups"].(float64) != 300 {
		t.Errorf("summary nodes %v lookups %v", m["nodes"], m["lookups"])
	}
	// Keys in a stable order: wall_seconds last.
	if i := bytes.LastIndex(js, []byte(`"wall_seconds"`)); i < 0 || bytes.Contains(js[i+len(`"wall_seconds"`):], []byte(`":`)) {
		t.Error("wall_seconds is not the last key")
	}
	csv, err := os.ReadFile(filepath.Join(out, FileSeries))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) < 10 || !strings.HasPrefix(lines[0], "t_s,live_nodes,") {
		t.Errorf("time series: %d lines, header %q", len(lines), lines[0])
	}
	for _, p := range []string{PlotHops, PlotFailures, PlotMaintenance} {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 2000 {
			t.Errorf("%s is not a plausible PNG (%d bytes)", p, len(b))
		}
	}
	hops, err := os.ReadFile(filepath.Join(out, FileHops))
	if err != nil || !strings.HasPrefix(string(hops), "hops,lookups,fraction\n") {
		t.Errorf("hops.csv: %v %q", err, hops)
	}
}

func TestRunCLIErrors(t *testing.T) {
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"--nodes", "10"}, "missing scenario"},
		{"unknown scenario", []string{"fly", "--nodes", "10", "--seed", "1", "--out", out}, "unknown scenario"},
		{"flag of another scenario", []string{"stable", "--nodes", "10", "--seed", "1", "--out", out, "--fail-fraction", "0.5"}, "--fail-fraction"},
		{"missing seed", []string{"stable", "--nodes", "10", "--out", out}, "--seed is required"},
		{"missing out", []string{"stable", "--nodes", "10", "--seed", "1"}, "--out is required"},
		{"massfail without fraction", []string{"massfail", "--nodes", "10", "--seed", "1", "--out", out}, "--fail-fraction is required"},
		{"churn without model", []string{"churn", "--nodes", "10", "--seed", "1", "--out", out}, "exactly one of"},
		{"churn with two models", []string{"churn", "--nodes", "10", "--seed", "1", "--out", out, "--rate", "1", "--session", "exp:median=1m"}, "exactly one of"},
		{"bad session", []string{"churn", "--nodes", "10", "--seed", "1", "--out", out, "--session", "zipf:median=1m"}, "unknown kind"},
		{"bad duration", []string{"stable", "--nodes", "10", "--seed", "1", "--out", out, "--duration", "soon"}, "duration"},
		{"stray argument", []string{"stable", "extra", "--nodes", "10"}, "unexpected argument"},
		{"missing trace", []string{"churn", "--nodes", "10", "--seed", "1", "--out", out, "--trace", filepath.Join(out, "none")}, "no such file"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		err := RunCLI(tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0", 0, true}, {"12345", 12345, true}, {"", 0, false}, {"-1", 0, false},
		{"1a", 0, false}, {"1234567890", 0, false}, {"12D3KooW", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseAddr(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseAddr(%q) = %d,%v want %d,%v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
