package simulations

import "github.com/chorus-data/chorus/overlay"

// eventKind tells what an event does when it fires.
type eventKind uint8

const (
	// evDeliver delivers the pending message msgs[ref] to node target.
	evDeliver eventKind = iota + 1
	// evTick calls Tick on node target (if the event is still current).
	evTick
	// evSendFailed reports the pending message msgs[ref] as undeliverable
	// to its sender, node target.
	evSendFailed
	// evAction runs the scenario callback actions[ref].
	evAction
)

// event is one entry of the event queue. It is kept small (32 bytes) so that
// a queue of millions of events stays cheap to reorder.
type event struct {
	at     overlay.Time
	seq    uint64
	kind   eventKind
	target int32
	ref    int32
}

// before reports whether e fires before f: earlier time first, then lower
// sequence number, which makes the order total and deterministic.
func (e *event) before(f *event) bool {
	if e.at != f.at {
		return e.at < f.at
	}
	return e.seq < f.seq
}

// eventQueue is a binary min-heap of events ordered by (at, seq). It is
// written out by hand rather than through container/heap to avoid boxing
// every event in an interface.
type eventQueue struct {
	h []event
}

// Len returns the number of queued events.
func (q *eventQueue) Len() int { return len(q.h) }

// push adds e to the queue.
func (q *eventQueue) push(e event) {
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].before(&q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// peek returns the earliest event without removing it. The queue must not
// be empty.
func (q *eventQueue) peek() *event { return &q.h[0] }

// pop removes and returns the earliest event. The queue must not be empty.
func (q *eventQueue) pop() event {
	top := q.h[0]
	last := len(q.h) - 1
	q.h[0] = q.h[last]
	q.h = q.h[:last]
	n := len(q.h)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.h[r].before(&q.h[l]) {
			m = r
		}
		if !q.h[m].before(&q.h[i]) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}
