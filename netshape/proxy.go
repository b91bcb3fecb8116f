// Package netshape is a small shaping TCP proxy for tests, benchmarks and
// demos on one machine: it adds a one-way delay and a bandwidth limit to
// every connection through it, in each direction. It stands in for the
// netem qdisc, which this project cannot rely on, and for WAN links.
package netshape

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Link describes the shaping of one direction of every connection.
type Link struct {
	// Delay is added to every byte's trip (one way).
	Delay time.Duration
	// Rate limits the bytes per second; 0 means unlimited.
	Rate int64
}

// Proxy accepts TCP connections and relays them to a target address
// through shaped links.
type Proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	link   Link
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a proxy on addr (e.g. "127.0.0.1:0") relaying to target.
// The target may be set later with SetTarget, before the first connection.
func Listen(addr, target string, link Link) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netshape: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, link: link, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's listen address.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// SetTarget changes where new connections are relayed to.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// SetLink changes the shaping of data relayed from now on.
func (p *Proxy) SetLink(l Link) {
	p.mu.Lock()
	p.link = l
	p.mu.Unlock()
}

func (p *Proxy) currentLink() Link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.link
}

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		out, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in) || !p.track(out) {
			in.Close()
			out.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(in, out)
	}
}

// serve relays both directions of a connection and closes it when both are
// done or one fails.
func (p *Proxy) serve(in, out net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	defer p.untrack(out)
	errs := make(chan error, 2)
	go func() { errs <- p.relay(in, out) }()
	go func() { errs <- p.relay(out, in) }()
	for range 2 {
		if err := <-errs; err != nil {
			return // the deferred closes end the other direction too
		}
	}
}

// burst is how far behind its schedule a paced link may fall and still
// catch up.
const burst = 20 * time.Millisecond

// minSleep is the shortest wait the proxy sleeps for.
const minSleep = 200 * time.Microsecond

// chunk is data read at a time, waiting out its delay.
type chunk struct {
	data []byte
	due  time.Time
}

// relay copies src to dst through the link: each read is released after
// the delay and paced at the rate. At the end of src it half-closes dst
// and returns nil; a failed write returns its error.
func (p *Proxy) relay(src, dst net.Conn) error {
	queue := make(chan chunk, 128)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 256<<10)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{data: buf[:n], due: time.Now().Add(p.currentLink().Delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	var next time.Time // when the link is free again
	for c := range queue {
		// Sleeping costs tens of microseconds at best; skip sleeps too
		// short to matter so that a short delay does not cap throughput.
		if d := time.Until(c.due); d > minSleep {
			time.Sleep(d)
		}
		if rate := p.currentLink().Rate; rate > 0 {
			// Pace against a virtual clock; time lost to oversleeping is
			// made up (within a short burst) so the average holds.
			if earliest := time.Now().Add(-burst); next.Before(earliest) {
				next = earliest
			}
			next = next.Add(time.Duration(float64(len(c.data)) / float64(rate) * float64(time.Second)))
			if d := time.Until(next); d > minSleep {
				time.Sleep(d)
			}
		}
		if _, err := dst.Write(c.data); err != nil {
			// Unblock the reader, which may be waiting to queue.
			src.Close()
			for range queue {
			}
			return err
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	return nil
}
