package node

import (
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// rearm sets an event loop's timer for the core's next deadline, waking at
// least once a second and at most once a millisecond. (With go 1.23+
// timer semantics, Reset needs no drain of a fired timer.)
func rearm(timer *time.Timer, deadline, now overlay.Time) {
	wait := time.Duration(deadline-now) * time.Millisecond
	timer.Reset(min(max(wait, time.Millisecond), time.Second))
}
