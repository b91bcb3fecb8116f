package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/overlay"
)

// serveAPI starts the JSON HTTP API on addr, which must be a loopback
// address: the API is unauthenticated and reads and writes local paths.
func (n *Node) serveAPI(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("api address %q: must be a loopback address (the API is unauthenticated)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/id", n.apiID)
	mux.HandleFunc("GET /v1/status", n.apiStatus)
	mux.HandleFunc("GET /v1/names", n.apiNames)
	mux.HandleFunc("GET /v1/versions", n.apiVersions)
	mux.HandleFunc("POST /v1/publish", n.apiPublish)
	mux.HandleFunc("POST /v1/fetch", n.apiFetch)
	mux.HandleFunc("POST /v1/replicate", n.apiReplicate)
	mux.HandleFunc("GET /v1/dataset-status", n.apiDatasetStatus)
	n.apiLn = ln
	n.apiSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := n.apiSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server stopped", "err", err)
		}
	}()
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrUnknownName), errors.Is(err, ErrUnknownVersion):
		code = http.StatusNotFound
	case errors.Is(err, ErrVersionTaken):
		code = http.StatusConflict
	}
	writeJSON(w, code, APIError{Error: err.Error()})
}

func (n *Node) apiID(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, IDInfo{ID: n.host.ID().String(), Addrs: n.Addrs()})
}

func peerInfo(r overlay.NodeRef) PeerInfo { return PeerInfo{ID: r.Addr, RingID: r.ID.String()} }

// Status returns the node's view of the ring and what it holds.
func (n *Node) Status(ctx context.Context) (*StatusInfo, error) {
	st := &StatusInfo{ID: n.host.ID().String(), RingID: n.self.ID.String(), Addrs: n.Addrs()}
	err := n.ring.do(ctx, func(c *overlay.Node) {
		if p := c.Predecessor(); !p.IsZero() {
			pi := peerInfo(p)
			st.Predecessor = &pi
		}
		for _, s := range c.Successors() {
			st.Successors = append(st.Successors, peerInfo(s))
		}
		for _, f := range c.Fingers() {
			st.Fingers = append(st.Fingers, peerInfo(f))
		}
	})
	if err != nil {
		return nil, err
	}
	st.KnownNodes = len(n.knownPeers(ctx))
	st.Connected = len(n.host.Network().Peers())
	st.Blocks, st.Bytes, err = n.store.Stats()
	if err != nil {
		return nil, err
	}
	st.Segments = n.store.SegmentStats()
	if st.Repair, err = n.RepairStatus(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

func (n *Node) apiStatus(w http.ResponseWriter, r *http.Request) {
	st, err := n.Status(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// knownPeers lists the ring members this node knows of, itself included:
// its successors, predecessor and fingers, and the peers in its kad-dht
// routing table.
func (n *Node) knownPeers(ctx context.Context) []peer.ID {
	seen := map[peer.ID]bool{n.host.ID(): true}
	out := []peer.ID{n.host.ID()}
	add := func(p peer.ID) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	_ = n.ring.do(ctx, func(c *overlay.Node) {
		refs := append(c.Successors(), c.Fingers()...)
		if p := c.Predecessor(); !p.IsZero() {
			refs = append(refs, p)
		}
		for _, r := range refs {
			if p, err := decodePeer(r.Addr); err == nil {
				add(p)
			}
		}
	})
	for _, p := range n.dht.RoutingTable().ListPeers() {
		add(p)
	}
	return out
}

func versionInfo(rec *dataset.VersionRecord) VersionInfo {
	return VersionInfo{
		Name: rec.Name, Version: rec.Version, CID: rec.Manifest.String(), Parent: rec.Parent,
		Time:  time.UnixMilli(rec.Time).UTC().Format(time.RFC3339),
		Bytes: rec.Size, Files: rec.Files, Replicas: rec.Replicas, Publisher: rec.Publisher,
	}
}

// Names lists the datasets held by the ring members this node knows of,
// each with its newest version.
func (n *Node) Names(ctx context.Context) (*NamesInfo, error) {
	names := map[string]bool{}
	for _, p := range n.knownPeers(ctx) {
		resp, err := n.nameCall(ctx, p, &rpcRequest{Op: opNamesList})
		if err != nil || resp.Status != statusOK {
			continue
		}
		for _, nm := range resp.Names {
			names[nm] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for nm := range names {
		sorted = append(sorted, nm)
	}
	sort.Strings(sorted)
	out := &NamesInfo{Names: []VersionInfo{}}
	for _, nm := range sorted {
		rec, err := n.getRecord(ctx, nm, 0)
		if err != nil {
			n.log.Warn("list: name unreadable", "name", nm, "err", err)
			continue
		}
		out.Names = append(out.Names, versionInfo(rec))
	}
	return out, nil
}

func (n *Node) apiNames(w http.ResponseWriter, r *http.Request) {
	out, err := n.Names(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Versions lists every version of name.
func (n *Node) Versions(ctx context.Context, name string) (*VersionsInfo, error) {
	if err := dataset.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	recs, err := n.listVersions(ctx, name)
	if err != nil {
		return nil, err
	}
	out := &VersionsInfo{Name: name, Versions: []VersionInfo{}}
	for _, rec := range recs {
		out.Versions = append(out.Versions, versionInfo(rec))
	}
	return out, nil
}

func (n *Node) apiVersions(w http.ResponseWriter, r *http.Request) {
	out, err := n.Versions(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %w", ErrBadRequest, err)
	}
	return nil
}

func (n *Node) apiPublish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if !filepath.IsAbs(req.Path) {
		writeErr(w, fmt.Errorf("%w: path %q must be absolute", ErrBadRequest, req.Path))
		return
	}
	if wantsStream(r) {
		serveStreamed(w, r, func(ctx context.Context) (any, error) {
			return n.PublishZones(ctx, req.Name, req.Path, req.Replicas, req.Zones)
		})
		return
	}
	res, err := n.PublishZones(r.Context(), req.Name, req.Path, req.Replicas, req.Zones)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (n *Node) apiFetch(w http.ResponseWriter, r *http.Request) {
	var req FetchRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if !filepath.IsAbs(req.Dest) {
		writeErr(w, fmt.Errorf("%w: dest %q must be absolute", ErrBadRequest, req.Dest))
		return
	}
	if wantsStream(r) {
		serveStreamed(w, r, func(ctx context.Context) (any, error) {
			return n.Fetch(ctx, req.Name, req.Version, req.Dest, req.Force)
		})
		return
	}
	res, err := n.Fetch(r.Context(), req.Name, req.Version, req.Dest, req.Force)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
