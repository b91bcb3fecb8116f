package node

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/replica"
)

// ReplicateRequest is the body of POST /v1/replicate. Version 0 means
// every version of the name.
type ReplicateRequest struct {
	Name     string   `json:"name"`
	Version  uint64   `json:"version"`
	Replicas int      `json:"replicas"`
	Zones    []string `json:"zones,omitempty"`
}

// ReplicateResult describes a changed replication target.
type ReplicateResult struct {
	Name      string   `json:"name"`
	Versions  []uint64 `json:"versions"`
	Replicas  int      `json:"replicas"`
	Zones     []string `json:"zones,omitempty"`
	Blocks    int      `json:"blocks"`
	Copies    int      `json:"copies_updated"`
	Unreached int      `json:"blocks_unreached"`
}

// VersionStatus is the replication health of one version, counted by
// asking the live candidate holders of each of its blocks.
type VersionStatus struct {
	Version         uint64   `json:"version"`
	Blocks          int      `json:"blocks"`
	TargetReplicas  int      `json:"target_replicas"`
	Zones           []string `json:"zones,omitempty"`
	MinLiveReplicas int      `json:"min_live_replicas"`
	UnderReplicated int      `json:"under_replicated"`
	ZoneViolations  int      `json:"zone_violations"`
}

// DatasetStatus is the answer of GET /v1/dataset-status?name=NAME.
type DatasetStatus struct {
	Name     string          `json:"name"`
	Versions []VersionStatus `json:"versions"`
}

// RepairInfo is the replica maintenance part of a node's status.
type RepairInfo struct {
	Zone        string          `json:"zone,omitempty"`
	Primary     string          `json:"primary_range,omitempty"`
	RoundActive bool            `json:"round_active"`
	Queue       RepairQueueInfo `json:"queue"`
	LastRound   *RoundInfo      `json:"last_round,omitempty"`
	ExtraCopies int             `json:"extra_copies_known"`
	Totals      replica.Totals  `json:"totals"`
	Errors      []string        `json:"errors,omitempty"`
}

// RepairQueueInfo describes the repair queue.
type RepairQueueInfo struct {
	Pending       int   `json:"pending"`
	PendingBytes  int64 `json:"pending_bytes"`
	InFlight      int   `json:"in_flight"`
	InFlightBytes int64 `json:"in_flight_bytes"`
}

// RoundInfo describes the last completed anti-entropy round.
type RoundInfo struct {
	Started         string `json:"started"`
	DurationMS      int64  `json:"duration_ms"`
	Peers           int    `json:"peers"`
	PeersFailed     int    `json:"peers_failed"`
	Items           int    `json:"items"`
	Requests        int    `json:"sync_requests"`
	Pushes          int    `json:"pushes_queued"`
	Pulls           int    `json:"pulls_queued"`
	MetaSyncs       int    `json:"meta_syncs"`
	UnderReplicated int    `json:"under_replicated"`
	ExtraCopies     int    `json:"extra_copies"`
	Drops           int    `json:"drops"`
}

// RepairStatus returns the state of the node's replica maintenance.
func (n *Node) RepairStatus(ctx context.Context) (*RepairInfo, error) {
	var st replica.Status
	if err := n.repl.do(ctx, func(c *replica.Node) { st = c.Status() }); err != nil {
		return nil, err
	}
	out := &RepairInfo{
		Zone:        n.cfg.Zone,
		RoundActive: st.RoundActive,
		Queue: RepairQueueInfo{
			Pending: st.Queue.Pending, PendingBytes: st.Queue.PendingBytes,
			InFlight: st.Queue.InFlight, InFlightBytes: st.Queue.InFlightBytes,
		},
		ExtraCopies: st.Extras,
		Totals:      st.Totals,
		Errors:      st.Errors,
	}
	if st.HasPrimary {
		out.Primary = fmt.Sprintf("(%s, %s]", st.Primary.Lo, st.Primary.Hi)
	}
	if lr := st.LastRound; st.Totals.Rounds > 0 {
		out.LastRound = &RoundInfo{
			Started:    n.repl.wall(lr.Start).UTC().Format(time.RFC3339Nano),
			DurationMS: int64(lr.End - lr.Start),
			Peers:      lr.Peers, PeersFailed: lr.PeersFailed, Items: lr.Items, Requests: lr.Requests,
			Pushes: lr.Pushes, Pulls: lr.Pulls, MetaSyncs: lr.MetaSyncs,
			UnderReplicated: lr.UnderReplicated, ExtraCopies: lr.Extras, Drops: lr.Drops,
		}
	}
	return out, nil
}

