package node

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupSyncCoversEveryWrite: whatever the interleaving, a wait returns
// only after a sync that started once the waiter's write was done.
func TestGroupSyncCoversEveryWrite(t *testing.T) {
	var written, durable, syncs atomic.Int64
	g := newGroupSync(func() error {
		covered := written.Load()
		syncs.Add(1)
		// A slow flush: writers arrive while it runs.
		for range 20 {
			runtime.Gosched()
		}
		for {
			d := durable.Load()
			if covered <= d || durable.CompareAndSwap(d, covered) {
				return nil
			}
		}
	})
	const writers, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range rounds {
				mine := written.Add(1)
				if err := g.wait(); err != nil {
					errs <- err
					return
				}
				if d := durable.Load(); d < mine {
					errs <- errors.New("wait returned before a sync covered the write")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := syncs.Load(); n == 0 || n > writers*rounds {
		t.Fatalf("%d syncs for %d waits", n, writers*rounds)
	}
	t.Logf("%d syncs for %d waits", syncs.Load(), writers*rounds)
}

// TestGroupSyncFailureIsFinal: after a failed sync every wait fails,
// without syncing again.
func TestGroupSyncFailureIsFinal(t *testing.T) {
	boom := errors.New("device error")
	calls := 0
	g := newGroupSync(func() error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	for i, want := range []error{nil, boom, boom, boom} {
		if err := g.wait(); !errors.Is(err, want) {
			t.Fatalf("wait %d: err = %v, want %v", i, err, want)
		}
	}
	if calls != 2 {
		t.Fatalf("sync called %d times, want 2", calls)
	}
	if !errors.Is(g.err(), boom) {
		t.Fatalf("err() = %v, want %v", g.err(), boom)
	}
}
