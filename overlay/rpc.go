package overlay

import "slices"

// rpcPurpose tells what an outstanding request is for.
type rpcPurpose uint8

const (
	rpcStabilize   rpcPurpose = iota + 1 // GetState to the successor
	rpcCheckPred                         // Ping to the predecessor
	rpcQuery                             // FindSucc for a lookup
	rpcProbe                             // GetState to a lookup's candidate successor
	rpcExpand                            // GetState to a lookup's Done replier
	rpcFingerCheck                       // GetState to a finger, to check it
	rpcFingerCopy                        // GetFingers to the successor after a join
)

// requestType returns the message type a request of purpose p is sent as.
func (p rpcPurpose) requestType() MsgType {
	switch p {
	case rpcCheckPred:
		return MsgPing
	case rpcQuery:
		return MsgFindSucc
	case rpcFingerCopy:
		return MsgGetFingers
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
	case MsgGetFingers:
		return MsgGetFingersReply
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
	retried  bool    // this is the second try
}

// retries reports whether a request of purpose p that times out is sent
// once more before its peer is presumed dead. On a lossy network one lost
// message must not cost a live successor, predecessor or finger, nor send
// a lookup past the key's live successor; a lookup's queries are not
// retried, as other nodes lead to the key as well.
func (p rpcPurpose) retries() bool {
	return p == rpcStabilize || p == rpcCheckPred || p == rpcProbe || p == rpcFingerCheck
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
		if !r.retried && r.purpose.retries() {
			var key ID
			if r.lk != nil {
				key = r.lk.key
			}
			n.request(now, r.to, r.purpose, key, r.lk)
			n.pending[len(n.pending)-1].retried = true
			continue
		}
		n.rpcFailed(now, r, r.retried)
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
	case rpcFingerCheck:
		n.fingerCheckReply(now, r.to, m)
	case rpcFingerCopy:
		n.fingerCopyReply(now, m)
	}
}

// rpcFailed handles request r that timed out or could not be sent: the
// peer is suspected and leaves the fingers and, if sure (it could not be
// reached, or did not answer twice), it is presumed dead and leaves the
// successor list and predecessor too. A single timeout is not sure: on a
// lossy network the peer may well be alive.
func (n *Node) rpcFailed(now Time, r rpc, sure bool) {
	n.suspectNode(now, r.to.ID, sure)
	if sure {
		n.dropNode(now, r.to.ID)
	} else {
		n.fingers.drop(r.to.ID)
	}
	switch r.purpose {
	case rpcStabilize:
		n.stabilizing = false
		n.stabilize(now) // at once, with the next successor (if not paused)
	case rpcCheckPred:
		n.pinging = false
	case rpcFingerCheck:
		// The finger is gone (dropNode): the next round looks it up.
		n.fingerBusy = false
	case rpcFingerCopy:
		n.fingerBusy = false
		n.fixFingers(now) // look the fingers up instead
	case rpcQuery, rpcProbe, rpcExpand:
		n.lookupRPCFailed(now, r)
	}
}
