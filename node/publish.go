package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/semaphore"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/overlay"
)

// ErrBadRequest marks errors caused by the caller's input.
var ErrBadRequest = errors.New("bad request")

// publishWindowBytes bounds the block bytes a publish has in flight, and
// blockOverhead is what each block counts for beyond its bytes (so that
// empty and tiny blocks are bounded too).
const (
	publishWindowBytes = 64 << 20
	blockOverhead      = 4 << 10
)

// PublishResult describes a stored version.
type PublishResult struct {
	Name     string  `json:"name"`
	Version  uint64  `json:"version"`
	CID      string  `json:"cid"`
	Parent   uint64  `json:"parent"`
	Bytes    int64   `json:"bytes"`
	Files    int     `json:"files"`
	Dirs     int     `json:"dirs"`
	Blocks   int     `json:"blocks"`
	Replicas int     `json:"replicas"`
	Seconds  float64 `json:"seconds"`
}

// MaxReplicas is the largest replication factor a dataset may ask for: the
// key's successor and the successor list behind it.
func (n *Node) MaxReplicas() int { return n.cfg.SuccListLen + 1 }

// Publish stores the file or directory tree at path as the next version of
// name with r replicas per block. Every block and the manifest are durable
// on their replica sets before the name's head moves, so a reader never
// sees a version with missing blocks.
func (n *Node) Publish(ctx context.Context, name, path string, r int) (*PublishResult, error) {
	return n.PublishZones(ctx, name, path, r, nil)
}

// PublishZones is Publish for a dataset whose copies must also cover
// zones: the version record and every block's claim carry them, and
// replica maintenance places a copy in each zone (see RepairConfig).
func (n *Node) PublishZones(ctx context.Context, name, path string, r int, zones []string) (*PublishResult, error) {
	start := time.Now()
	if err := dataset.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if r == 0 {
		r = DefaultReplicas
	}
	if r < 1 || r > n.MaxReplicas() {
		return nil, fmt.Errorf("%w: --replicas must be between 1 and %d, got %d", ErrBadRequest, n.MaxReplicas(), r)
	}
	zones, err := normalizeZones(zones)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	holders, err := n.versionHolders(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read head of %q: %w", name, err)
	}
	head := newest(holders)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Blocks are hashed as they are read and stored concurrently, up to
	// publishWindowBytes in flight, so memory stays bounded and small files
	// queue up enough to be batched per replica.
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		window   = semaphore.NewWeighted(publishWindowBytes)
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	blocks := 0
	progress := newProgressMeter(ctx, func() int64 { return treeSize(path) })
	m, stats, buildErr := dataset.Build(path, dataset.DefaultParams(), func(c cid.Cid, data []byte) error {
		w := min(int64(len(data))+blockOverhead, publishWindowBytes)
		if err := window.Acquire(ctx, w); err != nil {
			return err
		}
		blocks++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer window.Release(w)
			if err := n.storeBlock(ctx, c, data, r); err != nil {
				fail(err)
				return
			}
			progress.add(int64(len(data)))
		}()
		return nil
	})
	wg.Wait()
	progress.finish()
	if firstErr != nil {
		return nil, firstErr
	}
	if buildErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, buildErr)
	}

	mb, err := m.Encode()
	if err != nil {
		return nil, err
	}
	mc := dataset.BlockCID(mb)
	if err := n.storeBlock(ctx, mc, mb, r); err != nil {
		return nil, fmt.Errorf("store manifest: %w", err)
	}
	rec := &dataset.VersionRecord{
		Name:      name,
		Version:   head + 1,
		Manifest:  mc,
		Parent:    head,
		Time:      time.Now().UnixMilli(),
		Replicas:  r,
		Zones:     zones,
		Publisher: n.host.ID().String(),
		Size:      stats.Bytes,
		Files:     stats.Files,
	}
	if err := n.putRecord(ctx, rec, r); err != nil {
		return nil, err
	}
	n.claimVersion(ctx, rec, append([]cid.Cid{mc}, m.Blocks()...))
	return &PublishResult{
		Name: name, Version: rec.Version, CID: mc.String(), Parent: head,
		Bytes: stats.Bytes, Files: stats.Files, Dirs: stats.Dirs, Blocks: blocks + 1,
		Replicas: r, Seconds: time.Since(start).Seconds(),
	}, nil
}

// storeBlock stores a block on r live successors of its key and returns
// once each has acknowledged it durable. A successor that fails is replaced
// by the next one in the successor list.
func (n *Node) storeBlock(ctx context.Context, c cid.Cid, data []byte, r int) error {
	cands, err := n.placementCandidates(ctx, dataset.KeyOf(c), r)
	if err != nil {
		return fmt.Errorf("place block %s: %w", c, err)
	}
	acks, next := 0, 0
	var errs []error
	for acks < r && next < len(cands) {
		batch := cands[next:min(next+r-acks, len(cands))]
		next += len(batch)
		results := make(chan error, len(batch))
		for _, ref := range batch {
			p, err := decodePeer(ref.Addr)
			if err != nil {
				results <- err
				continue
			}
			if p == n.host.ID() {
				go func() { results <- n.store.PutBlock(c, data) }()
				continue
			}
			go func() {
				results <- n.pipeTo(p).do(&pipeOp{ctx: ctx, op: opBlockPut, c: c, data: data}).err
			}()
		}
		for range batch {
			if err := <-results; err != nil {
				errs = append(errs, err)
			} else {
				acks++
			}
		}
	}
	if acks < r {
		err := fmt.Errorf("block %s is durable on %d of %d replicas: only %d live nodes found for its key", c, acks, r, len(cands))
		if len(errs) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
		}
		return err
	}
	return nil
}

// placementCandidates returns the live successors of key, waiting a little
// (up to placementWait) while the ring knows fewer than r of them: right
// after nodes start, successor lists fill in over a few stabilize rounds.
func (n *Node) placementCandidates(ctx context.Context, key overlay.ID, r int) ([]overlay.NodeRef, error) {
	deadline := time.Now().Add(n.placementWait())
	for {
		cands, err := n.successorsOf(ctx, key)
		if err != nil || len(cands) >= r || time.Now().After(deadline) {
			return cands, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(n.cfg.StabilizeInterval / 2):
		}
	}
}

// placementWait is how long a publish waits for a converging ring to show r
// live successors of a key: a few stabilize rounds.
func (n *Node) placementWait() time.Duration { return 5 * n.cfg.StabilizeInterval }
