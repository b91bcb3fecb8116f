// Package node is the one place where Chorus meets the outside world: the
// libp2p host, kad-dht, the ring, block and name protocols, the Badger
// block store, the event loop that drives the pure overlay core, and the
// HTTP API. Everything here is a shell around the pure packages overlay,
// placement and replica.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	routedhost "github.com/libp2p/go-libp2p/p2p/host/routed"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sync/semaphore"

	"github.com/chorus-data/chorus/overlay"
)

// Node is one running Chorus peer.
type Node struct {
	cfg   Config
	log   *slog.Logger
	host  host.Host
	dht   *dht.IpfsDHT
	store *BadgerStore
	ring  *ringLoop
	repl  *replLoop
	self  overlay.NodeRef

	apiLn  net.Listener
	apiSrv *http.Server

	liveMu sync.Mutex
	dead   map[peer.ID]time.Time

	pipesMu sync.Mutex
	pipes   map[peer.ID]*peerPipe
	ranges  *rangeCache
	pinging map[peer.ID]bool

	lookupSlots *semaphore.Weighted
	// sampleSlots bounds the ring samples served at once: each costs up
	// to 18 lookups and anyone may ask.
	sampleSlots *semaphore.Weighted

	closeOnce sync.Once
	closeErr  error
}

// deadFor is how long a peer that failed a request is skipped when placing
// or reading data, unless it is heard from sooner.
const deadFor = 30 * time.Second

// Start opens the store, starts the libp2p host and kad-dht, joins the ring
// (or creates one when cfg.Bootstrap is empty) and serves the API. It
// returns once the node is a ring member.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if cfg.DataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger,
		dead:    make(map[peer.ID]time.Time),
		pipes:   make(map[peer.ID]*peerPipe),
		ranges:  newRangeCache(rangeCacheTTL(cfg.StabilizeInterval)),
		pinging: make(map[peer.ID]bool),

		lookupSlots: semaphore.NewWeighted(maxLookups),
		sampleSlots: semaphore.NewWeighted(maxSamples),
	}
	ok := false
	defer func() {
		if !ok {
			_ = n.Close()
		}
	}()

	bootstrap, err := parseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	priv, err := chooseIdentity(ctx, cfg, bootstrap, n.log)
	if err != nil {
		return nil, err
	}
	n.store, err = OpenBadgerStore(storeDir(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	basic, err := NewHost(ctx, HostConfig{PrivKey: priv, ListenAddrs: cfg.ListenAddrs, AnnounceAddrs: cfg.AnnounceAddrs})
	if err != nil {
		return nil, err
	}
	n.host = basic
	n.dht, err = NewDHT(ctx, basic, bootstrap, cfg.Logger)
	if err != nil {
		return nil, err
	}
	n.host = routedhost.Wrap(basic, n.dht)
	n.self = refOf(basic.ID())

	n.ring = newRingLoop(n.self, cfg, n.sendRing)
	n.host.SetStreamHandler(RingProtocol, n.handleRing)
	n.host.SetStreamHandler(BlockProtocol, n.handleBlock)
	n.host.SetStreamHandler(BlockStreamProtocol, n.handleBlockStream)
	n.host.SetStreamHandler(NameProtocol, n.handleName)
	if err := n.startRepl(); err != nil {
		return nil, err
	}
	go n.ring.run()

	if err := n.join(ctx, bootstrap); err != nil {
		return nil, err
	}
	if cfg.APIAddr != "" {
		if err := n.serveAPI(cfg.APIAddr); err != nil {
			return nil, err
		}
	}
	ok = true
	n.log.Info("node started", "id", n.host.ID(), "ring_id", n.self.ID.String(), "addrs", n.Addrs())
	return n, nil
}

func parseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap address %q: %w", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, fmt.Errorf("bootstrap address %q must end in /p2p/PEER_ID: %w", s, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}

// join creates a ring or joins one through the first bootstrap peer that
// answers, and waits until the core has a successor.
func (n *Node) join(ctx context.Context, bootstrap []peer.AddrInfo) error {
	if len(bootstrap) == 0 {
		return n.ring.do(ctx, func(c *overlay.Node) { c.Create(n.ring.now()) })
	}
	var errs []error
	for _, ai := range bootstrap {
		if ai.ID == n.host.ID() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, n.cfg.RPCTimeout*2)
		err := n.host.Connect(cctx, ai)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("connect to %s: %w", ai.ID, err))
			continue
		}
		via := refOf(ai.ID)
		// A join lookup can fail while the member is still learning the
		// ring (or a message is lost); try a few times before giving up.
		for range joinAttempts {
			joined, err := n.tryJoin(ctx, via)
			if err != nil {
				return err
			}
			if joined {
				return nil
			}
		}
		errs = append(errs, fmt.Errorf("join through %s: no answer after %d attempts", ai.ID, joinAttempts))
	}
	if len(errs) == 0 {
		return errors.New("no bootstrap peer other than this node itself")
	}
	return fmt.Errorf("could not join the ring: %w", errors.Join(errs...))
}

