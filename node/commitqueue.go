package node

import (
	"errors"
	"sync"
)

// commitQueue batches work that is cheaper done for many callers at once
// (group commit). A caller hands its request to run; if no flush is
// running, it becomes the leader and flushes every request queued so far,
// its own among them; otherwise it waits, and the requests that arrive
// while one flush runs are flushed together by the next, whose leader is
// the first of them. A leader flushes one group and hands on: no caller
// does the work of requests that came after its own was done.
type commitQueue[T any] struct {
	mu      sync.Mutex
	busy    bool // a leader is flushing
	waiting []*queued[T]
}

// queued is one request in a commitQueue.
type queued[T any] struct {
	req    T
	err    error
	leader bool          // set, under mu, when made the next leader
	wake   chan struct{} // closed when err is set or when made leader
}

// run queues req and returns once a flush has handled it, with the error
// that flush gave it. flush gets a group of requests in arrival order and
// returns one error per request.
func (q *commitQueue[T]) run(req T, flush func([]T) []error) error {
	me := &queued[T]{req: req, wake: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, me)
	if q.busy {
		q.mu.Unlock()
		<-me.wake
		q.mu.Lock()
		if !me.leader {
			q.mu.Unlock()
			return me.err
		}
	}
	q.busy = true
	group := q.waiting
	q.waiting = nil
	q.mu.Unlock()

	// Hand on and wake the group even if flush panics: the panic goes on
	// up the leader's stack, and the others get errFlushPanicked instead
	// of waiting for ever.
	flushed := false
	defer func() {
		if !flushed {
			for _, g := range group {
				g.err = errFlushPanicked
			}
		}
		q.mu.Lock()
		if len(q.waiting) > 0 {
			next := q.waiting[0]
			next.leader = true
			close(next.wake)
		} else {
			q.busy = false
		}
		q.mu.Unlock()
		for _, g := range group {
			if g != me {
				close(g.wake)
			}
		}
	}()
	reqs := make([]T, len(group))
	for i, g := range group {
		reqs[i] = g.req
	}
	errs := flush(reqs)
	for i, g := range group {
		g.err = errs[i]
	}
	flushed = true
	return me.err
}

// errFlushPanicked is what the requests of a group get when the flush
// handling them panicked in its leader.
var errFlushPanicked = errors.New("commit queue: the flush of this request's group panicked")