// normalizeZones validates, sorts and dedupes zone names.
func normalizeZones(zones []string) ([]string, error) {
	if len(zones) == 0 {
		return nil, nil
	}
	out := slices.Clone(zones)
	for _, z := range out {
		if err := dataset.ValidateZone(z); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > dataset.MaxZones {
		return nil, fmt.Errorf("%w: at most %d zones", ErrBadRequest, dataset.MaxZones)
	}
	return out, nil
}

// claimOwner names a version's claim on its blocks.
func claimOwner(name string, version uint64) string {
	return name + "@" + strconv.FormatUint(version, 10)
}

// versionBlocks returns the CIDs of a version: its manifest and every
// distinct chunk.
func (n *Node) versionBlocks(ctx context.Context, rec *dataset.VersionRecord) ([]cid.Cid, error) {
	mb, err := n.getBlock(ctx, rec.Manifest, 0, newSourceStats())
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", rec.Name, rec.Version, err)
	}
	m, err := dataset.DecodeManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s@%d: %w", rec.Name, rec.Version, err)
	}
	return append([]cid.Cid{rec.Manifest}, m.Blocks()...), nil
}

// holderGroups maps each block to the live candidates of its key and
// returns, per candidate (in first-seen order), the indexes of its blocks.
func (n *Node) holderGroups(ctx context.Context, cids []cid.Cid) ([]peer.ID, map[peer.ID][]int, error) {
	var order []peer.ID
	groups := make(map[peer.ID][]int)
	for i, c := range cids {
		cands, err := n.successorsOf(ctx, dataset.KeyOf(c))
		if err != nil {
			return nil, nil, fmt.Errorf("locate block %s: %w", c, err)
		}
		for _, ref := range cands {
			p, err := decodePeer(ref.Addr)
			if err != nil {
				continue
			}
			if _, ok := groups[p]; !ok {
				order = append(order, p)
			}
			groups[p] = append(groups[p], i)
		}
	}
	return order, groups, nil
}

// holdAnswer is what one candidate said about one block.
type holdAnswer struct {
	held bool
	meta replica.Meta
}

// askHolds asks p (or the local store) which of cids it holds, with their
// metadata, in batches; it also returns p's zone.
func (n *Node) askHolds(ctx context.Context, p peer.ID, cids []cid.Cid, claim []byte) ([]holdAnswer, string, error) {
	out := make([]holdAnswer, 0, len(cids))
	zone := ""
	for start := 0; start < len(cids); start += maxReplCIDs {
		batch := cids[start:min(start+maxReplCIDs, len(cids))]
		req := &replFrame{Kind: replHolds}
		if claim != nil {
			req.Kind = replClaim
		}
		for _, c := range batch {
			req.CIDs = append(req.CIDs, c.Bytes())
			if claim != nil {
				req.Metas = append(req.Metas, claim)
			}
		}
		var resp *replFrame
		if p == n.host.ID() {
			resp = n.serveReplica(req)
		} else {
			cctx, cancel := context.WithTimeout(ctx, 2*n.cfg.RPCTimeout)
			var err error
			resp, err = n.replCall(cctx, p, req)
			cancel()
			if err != nil {
				return nil, "", err
			}
		}
		if resp.Status != statusOK {
			return nil, "", fmt.Errorf("%w: %s: %s", errRemote, p, resp.Err)
		}
		if len(resp.Held) != len(batch) {
			return nil, "", fmt.Errorf("%w: %s answered %d of %d blocks", errRemote, p, len(resp.Held), len(batch))
		}
		zone = resp.Zone
		for i, h := range resp.Held {
			a := holdAnswer{held: h}
			if h && i < len(resp.Metas) && len(resp.Metas[i]) > 0 {
				m, err := replica.UnmarshalMeta(resp.Metas[i])
				if err != nil {
					return nil, "", fmt.Errorf("metadata from %s: %w", p, err)
				}
				a.meta = m
			}
			out = append(out, a)
		}
	}
	return out, zone, nil
}

