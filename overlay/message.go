package overlay

// Time is a point on the driver's clock in milliseconds. The core never
// reads a clock itself; the driver (a real node or the simulator) passes the
// current Time into every call.
type Time int64

// NodeRef names a ring member: its ring ID and an opaque address the driver
// knows how to deliver to (a libp2p peer ID in package node, a node index in
// the simulator).
type NodeRef struct {
	ID   ID
	Addr string
}

// IsZero reports whether r is the zero NodeRef (no node).
func (r NodeRef) IsZero() bool { return r.Addr == "" && r.ID == (ID{}) }

// MsgType tells what a Message asks or answers.
type MsgType uint8

// The message types of the ring protocol. Requests carry a Seq chosen by the
// sender; replies echo it.
const (
	// MsgFindSucc asks the receiver about Key. The reply is MsgFindSuccReply.
	MsgFindSucc MsgType = iota + 1
	// MsgFindSuccReply answers MsgFindSucc. With Done set, Nodes lists the
	// key's successor followed by fallbacks (the first live one is the
	// answer) and Pred, if set, is the entry before them in the replier's
	// successor list (the key's presumed predecessor, which the asker
	// checks with); without it, Nodes lists nodes closer to the key,
	// closest first.
	MsgFindSuccReply
	// MsgGetState asks the receiver for its predecessor and successor list
	// (stabilize, and the final probe of a lookup).
	MsgGetState
	// MsgGetStateReply answers MsgGetState: Pred and Nodes (successor list).
	MsgGetStateReply
	// MsgNotify tells the receiver that From believes it is its predecessor
	// or, sent by a node that has just joined, its successor.
	MsgNotify
	// MsgPing asks the receiver to prove it is alive.
	MsgPing
	// MsgPong answers MsgPing.
	MsgPong
	// MsgLeave tells the receiver that From is leaving the ring for good.
	// Pred is From's predecessor and Nodes its successor list, so that both
	// neighbours can close the gap at once.
	MsgLeave
	// MsgGetFingers asks the receiver for its finger table; a node that has
	// just joined seeds its own from its successor's. The reply is
	// MsgGetFingersReply.
	MsgGetFingers
	// MsgGetFingersReply answers MsgGetFingers: Nodes lists the distinct
	// fingers in finger order.
	MsgGetFingersReply

	msgTypeLast = MsgGetFingersReply
)

// String returns the message type's name.
func (t MsgType) String() string {
	switch t {
	case MsgFindSucc:
		return "FindSucc"
	case MsgFindSuccReply:
		return "FindSuccReply"
	case MsgGetState:
		return "GetState"
	case MsgGetStateReply:
		return "GetStateReply"
	case MsgNotify:
		return "Notify"
	case MsgPing:
		return "Ping"
	case MsgPong:
		return "Pong"
	case MsgLeave:
		return "Leave"
	case MsgGetFingers:
		return "GetFingers"
	case MsgGetFingersReply:
		return "GetFingersReply"
	}
	return "Unknown"
}

// IsReply reports whether messages of type t answer a request.
func (t MsgType) IsReply() bool {
	return t == MsgFindSuccReply || t == MsgGetStateReply || t == MsgPong || t == MsgGetFingersReply
}

// Message is one ring protocol message, inbound or outbound.
type Message struct {
	Type  MsgType
	From  NodeRef
	To    NodeRef
	Seq   uint64
	Key   ID
	Done  bool
	Pred  NodeRef
	Nodes []NodeRef
}
