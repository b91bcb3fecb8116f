package node

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// errStopped is returned by ring calls after the node has stopped.
var errStopped = errors.New("node is stopping")

// ringSender delivers one ring message to its destination. It runs outside
// the event loop and reports failures back through the loop.
type ringSender func(ctx context.Context, m overlay.Message) error

// ringLoop is the one event loop of a node: it owns the overlay core and is
// the only goroutine that touches it. Everything else talks to it through
// channels.
type ringLoop struct {
	core    *overlay.Node
	start   time.Time
	send    ringSender
	timeout time.Duration
	log     *slog.Logger

	inbox   chan overlay.Message
	failed  chan overlay.Message
	lookups chan lookupReq
	calls   chan func(*overlay.Node)
	stop    chan struct{}
	done    chan struct{}

	pending map[overlay.LookupID]chan overlay.LookupResult
	view    *viewHook // reports view changes to the replication loop
	aborted atomic.Bool
}

type lookupReq struct {
	key overlay.ID
	ch  chan overlay.LookupResult
}

func newRingLoop(self overlay.NodeRef, cfg Config, send ringSender) *ringLoop {
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	core := overlay.NewNode(overlay.Config{
		Self:              self,
		SuccListLen:       cfg.SuccListLen,
		StabilizeInterval: overlay.Time(cfg.StabilizeInterval.Milliseconds()),
		StabilizeJitter:   overlay.Time(cfg.StabilizeInterval.Milliseconds() / 4),
		RPCTimeout:        overlay.Time(cfg.RPCTimeout.Milliseconds()),
		Rand:              rng,
	})
	return &ringLoop{
		core:    core,
		start:   time.Now(),
		send:    send,
		timeout: cfg.RPCTimeout,
		log:     cfg.Logger,
		inbox:   make(chan overlay.Message, 256),
		failed:  make(chan overlay.Message, 256),
		lookups: make(chan lookupReq),
		calls:   make(chan func(*overlay.Node)),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		pending: make(map[overlay.LookupID]chan overlay.LookupResult),
	}
}

func (l *ringLoop) now() overlay.Time { return overlay.Time(time.Since(l.start).Milliseconds()) }

// run is the event loop. It returns after stop is closed and the node has
// said goodbye to its neighbours.
func (l *ringLoop) run() {
	defer close(l.done)
	timer := time.NewTimer(time.Millisecond)
	defer timer.Stop()
	for {
		select {
		case m := <-l.inbox:
			l.core.Step(l.now(), m)
		case m := <-l.failed:
			l.core.SendFailed(l.now(), m)
		case req := <-l.lookups:
			id := l.core.Lookup(l.now(), req.key)
			l.pending[id] = req.ch
		case fn := <-l.calls:
			fn(l.core)
		case <-timer.C:
			l.core.Tick(l.now())
		case <-l.stop:
			l.leave()
			return
		}
		l.flush(false)
		l.view.report(l.core)
		rearm(timer, l.core.NextDeadline(), l.now())
	}
}

// flush carries out what the core asked for. Messages go out on their own
// goroutines so that a slow dial never stalls the loop; with sync set they
// are sent before flush returns (used when leaving).
func (l *ringLoop) flush(sync bool) {
	rd := l.core.Ready()
	for _, res := range rd.Lookups {
		if ch, ok := l.pending[res.ID]; ok {
			ch <- res // buffered, never blocks
			delete(l.pending, res.ID)
		}
	}
	if sync {
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		for _, m := range rd.Messages {
			if err := l.send(ctx, m); err != nil {
				l.log.Debug("ring send on leave failed", "to", m.To.Addr, "err", err)
			}
		}
		return
	}
	for _, m := range rd.Messages {
		go l.deliver(m)
	}
}

func (l *ringLoop) deliver(m overlay.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.send(ctx, m); err != nil {
		l.log.Debug("ring send failed", "type", m.Type, "to", m.To.Addr, "err", err)
		select {
		case l.failed <- m:
		case <-l.done:
		}
	}
}

func (l *ringLoop) leave() {
	if !l.aborted.Load() {
		l.core.Leave(l.now())
		l.flush(true)
	}
	for id, ch := range l.pending {
		ch <- overlay.LookupResult{ID: id, Err: errStopped}
	}
}

// receive hands an inbound message to the loop.
func (l *ringLoop) receive(m overlay.Message) {
	select {
	case l.inbox <- m:
	case <-l.done:
	}
}

// lookup runs one iterative lookup and returns the key's successor list.
func (l *ringLoop) lookup(ctx context.Context, key overlay.ID) (overlay.LookupResult, error) {
	ch := make(chan overlay.LookupResult, 1)
	select {
	case l.lookups <- lookupReq{key: key, ch: ch}:
	case <-l.done:
		return overlay.LookupResult{}, errStopped
	case <-ctx.Done():
		return overlay.LookupResult{}, ctx.Err()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return res, fmt.Errorf("ring lookup of %s: %w", key, res.Err)
		}
		return res, nil
	case <-ctx.Done():
		return overlay.LookupResult{}, ctx.Err()
	}
}

// do runs fn on the loop's goroutine with the core and waits for it.
func (l *ringLoop) do(ctx context.Context, fn func(*overlay.Node)) error {
	doneCh := make(chan struct{})
	wrapped := func(c *overlay.Node) { fn(c); close(doneCh) }
	select {
	case l.calls <- wrapped:
	case <-l.done:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-doneCh
	return nil
}

// shutdown leaves the ring and stops the loop.
func (l *ringLoop) shutdown() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// abort stops the loop without saying goodbye (a crash).
func (l *ringLoop) abort() {
	l.aborted.Store(true)
	l.shutdown()
}
