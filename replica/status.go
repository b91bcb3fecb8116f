package replica

import "github.com/chorus-data/chorus/overlay"

// Totals counts what a core did since it started.
type Totals struct {
	Rounds          uint64 `json:"rounds"`
	Requests        uint64 `json:"sync_requests"`
	SyncsAnswered   uint64 `json:"syncs_answered"`
	Pushes          uint64 `json:"pushes"`
	Pulls           uint64 `json:"pulls"`
	TransfersFailed uint64 `json:"transfers_failed"`
	BytesPushed     int64  `json:"bytes_pushed"`
	BytesPulled     int64  `json:"bytes_pulled"`
	DropsSent       uint64 `json:"drops_sent"`
	Dropped         uint64 `json:"dropped"`
	MetaMerges      uint64 `json:"meta_merges"`
	RecordsSent     uint64 `json:"records_sent"`
	RecordsStored   uint64 `json:"records_stored"`
	StoreErrors     uint64 `json:"store_errors"`
}

// RoundStats describes one anti-entropy round.
type RoundStats struct {
	Start, End      overlay.Time
	Range           Range
	Peers           int // successors synced
	PeersFailed     int // sessions that did not complete
	Items           int // blocks and records in the primary range
	Requests        int // MsgSync sent
	Leaves          int
	LeafEntries     int
	Pushes          int // transfers queued to replica set members
	Pulls           int // transfers queued to this node
	MetaSyncs       int
	RecordPushes    int
	RecordPulls     int
	UnderReplicated int // items whose replica set did not confirm a copy
	Extras          int // extra copies known at the end of the round
	Drops           int // extra copies released
}

// QueueStatus describes the repair queue.
type QueueStatus struct {
	Pending       int
	PendingBytes  int64
	InFlight      int
	InFlightBytes int64
}

// Status is a snapshot of a core's state for operators.
type Status struct {
	Primary     Range
	HasPrimary  bool
	Successors  int
	RoundActive bool
	NextRound   overlay.Time
	LastRound   RoundStats
	Queue       QueueStatus
	Totals      Totals
	Extras      int // beliefs about extra copies
	Errors      []string
}

// Status returns a snapshot of the core's state.
func (n *Node) Status() Status {
	st := Status{
		Successors:  len(n.succs),
		RoundActive: n.round != nil,
		NextRound:   n.nextRound,
		LastRound:   n.last,
		Totals:      n.totals,
	}
	st.Primary, st.HasPrimary = n.Primary()
	for _, t := range n.queue {
		st.Queue.Pending++
		st.Queue.PendingBytes += t.Size
	}
	for _, t := range n.inflight {
		st.Queue.InFlight++
		st.Queue.InFlightBytes += t.Size
	}
	for _, hs := range n.extras {
		st.Extras += len(hs)
	}
	for _, e := range n.errs {
		st.Errors = append(st.Errors, e.Error())
	}
	return st
}
