package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/placement"
)

// ErrUnknownName is returned when no reachable replica holds a name.
var ErrUnknownName = errors.New("unknown dataset name")

// ErrUnknownVersion is returned when a name exists but not at the version
// asked for.
var ErrUnknownVersion = errors.New("unknown version")

// ErrVersionTaken is returned when another publisher won the race for the
// version number this publish wanted.
var ErrVersionTaken = errors.New("version was taken by a concurrent publish; run publish again")

// nameCall runs a name request on a peer, or on this node directly.
func (n *Node) nameCall(ctx context.Context, to peer.ID, req *rpcRequest) (*rpcResponse, error) {
	if to == n.host.ID() {
		return n.serveName(to, req), nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RPCTimeout*2)
	defer cancel()
	return n.call(ctx, to, NameProtocol, req, maxNameFrame)
}

// successorsOf returns the live successor list of key: its replica set
// first, then the nodes after it.
func (n *Node) successorsOf(ctx context.Context, key overlay.ID) ([]overlay.NodeRef, error) {
	if succs, ok := n.ranges.get(key); ok {
		return placement.Candidates(succs, n.isDead), nil
	}
	// Bound the lookups in flight: a publish of many small files asks for
	// thousands of keys at once, and after the first few answers most of
	// them are in the range cache.
	if err := n.lookupSlots.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer n.lookupSlots.Release(1)
	if succs, ok := n.ranges.get(key); ok {
		return placement.Candidates(succs, n.isDead), nil
	}
	res, err := n.ring.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	n.ranges.put(key, res.Successors)
	return placement.Candidates(res.Successors, n.isDead), nil
}

// maxLookups bounds the ring lookups one node runs at once for its own
// reads and writes.
const maxLookups = 16

// rangeCacheTTL is how long a lookup's answer is reused: a few stabilize
// rounds, after which the ring may have changed.
func rangeCacheTTL(stabilize time.Duration) time.Duration { return 3 * stabilize }

// versionHolders asks every live successor of the name's key which versions
// it holds and returns, for each version, the peers that hold it.
func (n *Node) versionHolders(ctx context.Context, name string) (map[uint64][]peer.ID, error) {
	cands, err := n.successorsOf(ctx, dataset.NameKey(name))
	if err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		holders = make(map[uint64][]peer.ID)
		answers int
	)
	for _, c := range cands {
		p, err := decodePeer(c.Addr)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := n.nameCall(ctx, p, &rpcRequest{Op: opRecordVersions, Name: name})
			if err != nil || resp.Status != statusOK {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			answers++
			for _, v := range resp.Versions {
				holders[v] = append(holders[v], p)
			}
		}()
	}
	wg.Wait()
	if answers == 0 {
		return nil, fmt.Errorf("no replica of name %q answered", name)
	}
	return holders, nil
}

// getRecord returns the version record of name at version, or at its newest
// version when version is 0. Records are checked to be what was asked for.
func (n *Node) getRecord(ctx context.Context, name string, version uint64) (*dataset.VersionRecord, error) {
	holders, err := n.versionHolders(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(holders) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownName, name)
	}
	if version == 0 {
		version = newest(holders)
	}
	ps, ok := holders[version]
	if !ok {
		return nil, fmt.Errorf("%w: %s@%d (newest is %d)", ErrUnknownVersion, name, version, newest(holders))
	}
	var errs []error
	for _, p := range ps {
		resp, err := n.nameCall(ctx, p, &rpcRequest{Op: opRecordGet, Name: name, Version: version})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Status != statusOK {
			errs = append(errs, fmt.Errorf("%s: %s", p, resp.Err))
			continue
		}
		rec, err := dataset.DecodeRecord(resp.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("record from %s: %w", p, err))
			continue
		}
		if rec.Name != name || rec.Version != version {
			errs = append(errs, fmt.Errorf("%s sent %s@%d for %s@%d", p, rec.Name, rec.Version, name, version))
			continue
		}
		return rec, nil
	}
	return nil, fmt.Errorf("read %s@%d: %w", name, version, errors.Join(errs...))
}

func newest(h map[uint64][]peer.ID) uint64 {
	var v uint64
	for k := range h {
		v = max(v, k)
	}
	return v
}

// listVersions returns every record of name, ascending by version.
func (n *Node) listVersions(ctx context.Context, name string) ([]*dataset.VersionRecord, error) {
	holders, err := n.versionHolders(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(holders) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownName, name)
	}
	vs := make([]uint64, 0, len(holders))
	for v := range holders {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	out := make([]*dataset.VersionRecord, 0, len(vs))
	for _, v := range vs {
		rec, err := n.getRecord(ctx, name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// putRecord writes a new version record to the name's replica set. Each
// replica refuses a second, different record at the same version, so of two
// racing publishers at most one reaches a majority.
func (n *Node) putRecord(ctx context.Context, rec *dataset.VersionRecord, r int) error {
	b, err := rec.Encode()
	if err != nil {
		return err
	}
	cands, err := n.successorsOf(ctx, dataset.NameKey(rec.Name))
	if err != nil {
		return err
	}
	set := cands[:min(r, len(cands))]
	need := len(set)/2 + 1
	type result struct {
		ok, conflict bool
		err          error
	}
	results := make(chan result, len(set))
	for _, c := range set {
		p, err := decodePeer(c.Addr)
		if err != nil {
			results <- result{err: err}
			continue
		}
		go func() {
			resp, err := n.nameCall(ctx, p, &rpcRequest{Op: opRecordPut, Name: rec.Name, Version: rec.Version, Data: b})
			switch {
			case err != nil:
				results <- result{err: err}
			case resp.Status == statusOK:
				results <- result{ok: true}
			case resp.Status == statusConflict:
				results <- result{conflict: true}
			default:
				results <- result{err: fmt.Errorf("%s: %s", p, resp.Err)}
			}
		}()
	}
	var oks, conflicts int
	var errs []error
	for range set {
		res := <-results
		switch {
		case res.ok:
			oks++
		case res.conflict:
			conflicts++
		default:
			errs = append(errs, res.err)
		}
	}
	if oks >= need {
		return nil
	}
	if conflicts > 0 {
		return fmt.Errorf("%s@%d: %w", rec.Name, rec.Version, ErrVersionTaken)
	}
	return fmt.Errorf("record %s@%d stored on %d of %d replicas, need %d: %w", rec.Name, rec.Version, oks, len(set), need, errors.Join(errs...))
}