// joinAttempts is how many join lookups a node tries per bootstrap peer.
const joinAttempts = 3

// tryJoin starts one join through via and waits (up to five RPC timeouts)
// for the core to have a successor.
func (n *Node) tryJoin(ctx context.Context, via overlay.NodeRef) (bool, error) {
	if err := n.ring.do(ctx, func(c *overlay.Node) { c.Join(n.ring.now(), via) }); err != nil {
		return false, err
	}
	deadline := time.Now().Add(n.cfg.RPCTimeout * 5)
	for time.Now().Before(deadline) {
		joined := false
		if err := n.ring.do(ctx, func(c *overlay.Node) { joined = c.Joined() }); err != nil {
			return false, err
		}
		if joined {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Ref returns the node's ring reference.
func (n *Node) Ref() overlay.NodeRef { return n.self }

// Addrs returns the node's full multiaddrs, each ending in /p2p/ID.
func (n *Node) Addrs() []string {
	ai := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	full, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// APIAddr returns the address the API listens on, or "" when it is off.
func (n *Node) APIAddr() string {
	if n.apiLn == nil {
		return ""
	}
	return n.apiLn.Addr().String()
}

// Store returns the node's block store.
func (n *Node) Store() *BadgerStore { return n.store }

// Close leaves the ring cleanly (telling the neighbours), stops the API,
// the DHT and the host, and closes the store. It is safe to call twice.
func (n *Node) Close() error { return n.stop(true) }

// stop shuts the node down. Gracefully, it drains the API and says goodbye
// to its ring neighbours before the host goes; otherwise (a crash, see
// Kill) the host goes first so that nothing more leaves the node.
func (n *Node) stop(graceful bool) error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.apiSrv != nil {
			if graceful {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				errs = append(errs, n.apiSrv.Shutdown(ctx))
				cancel()
			} else {
				errs = append(errs, n.apiSrv.Close())
			}
		}
		if !graceful && n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.repl != nil {
			n.repl.shutdown()
		}
		if n.ring != nil {
			if graceful {
				n.ring.shutdown()
			} else {
				n.ring.abort()
			}
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		if graceful && n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) markDead(p peer.ID) {
	n.liveMu.Lock()
	n.dead[p] = time.Now()
	n.liveMu.Unlock()
	n.ranges.forget(refOf(p).ID)
}

func (n *Node) markAlive(p peer.ID) {
	n.liveMu.Lock()
	delete(n.dead, p)
	n.liveMu.Unlock()
}

// isDead reports whether r failed a request recently.
func (n *Node) isDead(r overlay.NodeRef) bool {
	p, err := decodePeer(r.Addr)
	if err != nil {
		return true
	}
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	t, ok := n.dead[p]
	if !ok {
		return false
	}
	if time.Since(t) > deadFor {
		delete(n.dead, p)
		return false
	}
	return true
}

func deadlineIn(d time.Duration) time.Time { return time.Now().Add(d) }
