package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// fetchWorkers is how many blocks a fetch requests at once.
const fetchWorkers = 8

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
	mb, err := n.getBlock(ctx, rec.Manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", name, rec.Version, err)
	}
	m, err := dataset.DecodeManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", name, rec.Version, err)
	}
	err = dataset.Materialize(m, dest, dataset.MaterializeOptions{Force: force, Workers: fetchWorkers}, func(c cid.Cid) ([]byte, error) {
		return n.getBlock(ctx, c)
	})
	if errors.Is(err, dataset.ErrDestExists) {
		return nil, fmt.Errorf("%w: %w (use --force to overwrite)", ErrBadRequest, err)
	}
	if err != nil {
		return nil, err
	}
	var files int
	var bytes int64
	for _, e := range m.Entries {
		if e.Type == dataset.File {
			files++
			bytes += e.Size
		}
	}
	return &FetchResult{
		Name: name, Version: rec.Version, CID: rec.Manifest.String(), Dest: dest,
		Bytes: bytes, Files: files, Seconds: time.Since(start).Seconds(),
	}, nil
}

// getBlock returns the verified bytes of c from this node's store or from
// the first live successor of its key that holds a correct copy.
func (n *Node) getBlock(ctx context.Context, c cid.Cid) ([]byte, error) {
	if data, err := n.store.GetBlock(c); err == nil {
		return data, nil
	}
	cands, err := n.successorsOf(ctx, dataset.KeyOf(c))
	if err != nil {
		return nil, fmt.Errorf("locate block %s: %w", c, err)
	}
	// A holder that answers "not found" or sends a bad block is done with;
	// one that fails in transit (a reset stream, a timeout) is asked again
	// in a later round.
	done := make(map[peer.ID]bool)
	var errs []error
	for round := range fetchRounds {
		if round > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(round) * 200 * time.Millisecond):
			}
		}
		for _, ref := range cands {
			p, err := peer.Decode(ref.Addr)
			if err != nil || p == n.host.ID() || done[p] {
				continue
			}
			data, err := n.getBlockFrom(ctx, p, c)
			if err == nil {
				return data, nil
			}
			if errors.Is(err, replica.ErrNotFound) || errors.Is(err, errBadBlock) {
				done[p] = true
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("block %s: %w on any live replica", c, replica.ErrNotFound)
	}
	return nil, fmt.Errorf("block %s: no replica had a good copy: %w", c, errors.Join(errs...))
}
