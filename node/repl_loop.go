package node

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/replica"
)

// replLoop is the event loop of the replication core: the only goroutine
// that touches the core. The ring loop feeds it views, the replica
// protocol handler feeds it messages, and the sends and transfers it
// starts report back through channels.
type replLoop struct {
	n     *Node
	core  *replica.Node
	start time.Time
	log   *slog.Logger

	inbox   chan replica.Message
	failed  chan replica.Message
	results chan transferResult
	calls   chan func(*replica.Node)
	viewCh  chan struct{}
	pokeCh  chan struct{}

	viewMu sync.Mutex
	pred   overlay.NodeRef
	succs  []overlay.NodeRef

	ctx    context.Context // cancelled at shutdown, ends sends and transfers
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type transferResult struct {
	id  uint64
	err error
}

// replConfig turns the node's configuration into the core's.
func (n *Node) replConfig() replica.Config {
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	rc := n.cfg.Repair
	ms := func(d time.Duration) overlay.Time { return overlay.Time(d.Milliseconds()) }
	return replica.Config{
		Self:            n.self,
		Zone:            n.cfg.Zone,
		Store:           n.store,
		DefaultReplicas: DefaultReplicas,
		NameKey:         dataset.NameKey,
		RecordTarget: func(_ string, _ uint64, rec []byte) (int, []string) {
			r, err := dataset.DecodeRecord(rec)
			if err != nil {
				return 0, nil
			}
			return r.Replicas, r.Zones
		},
		SyncInterval: ms(rc.SyncInterval),
		ViewSettle:   ms(rc.ViewSettle),
		ExtraGrace:   ms(rc.ExtraGrace),
		HandoffDelay: ms(cmp.Or(rc.HandoffDelay, DefaultHandoffDelay)),
		RPCTimeout:   ms(2 * n.cfg.RPCTimeout),
		Bandwidth:    rc.Bandwidth,
		MaxInflight:  rc.MaxInflight,
		Scope:        n.cfg.SuccListLen,
		Rand:         rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
	}
}

// startRepl creates the replication loop, registers its protocol and
// hooks it to the ring loop's views. It must run before the ring loop
// starts.
func (n *Node) startRepl() error {
	core, err := replica.New(n.replConfig())
	if err != nil {
		return fmt.Errorf("replication core: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &replLoop{
		n:       n,
		core:    core,
		start:   time.Now(),
		log:     n.log.With("component", "repair"),
		inbox:   make(chan replica.Message, 256),
		failed:  make(chan replica.Message, 256),
		results: make(chan transferResult, 64),
		calls:   make(chan func(*replica.Node)),
		viewCh:  make(chan struct{}, 1),
		pokeCh:  make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.repl = l
	n.ring.view = &viewHook{fn: l.setView}
	n.host.SetStreamHandler(ReplicaProtocol, n.handleReplica)
	go l.run()
	return nil
}

func (l *replLoop) now() overlay.Time { return overlay.Time(time.Since(l.start).Milliseconds()) }

// wall converts a core time to wall-clock time.
func (l *replLoop) wall(t overlay.Time) time.Time {
	return l.start.Add(time.Duration(t) * time.Millisecond)
}

// setView records the ring's latest view; the loop picks it up. It never
// blocks, so the ring loop can call it.
func (l *replLoop) setView(pred overlay.NodeRef, succs []overlay.NodeRef) {
	l.viewMu.Lock()
	l.pred, l.succs = pred, succs
	l.viewMu.Unlock()
	select {
	case l.viewCh <- struct{}{}:
	default:
	}
}

// poke asks the core for a round soon; it never blocks.
func (l *replLoop) poke() {
	select {
	case l.pokeCh <- struct{}{}:
	default:
	}
}

func (l *replLoop) run() {
	defer close(l.done)
	timer := time.NewTimer(time.Millisecond)
	defer timer.Stop()
	for {
		select {
		case m := <-l.inbox:
			l.core.Step(l.now(), m)
		case m := <-l.failed:
			l.core.SendFailed(l.now(), m)
		case r := <-l.results:
			l.core.TransferDone(l.now(), r.id, r.err)
		case fn := <-l.calls:
			fn(l.core)
		case <-l.viewCh:
			l.viewMu.Lock()
			pred, succs := l.pred, l.succs
			l.viewMu.Unlock()
			l.core.SetView(l.now(), pred, succs)
		case <-l.pokeCh:
			l.core.Poke(l.now())
		case <-timer.C:
			l.core.Tick(l.now())
		case <-l.stop:
			return
		}
		l.flush()
		rearm(timer, l.core.NextDeadline(), l.now())
	}
}

// flush starts what the core asked for, each on its own goroutine.
func (l *replLoop) flush() {
	rd := l.core.Ready()
	for _, m := range rd.Messages {
		l.wg.Add(1)
		go l.deliver(m)
	}
	for _, tr := range rd.Transfers {
		l.wg.Add(1)
		go l.transfer(tr)
	}
}

func (l *replLoop) deliver(m replica.Message) {
	defer l.wg.Done()
	if err := l.n.sendReplica(l.ctx, m); err != nil {
		l.log.Debug("replica send failed", "type", m.Type, "to", m.To.Addr, "err", err)
		select {
		case l.failed <- m:
		case <-l.done:
		}
	}
}

func (l *replLoop) transfer(tr replica.Transfer) {
	defer l.wg.Done()
	err := l.n.runTransfer(l.ctx, tr)
	if err != nil && !errors.Is(err, context.Canceled) {
		l.log.Debug("repair transfer failed", "pull", tr.Pull, "peer", tr.Peer.Addr, "cid", tr.CID, "err", err)
	}
	select {
	case l.results <- transferResult{id: tr.ID, err: err}:
	case <-l.done:
	}
}

// receive hands an inbound core message to the loop.
func (l *replLoop) receive(m replica.Message) {
	select {
	case l.inbox <- m:
	case <-l.done:
	}
}

// do runs fn on the loop's goroutine and waits for it.
func (l *replLoop) do(ctx context.Context, fn func(*replica.Node)) error {
	ch := make(chan struct{})
	select {
	case l.calls <- func(c *replica.Node) { fn(c); close(ch) }:
	case <-l.done:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ch
	return nil
}

// shutdown stops the loop and waits for its sends and transfers.
func (l *replLoop) shutdown() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.cancel()
		l.wg.Wait()
	})
}

// viewHook lets the ring loop report its view (predecessor and successor
// list) whenever it changes.
type viewHook struct {
	fn    func(pred overlay.NodeRef, succs []overlay.NodeRef)
	pred  overlay.NodeRef
	succs []overlay.NodeRef
	set   bool
}

// report passes the core's view on if it changed. It is safe on a nil hook.
func (h *viewHook) report(c *overlay.Node) {
	if h == nil || !c.Joined() {
		return
	}
	p, s := c.Predecessor(), c.Successors()
	if h.set && p == h.pred && slices.Equal(s, h.succs) {
		return
	}
	h.pred, h.succs, h.set = p, s, true
	h.fn(p, slices.Clone(s))
}
