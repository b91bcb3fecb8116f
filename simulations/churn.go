package simulations

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// SessionDist is a distribution of node session times (how long a node stays
// in the ring once it has joined).
type SessionDist struct {
	// Kind is "exp" (exponential) or "pareto".
	Kind string
	// Median is the median session time.
	Median overlay.Time
	// Alpha is the Pareto shape (default 1.5); unused for "exp".
	Alpha float64
}

// IsZero reports whether no distribution is set.
func (d SessionDist) IsZero() bool { return d.Kind == "" }

// String renders d in the syntax ParseSession accepts.
func (d SessionDist) String() string {
	if d.IsZero() {
		return ""
	}
	s := fmt.Sprintf("%s:median=%s", d.Kind, time.Duration(d.Median)*time.Millisecond)
	if d.Kind == "pareto" {
		s += ",alpha=" + strconv.FormatFloat(d.Alpha, 'g', -1, 64)
	}
	return s
}

// Sample draws one session time, at least 1 ms.
//
// For the exponential distribution the mean is Median/ln 2. For the Pareto
// distribution with shape alpha the scale is Median/2^(1/alpha), and a
// sample is scale/U^(1/alpha) with U uniform in (0,1].
func (d SessionDist) Sample(rng *rand.Rand) overlay.Time {
	var v float64
	switch d.Kind {
	case "exp":
		v = rng.ExpFloat64() * float64(d.Median) / math.Ln2
	case "pareto":
		xm := float64(d.Median) / math.Pow(2, 1/d.Alpha)
		u := 1 - rng.Float64() // in (0,1]
		v = xm / math.Pow(u, 1/d.Alpha)
	}
	if v > math.MaxInt64/4 {
		v = math.MaxInt64 / 4
	}
	return max(overlay.Time(v), 1)
}

// ParseSession parses a session-time distribution such as
// "pareto:median=10m", "pareto:median=10m,alpha=2" or "exp:median=1h".
func ParseSession(s string) (SessionDist, error) {
	kind, params, ok := strings.Cut(s, ":")
	if !ok {
		return SessionDist{}, fmt.Errorf("session %q: want KIND:median=DURATION", s)
	}
	d := SessionDist{Kind: kind}
	switch kind {
	case "exp":
	case "pareto":
		d.Alpha = 1.5
	default:
		return SessionDist{}, fmt.Errorf("session %q: unknown kind %q (want exp or pareto)", s, kind)
	}
	for _, kv := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return SessionDist{}, fmt.Errorf("session %q: parameter %q is not key=value", s, kv)
		}
		switch k {
		case "median":
			t, err := ParseDurationMS(v)
			if err != nil {
				return SessionDist{}, fmt.Errorf("session %q: %w", s, err)
			}
			d.Median = t
		case "alpha":
			if kind != "pareto" {
				return SessionDist{}, fmt.Errorf("session %q: alpha applies to pareto only", s)
			}
			a, err := strconv.ParseFloat(v, 64)
			if err != nil || a <= 0 || math.IsInf(a, 0) || math.IsNaN(a) {
				return SessionDist{}, fmt.Errorf("session %q: alpha %q: want a positive number", s, v)
			}
			d.Alpha = a
		default:
			return SessionDist{}, fmt.Errorf("session %q: unknown parameter %q", s, k)
		}
	}
	if d.Median <= 0 {
		return SessionDist{}, fmt.Errorf("session %q: median must be positive", s)
	}
	return d, nil
}

// ParseDurationMS parses a Go duration ("90s", "10m", "1h30m") or a bare
// number of seconds ("90", "0.5") into virtual milliseconds.
func ParseDurationMS(s string) (overlay.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > 1e12 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return overlay.Time(math.Round(f * 1000)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return overlay.Time(d / time.Millisecond), nil
}

// TraceOp is what a trace line does to a node.
type TraceOp uint8

// The trace operations.
const (
	// TraceJoin starts a new node, which joins the ring.
	TraceJoin TraceOp = iota + 1
	// TraceLeave makes a node leave gracefully (it tells its neighbours).
	TraceLeave
	// TraceFail makes a node crash silently.
	TraceFail
)

// String returns the operation's keyword in the trace format.
func (op TraceOp) String() string {
	switch op {
	case TraceJoin:
		return "join"
	case TraceLeave:
		return "leave"
	case TraceFail:
		return "fail"
	}
	return "unknown"
}

// TraceEvent is one line of a churn trace.
type TraceEvent struct {
	// At is the time of the event, relative to the start of the churn phase.
	At overlay.Time
	// Op is what happens.
	Op TraceOp
	// Name identifies the node. The nodes of the initial ring are named
	// "0" to "N-1"; a join introduces a new name.
	Name string
}

// ParseTrace reads a churn trace: one event per line, "TIME OP NAME", where
// TIME is a Go duration or a number of seconds since the start of the churn
// phase, OP is join, leave or fail, and NAME is any token without spaces.
// Blank lines and lines starting with '#' are ignored. Events are returned
// sorted by time; events at the same time keep their file order.
func ParseTrace(r io.Reader) ([]TraceEvent, error) {
	var evs []TraceEvent
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 3 {
			return nil, fmt.Errorf("trace line %d: want TIME OP NAME, got %q", line, s)
		}
		at, err := ParseDurationMS(f[0])
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		var op TraceOp
		switch f[1] {
		case "join":
			op = TraceJoin
		case "leave":
			op = TraceLeave
		case "fail":
			op = TraceFail
		default:
			return nil, fmt.Errorf("trace line %d: unknown op %q (want join, leave or fail)", line, f[1])
		}
		evs = append(evs, TraceEvent{At: at, Op: op, Name: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading trace: %w", err)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	return evs, nil
}

// checkTrace verifies that a trace makes sense for an initial ring of n
// nodes named "0".."n-1": joins introduce unused names, leaves and fails
// name live nodes.
func checkTrace(evs []TraceEvent, n int) error {
	live := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		live[strconv.Itoa(i)] = true
	}
	used := make(map[string]bool, n)
	for k := range live {
		used[k] = true
	}
	for i, e := range evs {
		switch e.Op {
		case TraceJoin:
			if used[e.Name] {
				return fmt.Errorf("trace event %d: join of %q, a name already used", i+1, e.Name)
			}
			used[e.Name], live[e.Name] = true, true
		default:
			if !live[e.Name] {
				return fmt.Errorf("trace event %d: %s of %q, which is not live", i+1, e.Op, e.Name)
			}
			delete(live, e.Name)
		}
	}
	return nil
}
