package simulations

import (
	"fmt"
	"io"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// progressLine rewrites one status line on a terminal: virtual time reached,
// population, events and events per wall-clock second. It reads the wall
// clock, which never feeds back into the simulation.
type progressLine struct {
	w          io.Writer
	start      time.Time
	last       time.Time
	lastEvents uint64
}

func newProgressLine(w io.Writer, start time.Time) *progressLine {
	return &progressLine{w: w, start: start, last: start}
}

// update prints a status line if a second has passed since the last one.
func (p *progressLine) update(now overlay.Time, phase string, live int, events uint64) {
	t := time.Now()
	dt := t.Sub(p.last).Seconds()
	if dt < 1 {
		return
	}
	rate := float64(events-p.lastEvents) / dt
	p.last, p.lastEvents = t, events
	fmt.Fprintf(p.w, "\r%-6s virtual %8.1fs  live %7d  events %11d  %6.2fM ev/s  wall %5.0fs ",
		phase, float64(now)/1000, live, events, rate/1e6, t.Sub(p.start).Seconds())
}

// finish prints the final status line and ends it.
func (p *progressLine) finish(now overlay.Time, live int, events uint64) {
	wall := time.Since(p.start).Seconds()
	rate := 0.0
	if wall > 0 {
		rate = float64(events) / wall
	}
	fmt.Fprintf(p.w, "\rvirtual %8.1fs  live %7d  events %11d  %6.2fM ev/s  wall %5.1fs\n",
		float64(now)/1000, live, events, rate/1e6, wall)
}
