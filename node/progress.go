package node

import (
	"context"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ProgressFunc receives how many bytes of a publish or fetch are done and
// how many there are in all. It is called at most every progressEvery and
// once at the end, from whichever goroutine finished the work.
type ProgressFunc func(done, total int64)

// progressEvery throttles progress reports.
const progressEvery = 100 * time.Millisecond

type progressKey struct{}

// WithProgress returns a context that makes Publish and Fetch report their
// progress to fn.
func WithProgress(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// progressMeter counts done bytes and reports them, throttled. A nil
// meter (no ProgressFunc in the context) ignores everything.
type progressMeter struct {
	fn    ProgressFunc
	total int64
	done  atomic.Int64

	mu   sync.Mutex
	last time.Time
}

// newProgressMeter returns nil when ctx asks for no progress; total is
// called only when it does (a publish walks its tree for it).
func newProgressMeter(ctx context.Context, total func() int64) *progressMeter {
	fn, _ := ctx.Value(progressKey{}).(ProgressFunc)
	if fn == nil {
		return nil
	}
	m := &progressMeter{fn: fn, total: total()}
	fn(0, m.total)
	return m
}

// add counts n more bytes done.
func (m *progressMeter) add(n int64) {
	if m == nil {
		return
	}
	done := m.done.Add(n)
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.last) < progressEvery {
		return
	}
	m.last = time.Now()
	m.fn(done, m.total)
}

// finish reports the final count.
func (m *progressMeter) finish() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fn(m.done.Load(), m.total)
}

// treeSize adds up the sizes of the regular files at or under path; a
// publish reports its progress against it.
func treeSize(path string) int64 {
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
