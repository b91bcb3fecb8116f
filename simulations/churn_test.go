package simulations

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestParseSession(t *testing.T) {
	tests := []struct {
		in      string
		want    SessionDist
		wantErr bool
	}{
		{"pareto:median=10m", SessionDist{"pareto", 600000, 1.5}, false},
		{"pareto:median=90s,alpha=2", SessionDist{"pareto", 90000, 2}, false},
		{"exp:median=1h", SessionDist{"exp", 3600000, 0}, false},
		{"exp:median=30", SessionDist{"exp", 30000, 0}, false},
		{"exp:median=1h,alpha=2", SessionDist{}, true},
		{"weibull:median=1h", SessionDist{}, true},
		{"pareto", SessionDist{}, true},
		{"pareto:median=0s", SessionDist{}, true},
		{"pareto:median=10m,alpha=-1", SessionDist{}, true},
		{"pareto:mean=10m", SessionDist{}, true},
		{"exp:median", SessionDist{}, true},
	}
	for _, tc := range tests {
		got, err := ParseSession(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseSession(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && got != tc.want {
			t.Errorf("ParseSession(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !tc.wantErr {
			back, err := ParseSession(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q = %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
}

// TestSessionMedian checks that both distributions have the requested
// median, and that the Pareto one has the heavier tail.
func TestSessionMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, d := range []SessionDist{{"exp", 600000, 0}, {"pareto", 600000, 1.5}} {
		const n = 40001
		s := make([]overlay.Time, n)
		for i := range s {
			s[i] = d.Sample(rng)
		}
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		med := float64(s[n/2])
		if med < 0.97*600000 || med > 1.03*600000 {
			t.Errorf("%s: sample median %.0f, want about 600000", d.Kind, med)
		}
		if d.Kind == "pareto" {
			if float64(s[0]) < 600000/1.587401-1 {
				t.Errorf("pareto sample %d below the scale", s[0])
			}
			if s[n*999/1000] < 10*600000 {
				t.Errorf("pareto p99.9 %d: tail too light", s[n*999/1000])
			}
		}
	}
}

func TestParseDurationMS(t *testing.T) {
	tests := []struct {
		in      string
		want    overlay.Time
		wantErr bool
	}{
		{"90s", 90000, false},
		{"1h", 3600000, false},
		{"250ms", 250, false},
		{"1.5", 1500, false},
		{"0", 0, false},
		{"-1s", 0, true},
		{"-3", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDurationMS(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseDurationMS(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseTrace(t *testing.T) {
	in := `# a trace
10s join a
5 fail 3

1m leave a
10s join b
`
	evs, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []TraceEvent{
		{5000, TraceFail, "3"},
		{10000, TraceJoin, "a"},
		{10000, TraceJoin, "b"},
		{60000, TraceLeave, "a"},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
	if err := checkTrace(evs, 4); err != nil {
		t.Errorf("valid trace rejected: %v", err)
	}
	if err := checkTrace(evs, 3); err == nil {
		t.Error("fail of a node outside the ring accepted")
	}
	for _, bad := range []string{"10s join", "10s dance a", "x join a"} {
		if _, err := ParseTrace(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseTrace(%q) accepted", bad)
		}
	}
	dup := []TraceEvent{{0, TraceJoin, "1"}}
	if err := checkTrace(dup, 2); err == nil {
		t.Error("join of an initial node's name accepted")
	}
}

func FuzzParseTrace(f *testing.F) {
	f.Add("10s join a\n5 fail 3\n")
	f.Add("# c\n\n1h leave x\n")
	f.Add("1e3 join z")
	f.Fuzz(func(t *testing.T, s string) {
		evs, err := ParseTrace(strings.NewReader(s))
		if err != nil {
			return
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].At < evs[i-1].At {
				t.Fatalf("events out of order: %+v", evs)
			}
		}
		for _, e := range evs {
			if e.At < 0 || e.Name == "" || e.Op < TraceJoin || e.Op > TraceFail {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

func FuzzParseSession(f *testing.F) {
	f.Add("pareto:median=10m,alpha=2")
	f.Add("exp:median=30")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSession(s)
		if err != nil {
			return
		}
		if d.Median <= 0 {
			t.Fatalf("accepted non-positive median: %+v", d)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		if v := d.Sample(rng); v < 1 {
			t.Fatalf("sample %d < 1", v)
		}
	})
}
