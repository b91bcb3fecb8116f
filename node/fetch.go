package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// fetchWorkers bounds how many blocks a fetch requests at once, and
// fetchWindowBytes how many bytes those may add up to: memory stays
// bounded whatever the dataset's size.
const (
	fetchWorkers     = 1024
	fetchWindowBytes = 48 << 20
)

// fetchRounds is how many times a fetch walks a block's holders before it
// gives up on transient errors.
const fetchRounds = 3

// FetchResult describes a fetched version.
type FetchResult struct {
	Name    string  `json:"name"`
	Version uint64  `json:"version"`
	CID     string  `json:"cid"`
	Dest    string  `json:"dest"`
	Bytes   int64   `json:"bytes"`
	Files   int     `json:"files"`
	Seconds float64 `json:"seconds"`
	// FirstByteSeconds is the time from the request to the first block.
	FirstByteSeconds float64 `json:"first_byte_seconds"`
	// Sources lists the peers that served blocks, most bytes first.
	Sources []SourceInfo `json:"sources"`
}

// Fetch writes version of name (its newest when version is 0) under dest.
// Every block is verified against its CID; without force nothing existing
// is overwritten; an error leaves nothing half-written at dest.
func (n *Node) Fetch(ctx context.Context, name string, version uint64, dest string, force bool) (*FetchResult, error) {
	start := time.Now()
	if err := dataset.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	rec, err := n.getRecord(ctx, name, version)
	if err != nil {
		return nil, err
	}
	stats := newSourceStats()
	mb, err := n.getBlock(ctx, rec.Manifest, 0, stats)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", name, rec.Version, err)
	}
	m, err := dataset.DecodeManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", name, rec.Version, err)
	}
	sizes := make(map[cid.Cid]int64)
	for _, e := range m.Entries {
		for _, ch := range e.Chunks {
			sizes[ch.CID] = ch.Size
		}
	}
	progress := newProgressMeter(ctx, m.TotalSize)
	// Blocks that arrive in buffers of their own go back to the pool once
	// written; owned remembers which those are.
	var owned sync.Map // *byte (a block's first byte) → struct{}
	recycle := func(data []byte) {
		if len(data) > 0 {
			if _, ok := owned.LoadAndDelete(&data[0]); ok {
				putBuf(data)
			}
		}
	}
	opts := dataset.MaterializeOptions{Force: force, Workers: fetchWorkers, MaxBytes: fetchWindowBytes, Verified: true, ResumeKey: rec.Manifest.String(), Recycle: recycle}
	err = dataset.Materialize(m, dest, opts, func(c cid.Cid) ([]byte, error) {
		r, err := n.getBlockOwned(ctx, c, sizes[c], stats)
		if err != nil {
			return nil, err
		}
		if r.own && len(r.data) > 0 {
			owned.Store(&r.data[0], struct{}{})
		}
		progress.add(int64(len(r.data)))
		return r.data, nil
	})
	progress.finish()
	if errors.Is(err, dataset.ErrDestExists) {
		return nil, fmt.Errorf("%w: %w (use --force to overwrite)", ErrBadRequest, err)
	}
	if err != nil {
		return nil, err
	}
	return &FetchResult{
		Name: name, Version: rec.Version, CID: rec.Manifest.String(), Dest: dest,
		Bytes: m.TotalSize(), Files: m.FileCount(), Seconds: time.Since(start).Seconds(),
		FirstByteSeconds: firstByte(start, stats), Sources: stats.list(),
	}, nil
}

// getBlock returns the verified bytes of c (size bytes, 0 when unknown)
// from this node's store or from the best live holder among the successors
// of its key.
func (n *Node) getBlock(ctx context.Context, c cid.Cid, size int64, stats *sourceStats) ([]byte, error) {
	r, err := n.getBlockOwned(ctx, c, size, stats)
	return r.data, err
}

// getBlockOwned is getBlock that also says whether the bytes are in a
// buffer of their own (pipeResult.own), for a caller that recycles it.
func (n *Node) getBlockOwned(ctx context.Context, c cid.Cid, size int64, stats *sourceStats) (pipeResult, error) {
	if data, pooled, err := n.store.getBlock(c); err == nil {
		stats.add(n.host.ID(), len(data)) // served by this node's own store
		return pipeResult{data: data, own: pooled}, nil
	}
	// A holder that answers "not found" or sends a bad block is done with;
	// after a round of transient failures (a reset stream, a timeout) the
	// others are asked again, with fresh ring information.
	done := make(map[peer.ID]bool)
	var errs []error
	for round := range fetchRounds {
		if round > 0 {
			select {
			case <-ctx.Done():
				return pipeResult{}, ctx.Err()
			case <-time.After(time.Duration(round) * 200 * time.Millisecond):
			}
		}
		cands, err := n.successorsOf(ctx, dataset.KeyOf(c))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var holders []peer.ID
		for _, ref := range cands {
			p, err := decodePeer(ref.Addr)
			if err == nil && p != n.host.ID() && !done[p] {
				holders = append(holders, p)
			}
		}
		if len(holders) == 0 {
			break
		}
		n.measureRTTs(ctx, holders)
		data, err := n.fetchFromHolders(ctx, holders, c, size, stats)
		if err == nil {
			return data, nil
		}
		if ctx.Err() != nil {
			return pipeResult{}, ctx.Err()
		}
		errs = append(errs, err)
		for _, p := range holders {
			if n.isDead(refOf(p)) {
				done[p] = true
			}
		}
		if !transient(err) {
			for _, p := range holders {
				done[p] = true
			}
		}
	}
	if len(errs) == 0 {
		return pipeResult{}, fmt.Errorf("block %s: %w on any live replica", c, replica.ErrNotFound)
	}
	return pipeResult{}, fmt.Errorf("block %s: no replica had a good copy: %w", c, errors.Join(errs...))
}

// transient reports whether err may go away when asked again: anything but
// "not found" and a bad block.
func transient(err error) bool {
	return !errors.Is(err, replica.ErrNotFound) && !errors.Is(err, errBadBlock)
}

func firstByte(start time.Time, s *sourceStats) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first.IsZero() {
		return 0
	}
	return s.first.Sub(start).Seconds()
}