// pollCandidates asks every candidate holder of cids (at most 8 at once)
// and returns, per block, the answers of the candidates that replied and
// their zones; candidates that failed are left out.
func (n *Node) pollCandidates(ctx context.Context, cids []cid.Cid, claim []byte) ([][]holdAnswer, [][]string, map[string]bool, error) {
	order, groups, err := n.holderGroups(ctx, cids)
	if err != nil {
		return nil, nil, nil, err
	}
	answers := make([][]holdAnswer, len(cids))
	zones := make([][]string, len(cids))
	seenZones := map[string]bool{}
	if n.cfg.Zone != "" {
		seenZones[n.cfg.Zone] = true
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for _, p := range order {
		idx := groups[p]
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			batch := make([]cid.Cid, len(idx))
			for k, i := range idx {
				batch[k] = cids[i]
			}
			ans, zone, err := n.askHolds(ctx, p, batch, claim)
			if err != nil {
				n.log.Debug("holders query failed", "peer", p, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if zone != "" {
				seenZones[zone] = true
			}
			for k, i := range idx {
				answers[i] = append(answers[i], ans[k])
				if ans[k].held {
					zones[i] = append(zones[i], zone)
				}
			}
		}()
	}
	wg.Wait()
	return answers, zones, seenZones, nil
}

// claimBlocks merges a claim into every live copy of cids that the
// candidates of their keys hold; it returns how many copies took it and
// how many blocks no candidate held.
func (n *Node) claimBlocks(ctx context.Context, cids []cid.Cid, claim replica.Claim) (copies, unreached int, err error) {
	meta, err := replica.NewMeta(claim)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	answers, _, _, err := n.pollCandidates(ctx, cids, meta.AppendBinary(nil))
	if err != nil {
		return 0, 0, err
	}
	for _, as := range answers {
		got := 0
		for _, a := range as {
			if a.held {
				got++
			}
		}
		copies += got
		if got == 0 {
			unreached++
		}
	}
	return copies, unreached, nil
}

// claimVersion gives the blocks of a freshly published version the claim
// of its record (its replication factor and zones).
func (n *Node) claimVersion(ctx context.Context, rec *dataset.VersionRecord, cids []cid.Cid) {
	claim := replica.Claim{Owner: claimOwner(rec.Name, rec.Version), Seq: uint64(max(rec.Time, 1)), Replicas: rec.Replicas, Zones: rec.Zones}
	if _, unreached, err := n.claimBlocks(ctx, cids, claim); err != nil || unreached > 0 {
		n.log.Warn("could not tag every block of the new version with its replication target; run `chorus replicate` to retry",
			"name", rec.Name, "version", rec.Version, "unreached", unreached, "err", err)
	}
}

// versionsOf returns the records of version v of name, or of every
// version when v is 0.
func (n *Node) versionsOf(ctx context.Context, name string, v uint64) ([]*dataset.VersionRecord, error) {
	if err := dataset.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if v != 0 {
		rec, err := n.getRecord(ctx, name, v)
		if err != nil {
			return nil, err
		}
		return []*dataset.VersionRecord{rec}, nil
	}
	return n.listVersions(ctx, name)
}

// Replicate changes the replication factor and zones of version v of
// name (every version when v is 0) at run time. It adds a newer claim of
// the version's owner to every live copy of its blocks; the replicas then
// converge to it within a round or two (more copies at once, fewer after
// the grace period for extra copies). A block shared with other versions
// or datasets keeps the largest factor any of them asks.
func (n *Node) Replicate(ctx context.Context, req ReplicateRequest) (*ReplicateResult, error) {
	if req.Replicas < 1 || req.Replicas > n.MaxReplicas() {
		return nil, fmt.Errorf("%w: --replicas must be between 1 and %d, got %d", ErrBadRequest, n.MaxReplicas(), req.Replicas)
	}
	zones, err := normalizeZones(req.Zones)
	if err != nil {
		return nil, err
	}
	recs, err := n.versionsOf(ctx, req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	out := &ReplicateResult{Name: req.Name, Replicas: req.Replicas, Zones: zones, Versions: []uint64{}}
	seq := uint64(time.Now().UnixMilli())
	for _, rec := range recs {
		cids, err := n.versionBlocks(ctx, rec)
		if err != nil {
			return nil, err
		}
		copies, unreached, err := n.claimBlocks(ctx, cids, replica.Claim{Owner: claimOwner(rec.Name, rec.Version), Seq: seq, Replicas: req.Replicas, Zones: zones})
		if err != nil {
			return nil, err
		}
		out.Versions = append(out.Versions, rec.Version)
		out.Blocks += len(cids)
		out.Copies += copies
		out.Unreached += unreached
	}
	return out, nil
}

// DatasetStatus reports, for every version of name, how many live copies
// its blocks have against their target, counted by asking the live
// candidate holders of every block.
func (n *Node) DatasetStatus(ctx context.Context, name string) (*DatasetStatus, error) {
	recs, err := n.versionsOf(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	out := &DatasetStatus{Name: name, Versions: []VersionStatus{}}
	for _, rec := range recs {
		vs, err := n.versionStatus(ctx, rec)
		if err != nil {
			return nil, err
		}
		out.Versions = append(out.Versions, *vs)
	}
	return out, nil
}

func (n *Node) versionStatus(ctx context.Context, rec *dataset.VersionRecord) (*VersionStatus, error) {
	cids, err := n.versionBlocks(ctx, rec)
	if err != nil {
		return nil, err
	}
	answers, holderZones, alive, err := n.pollCandidates(ctx, cids, nil)
	if err != nil {
		return nil, err
	}
	// The version's target: its newest claim seen on any copy, else its
	// record.
	owner := claimOwner(rec.Name, rec.Version)
	target := replica.Claim{Replicas: rec.Replicas, Zones: rec.Zones}
	for _, as := range answers {
		for _, a := range as {
			if c, ok := a.meta.Claim(owner); ok && (target.Owner == "" || c.Seq > target.Seq) {
				target = c
			}
		}
	}
	vs := &VersionStatus{Version: rec.Version, Blocks: len(cids), TargetReplicas: target.Replicas, Zones: target.Zones, MinLiveReplicas: -1}
	for i, as := range answers {
		live := 0
		for _, a := range as {
			if a.held {
				live++
			}
		}
		if vs.MinLiveReplicas < 0 || live < vs.MinLiveReplicas {
			vs.MinLiveReplicas = live
		}
		if live < target.Replicas {
			vs.UnderReplicated++
		}
		for _, z := range target.Zones {
			if alive[z] && !slices.Contains(holderZones[i], z) {
				vs.ZoneViolations++
				break
			}
		}
	}
	vs.MinLiveReplicas = max(vs.MinLiveReplicas, 0)
	return vs, nil
}

func (n *Node) apiReplicate(w http.ResponseWriter, r *http.Request) {
	var req ReplicateRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	res, err := n.Replicate(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (n *Node) apiDatasetStatus(w http.ResponseWriter, r *http.Request) {
	res, err := n.DatasetStatus(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Replicate changes the replication target of a dataset.
func (c *Client) Replicate(ctx context.Context, req ReplicateRequest) (*ReplicateResult, error) {
	var out ReplicateResult
	return &out, c.do(ctx, http.MethodPost, "/v1/replicate", req, &out)
}

// DatasetStatus returns the replication health of every version of name.
func (c *Client) DatasetStatus(ctx context.Context, name string) (*DatasetStatus, error) {
	var out DatasetStatus
	return &out, c.do(ctx, http.MethodGet, "/v1/dataset-status?name="+url.QueryEscape(name), nil, &out)
}
