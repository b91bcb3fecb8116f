package overlay

import "slices"

// rpcPurpose tells what an outstanding request is for.
type rpcPurpose uint8

const (
	rpcStabilize rpcPurpose = iota + 1 // GetState to the successor
	rpcCheckPred                       // Ping to the predecessor
	rpcQuery                           // FindSucc for a lookup
	rpcProbe                           // GetState to a lookup's candidate successor
	rpcExpand                          // GetState to a lookup's Done replier
)

// requestType returns the message type a request of purpose p is sent as.
func (p rpcPurpose) requestType() MsgType {
	switch p {
	case rpcCheckPred:
		return MsgPing
	case rpcQuery:
		return MsgFindSucc
	default:
		return MsgGetState
	}
}

// replyType returns the type of the reply to a request of type t.
func replyType(t MsgType) MsgType {
	switch t {
	case MsgFindSucc:
		return MsgFindSuccReply
	case MsgGetState:
		return MsgGetStateReply
	case MsgPing:
		return MsgPong
	}
	return 0
}

// rpc is an outstanding request.
type rpc struct {
	seq      uint64
	to       NodeRef
	deadline Time
	purpose  rpcPurpose
	lk       *lookup // for rpcQuery, rpcProbe, rpcExpand
}

// send queues m for the driver, stamped with n as the sender.
func (n *Node) send(m Message) {
	m.From = n.self
	n.msgs = append(n.msgs, m)
	n.stats.MessagesSent++
}

// request sends a request of purpose p to `to` and tracks it until its
// reply or RPCTimeout.
func (n *Node) request(now Time, to NodeRef, p rpcPurpose, key ID, lk *lookup) {
	n.seq++
	n.send(Message{Type: p.requestType(), To: to, Seq: n.seq, Key: key})
	n.pending = append(n.pending, rpc{seq: n.seq, to: to, deadline: now + n.cfg.RPCTimeout, purpose: p, lk: lk})
}

// takeRPC removes and returns the outstanding request that a reply of type
// t with sequence number seq from node `from` answers.
func (n *Node) takeRPC(seq uint64, from ID, t MsgType) (rpc, bool) {
	for i := range n.pending {
		r := &n.pending[i]
		if r.seq == seq && r.to.ID == from && replyType(r.purpose.requestType()) == t {
			out := *r
			n.pending = slices.Delete(n.pending, i, i+1)
			return out, true
		}
	}
	return rpc{}, false
}

// expireRPCs fails every request whose deadline has passed.
func (n *Node) expireRPCs(now Time) {
	for {
		i := slices.IndexFunc(n.pending, func(r rpc) bool { return r.deadline <= now })
		if i < 0 {
			return
		}
		r := n.pending[i]
		n.pending = slices.Delete(n.pending, i, i+1)
		n.stats.RPCTimeouts++
		n.rpcFailed(now, r)
	}
}

// dropLookupRPCs forgets the outstanding requests of lookup l.
func (n *Node) dropLookupRPCs(l *lookup) {
	n.pending = slices.DeleteFunc(n.pending, func(r rpc) bool { return r.lk == l })
}

// rpcDone handles reply m to request r.
func (n *Node) rpcDone(now Time, r rpc, m Message) {
	switch r.purpose {
	case rpcStabilize:
		n.stabilizeReply(now, r.to, m)
	case rpcCheckPred:
		n.pinging = false
	case rpcQuery:
		n.queryReply(now, r.lk, m)
	case rpcProbe:
		n.probeReply(now, r.lk, m)
	case rpcExpand:
		n.expandReply(now, r.lk, m)
	}
}

// rpcFailed handles request r that timed out or could not be sent: the
// peer is presumed dead.
func (n *Node) rpcFailed(now Time, r rpc) {
	n.suspectNode(now, r.to.ID)
	n.dropNode(now, r.to.ID)
	switch r.purpose {
	case rpcStabilize:
		n.stabilizing = false
		n.stabilize(now) // at once, with the next successor (if not paused)
	case rpcCheckPred:
		n.pinging = false
	case rpcQuery, rpcProbe, rpcExpand:
		n.lookupRPCFailed(now, r)
	}
}
