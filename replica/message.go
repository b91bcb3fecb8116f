package replica

import (
	"github.com/ipfs/go-cid"

	"github.com/chorus-data/chorus/overlay"
)

// MsgType tells what a replica Message carries.
type MsgType uint8

// The message types of the replica protocol. A sync session is a tree of
// MsgSync requests, each answered by one MsgSyncReply; every other message
// is one-way except MsgMeta (answered by MsgMetaReply) and MsgRecordsReq
// (answered by MsgRecords).
const (
	// MsgSync carries the sender's digest of one key range: the range is
	// split into parts (see Range and the split rule in keyrange.go) and
	// Hashes/Counts hold one sum of item hashes and one item count per
	// part, over the items the sender expects the receiver to hold.
	MsgSync MsgType = iota + 1
	// MsgSyncReply answers MsgSync: Descend lists the parts whose digests
	// differ and that hold too many of the receiver's items to list;
	// Leaves lists, for the other differing parts, every item the receiver
	// holds there.
	MsgSyncReply
	// MsgMeta asks the receiver to merge Metas into its copies and to
	// answer with the merged metadata in a MsgMetaReply.
	MsgMeta
	// MsgMetaReply answers MsgMeta.
	MsgMetaReply
	// MsgDrop tells the receiver that its copies of CIDs are extra: the
	// sender, primary of their keys, confirmed enough other copies and the
	// grace period is over.
	MsgDrop
	// MsgRecords carries version records for the receiver to store.
	MsgRecords
	// MsgRecordsReq asks for the records named by Refs.
	MsgRecordsReq
)

// String returns the message type's name.
func (t MsgType) String() string {
	switch t {
	case MsgSync:
		return "Sync"
	case MsgSyncReply:
		return "SyncReply"
	case MsgMeta:
		return "Meta"
	case MsgMetaReply:
		return "MetaReply"
	case MsgDrop:
		return "Drop"
	case MsgRecords:
		return "Records"
	case MsgRecordsReq:
		return "RecordsReq"
	}
	return "Unknown"
}

// Message is one replica protocol message, inbound or outbound. Only the
// fields its Type uses are set.
type Message struct {
	Type MsgType
	From overlay.NodeRef
	To   overlay.NodeRef
	// Zone is the sender's zone ("" if it has none).
	Zone string
	// Session matches a MsgSyncReply to its MsgSync.
	Session uint64
	// Range is the key range of MsgSync and MsgSyncReply.
	Range   Range
	Hashes  []uint64
	Counts  []uint32
	Descend []uint32
	Leaves  []Leaf
	Metas   []BlockMeta
	CIDs    []cid.Cid
	Records []Record
	Refs    []RecordRef
}

// Leaf lists the items the sender of a MsgSyncReply holds in one part.
type Leaf struct {
	Part    uint32
	Entries []Entry
}

// Entry is one item of a Leaf: a block (CID set) or a version record
// (Name and Version set).
type Entry struct {
	CID      cid.Cid
	Name     string
	Version  uint64
	MetaHash uint64
	Size     int64
}

// IsRecord reports whether e names a version record.
func (e Entry) IsRecord() bool { return !e.CID.Defined() }

// BlockMeta is the metadata of one block.
type BlockMeta struct {
	CID  cid.Cid
	Meta Meta
}

// Record is one encoded version record.
type Record struct {
	Name    string
	Version uint64
	Data    []byte
}

// RecordRef names one version record.
type RecordRef struct {
	Name    string
	Version uint64
}
