package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/chorus-data/chorus/node"
)

// progressBar returns a ProgressFunc drawing a bar with bytes, rate and ETA
// on stderr when stderr is a terminal and JSON was not asked for, and nil
// (no progress traffic at all) otherwise. done must be called at the end.
func progressBar(stderr io.Writer, asJSON bool, what string) (fn node.ProgressFunc, done func()) {
	f, ok := stderr.(*os.File)
	if asJSON || !ok || !isTerminal(f) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	fn = func(d, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set64(d)
	}
	return fn, func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
}
