package node

import (
	"fmt"
	"sync"
)

// groupSync shares one sync of a file among the writers waiting for it
// (group commit). A writer calls wait after its write has returned; wait
// returns once a sync that started after that call has finished, so the
// write is durable. While one sync runs, the writers arriving meanwhile
// wait together for the next one, which the first of them starts: under
// load one flush covers many writes instead of one each.
//
// A failed sync is final. After fsync reports an error, Linux may already
// have dropped the dirty pages, and a later sync can succeed without them,
// so every later wait returns the first error and the file must not be
// written again.
type groupSync struct {
	sync func() error

	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // syncs started so far
	done    uint64 // syncs finished so far (done == started or started-1)
	running bool
	failed  error
}

// newGroupSync returns a groupSync that makes writes durable with fn.
func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{sync: fn}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait returns nil once every write that returned before the call is
// durable, or the sync's error.
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A sync already running may have started before the caller's write
	// finished, so only the next one to start is sure to cover it.
	need := g.started + 1
	for g.done < need && g.failed == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.running = false
		g.done = n
		if err != nil {
			g.failed = fmt.Errorf("sync: %w", err)
		}
		g.cond.Broadcast()
	}
	return g.failed
}

// err returns the sticky error of a failed sync, or nil.
func (g *groupSync) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failed
}
