package node

// IDInfo is the answer of GET /v1/id.
type IDInfo struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// PeerInfo names a ring member in API answers.
type PeerInfo struct {
	ID     string `json:"id"`
	RingID string `json:"ring_id"`
}

// StatusInfo is the answer of GET /v1/status.
type StatusInfo struct {
	ID          string      `json:"id"`
	RingID      string      `json:"ring_id"`
	Addrs       []string    `json:"addrs"`
	Predecessor *PeerInfo   `json:"predecessor"`
	Successors  []PeerInfo  `json:"successors"`
	Fingers     []PeerInfo  `json:"fingers"`
	KnownNodes  int         `json:"known_nodes"`
	Connected   int         `json:"connected_peers"`
	Blocks      int64       `json:"blocks"`
	Bytes       int64       `json:"bytes"`
	Segments    SegmentInfo `json:"segments"`
	Repair      *RepairInfo `json:"repair,omitempty"`
}

// SegmentInfo describes the segment files that hold a node's large
// blocks: how many, their bytes on disk, and how many of those belong to
// blocks still held (the rest is garbage the collector reclaims once a
// sealed segment is half garbage).
type SegmentInfo struct {
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	LiveBytes int64 `json:"live_bytes"`
}

// VersionInfo describes one version of a dataset.
type VersionInfo struct {
	Name      string `json:"name"`
	Version   uint64 `json:"version"`
	CID       string `json:"cid"`
	Parent    uint64 `json:"parent"`
	Time      string `json:"time"`
	Bytes     int64  `json:"bytes"`
	Files     int    `json:"files"`
	Replicas  int    `json:"replicas"`
	Publisher string `json:"publisher"`
}

// VersionsInfo is the answer of GET /v1/versions?name=NAME.
type VersionsInfo struct {
	Name     string        `json:"name"`
	Versions []VersionInfo `json:"versions"`
}

// NamesInfo is the answer of GET /v1/names.
type NamesInfo struct {
	Names []VersionInfo `json:"names"`
}

// PublishRequest is the body of POST /v1/publish. Path is read by the node
// process, so it must be absolute (the CLI makes it so).
type PublishRequest struct {
	Name     string   `json:"name"`
	Path     string   `json:"path"`
	Replicas int      `json:"replicas"`
	Zones    []string `json:"zones,omitempty"`
}

// FetchRequest is the body of POST /v1/fetch. Dest is written by the node
// process, so it must be absolute (the CLI makes it so). Version 0 means
// the newest.
type FetchRequest struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Dest    string `json:"dest"`
	Force   bool   `json:"force"`
}

// APIError is the body of every failed API call.
type APIError struct {
	Error string `json:"error"`
}
