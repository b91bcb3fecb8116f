package node

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// TestCommitQueueGroups: requests that arrive while a flush runs are
// flushed together by the next one, each caller gets the error the flush
// gave its own request, and no flush sees a request twice.
func TestCommitQueueGroups(t *testing.T) {
	var q commitQueue[int]
	var mu sync.Mutex
	var groups [][]int
	first := make(chan struct{})   // closed when the first flush has started
	release := make(chan struct{}) // closed to let the first flush end
	flush := func(reqs []int) []error {
		mu.Lock()
		groups = append(groups, slices.Clone(reqs))
		n := len(groups)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		errs := make([]error, len(reqs))
		for i, r := range reqs {
			if r%2 == 1 {
				errs[i] = fmt.Errorf("odd %d", r)
			}
		}
		return errs
	}
	results := make([]error, 6)
	var wg sync.WaitGroup
	wg.Go(func() { results[0] = q.run(0, flush) })
	<-first
	// Five more arrive while the first flush is held.
	for i := 1; i < 6; i++ {
		wg.Go(func() { results[i] = q.run(i, flush) })
	}
	waitQueued(&q, 5)
	close(release)
	wg.Wait()
	if len(groups) != 2 || !slices.Equal(groups[0], []int{0}) || len(groups[1]) != 5 {
		t.Fatalf("groups %v, want [0] then the other five together", groups)
	}
	slices.Sort(groups[1])
	if !slices.Equal(groups[1], []int{1, 2, 3, 4, 5}) {
		t.Fatalf("second group %v", groups[1])
	}
	for i, err := range results {
		if (err != nil) != (i%2 == 1) {
			t.Fatalf("request %d: err %v", i, err)
		}
	}
	if q.busy || len(q.waiting) != 0 {
		t.Fatal("queue not idle after every caller returned")
	}
}

// TestCommitQueueManyCallers: under contention every request is flushed
// exactly once and its caller gets its own result.
func TestCommitQueueManyCallers(t *testing.T) {
	var q commitQueue[int]
	var mu sync.Mutex
	seen := map[int]int{}
	flush := func(reqs []int) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(reqs))
		for i, r := range reqs {
			seen[r]++
			errs[i] = fmt.Errorf("%w %d", errMarker, r)
		}
		return errs
	}
	const callers, each = 8, 300
	var wg sync.WaitGroup
	bad := make(chan string, callers)
	for c := range callers {
		wg.Go(func() {
			for k := range each {
				r := c*each + k
				err := q.run(r, flush)
				if !errors.Is(err, errMarker) || err.Error() != fmt.Sprintf("marker %d", r) {
					bad <- fmt.Sprintf("request %d got %v", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(bad)
	for b := range bad {
		t.Fatal(b)
	}
	if len(seen) != callers*each {
		t.Fatalf("%d requests flushed, want %d", len(seen), callers*each)
	}
	for r, n := range seen {
		if n != 1 {
			t.Fatalf("request %d flushed %d times", r, n)
		}
	}
}

var errMarker = errors.New("marker")

// TestCommitQueuePanic: a flush that panics does not leave the others in
// its group, or the queue, stuck: the panic reaches the leader's caller,
// the others get errFlushPanicked, and later requests are flushed.
func TestCommitQueuePanic(t *testing.T) {
	var q commitQueue[int]
	started := make(chan struct{})
	release := make(chan struct{})
	flush := func(reqs []int) []error {
		if reqs[0] == 0 {
			close(started)
			<-release
			return make([]error, len(reqs))
		}
		if slices.Contains(reqs, 1) {
			panic("boom")
		}
		return make([]error, len(reqs))
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = q.run(0, flush) })
	<-started
	// 1 and 2 queue behind 0 and are flushed together; that flush panics
	// in whichever of them leads.
	results := make([]error, 3)
	panicked := make([]bool, 3)
	for _, i := range []int{1, 2} {
		wg.Go(func() {
			defer func() { panicked[i] = recover() != nil }()
			results[i] = q.run(i, flush)
		})
	}
	waitQueued(&q, 2)
	close(release)
	wg.Wait()
	leaders, failed := 0, 0
	for _, i := range []int{1, 2} {
		switch {
		case panicked[i]:
			leaders++
		case errors.Is(results[i], errFlushPanicked):
			failed++
		}
	}
	if leaders != 1 || failed != 1 {
		t.Fatalf("panicked %v, errors %v: want one leader panicking and one errFlushPanicked", panicked, results)
	}
	if err := q.run(3, flush); err != nil {
		t.Fatalf("a request after the panic: %v", err)
	}
}

// waitQueued returns once n requests wait in q. The goroutines making them
// only need to be scheduled to reach the queue; nothing else has to happen
// first, so this yields rather than sleeps.
func waitQueued[T any](q *commitQueue[T], n int) {
	for {
		q.mu.Lock()
		k := len(q.waiting)
		q.mu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}
