package simulations

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestEventQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	var want []event
	for i := 0; i < 5000; i++ {
		e := event{at: overlay.Time(rng.IntN(100)), seq: uint64(i), target: int32(i)}
		want = append(want, e)
		q.push(e)
		// Interleave pops with pushes now and then.
		if i%7 == 3 {
			got := q.pop()
			// The popped event must be the minimum of what remained.
			sort.Slice(want, func(a, b int) bool { return want[a].before(&want[b]) })
			if got != want[0] {
				t.Fatalf("pop %d: got %+v, want %+v", i, got, want[0])
			}
			want = want[1:]
		}
	}
	sort.Slice(want, func(a, b int) bool { return want[a].before(&want[b]) })
	for i, w := range want {
		if q.Len() == 0 {
			t.Fatalf("queue empty after %d pops, want %d", i, len(want))
		}
		if got := q.pop(); got != w {
			t.Fatalf("pop %d: got %+v, want %+v", i, got, w)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("queue has %d events left", q.Len())
	}
}

func TestEventBefore(t *testing.T) {
	tests := []struct {
		name string
		a, b event
		want bool
	}{
		{"earlier time", event{at: 1, seq: 9}, event{at: 2, seq: 1}, true},
		{"later time", event{at: 3, seq: 1}, event{at: 2, seq: 9}, false},
		{"same time lower seq", event{at: 5, seq: 1}, event{at: 5, seq: 2}, true},
		{"same time higher seq", event{at: 5, seq: 3}, event{at: 5, seq: 2}, false},
		{"identical", event{at: 5, seq: 3}, event{at: 5, seq: 3}, false},
	}
	for _, tc := range tests {
		if got := tc.a.before(&tc.b); got != tc.want {
			t.Errorf("%s: before = %v, want %v", tc.name, got, tc.want)
		}
	}
}
