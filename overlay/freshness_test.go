package overlay

import (
	"strconv"
	"testing"
)

// This file tests, message by message, what keeps answers fresh under
// churn and maintenance cheap: the presumed predecessor named in Done
// replies and asked by lookups, newcomers announced to their predecessor,
// Joined waiting for the ring to point at the node, finger checks and
// copies, and pings skipped for a predecessor that was heard from.

// vref is a NodeRef at ring position v.
func vref(v uint64) NodeRef { return NodeRef{ID: idOf(v), Addr: "n" + strconv.FormatUint(v, 10)} }

// vrefs returns the vrefs of vs.
func vrefs(vs ...uint64) []NodeRef {
	out := make([]NodeRef, len(vs))
	for i, v := range vs {
		out[i] = vref(v)
	}
	return out
}

// joinedNode returns node self, in a ring with the given successors, its
// outbox drained.
func joinedNode(t *testing.T, cfg Config, self uint64, succ ...uint64) *Node {
	t.Helper()
	cfg.Self = vref(self)
	n := NewNode(cfg)
	n.becomeJoined(0, vrefs(succ...))
	n.integrated = true
	n.Ready()
	return n
}

// takeMsg returns the one message of type typ to `to` in msgs, failing the
// test if there is not exactly one.
func takeMsg(t *testing.T, msgs []Message, typ MsgType, to NodeRef) Message {
	t.Helper()
	var out []Message
	for _, m := range msgs {
		if m.Type == typ && m.To.ID == to.ID {
			out = append(out, m)
		}
	}
	if len(out) != 1 {
		t.Fatalf("want one %v to %s, have %d in %+v", typ, to.Addr, len(out), msgs)
	}
	return out[0]
}

func TestDoneReplyNamesPresumedPredecessor(t *testing.T) {
	n := joinedNode(t, Config{}, 100, 200, 300, 400)
	tests := []struct {
		key   uint64
		nodes []NodeRef
		pred  NodeRef
	}{
		{150, vrefs(200, 300, 400), NodeRef{}}, // first entry: no one to ask
		{200, vrefs(200, 300, 400), NodeRef{}},
		{250, vrefs(300, 400), vref(200)},
		{400, vrefs(400), vref(300)},
	}
	for _, tt := range tests {
		n.Step(1, Message{Type: MsgFindSucc, From: vref(5), To: n.Self(), Seq: 7, Key: idOf(tt.key)})
		rd := n.Ready()
		m := takeMsg(t, rd.Messages, MsgFindSuccReply, vref(5))
		if !m.Done || m.Pred != tt.pred || len(m.Nodes) != len(tt.nodes) {
			t.Errorf("key %d: done %v, pred %v, nodes %v; want pred %v, nodes %v", tt.key, m.Done, m.Pred, m.Nodes, tt.pred, tt.nodes)
			continue
		}
		for i := range m.Nodes {
			if m.Nodes[i] != tt.nodes[i] {
				t.Errorf("key %d: nodes %v, want %v", tt.key, m.Nodes, tt.nodes)
				break
			}
		}
	}
}

func TestLookupWaitsForPresumedPredecessor(t *testing.T) {
	n := joinedNode(t, Config{}, 100, 200, 300, 400)
	n.Lookup(10, idOf(250))
	rd := n.Ready()
	probe := takeMsg(t, rd.Messages, MsgGetState, vref(300))
	ask := takeMsg(t, rd.Messages, MsgFindSucc, vref(200))

	// The probed node answers first, with a predecessor before the key:
	// the lookup still waits for 200.
	n.Step(20, Message{Type: MsgGetStateReply, From: vref(300), To: n.Self(), Seq: probe.Seq, Pred: vref(200), Nodes: vrefs(400)})
	if rd = n.Ready(); len(rd.Lookups) != 0 {
		t.Fatalf("lookup finished before the presumed predecessor answered: %+v", rd.Lookups)
	}
	// 200 knows a newcomer, 260, between the key and 300.
	n.Step(30, Message{Type: MsgFindSuccReply, From: vref(200), To: n.Self(), Seq: ask.Seq, Key: idOf(250), Done: true, Nodes: vrefs(260, 300)})
	rd = n.Ready()
	probe = takeMsg(t, rd.Messages, MsgGetState, vref(260))
	n.Step(40, Message{Type: MsgGetStateReply, From: vref(260), To: n.Self(), Seq: probe.Seq, Pred: vref(200), Nodes: vrefs(300, 400)})
	rd = n.Ready()
	if len(rd.Lookups) != 1 {
		t.Fatalf("lookup did not finish: %+v", rd)
	}
	if r := rd.Lookups[0]; r.Err != nil || r.Successors[0] != vref(260) || r.Hops != 2 {
		t.Errorf("result %+v, want successor n260 after 2 hops", r)
	}
}

func TestLookupTrustsProbeWhenPredecessorIsDead(t *testing.T) {
	n := joinedNode(t, Config{RPCTimeout: 100}, 100, 200, 300, 400)
	n.Lookup(10, idOf(250))
	rd := n.Ready()
	probe := takeMsg(t, rd.Messages, MsgGetState, vref(300))
	ask := takeMsg(t, rd.Messages, MsgFindSucc, vref(200))
	n.Step(20, Message{Type: MsgGetStateReply, From: vref(300), To: n.Self(), Seq: probe.Seq, Nodes: vrefs(400)})
	n.SendFailed(25, ask)
	rd = n.Ready()
	if len(rd.Lookups) != 1 || rd.Lookups[0].Err != nil || rd.Lookups[0].Successors[0] != vref(300) {
		t.Fatalf("want n300 once n200 is found dead: %+v", rd.Lookups)
	}
}

func TestNotifyFromNewcomerBecomesSuccessor(t *testing.T) {
	n := joinedNode(t, Config{}, 100, 300, 400)
	n.Step(5, Message{Type: MsgNotify, From: vref(200), To: n.Self()})
	if s := n.Successors(); s[0] != vref(200) || s[1] != vref(300) {
		t.Errorf("successors %v, want n200 first", s)
	}
	takeMsg(t, n.Ready().Messages, MsgNotify, vref(200))
	// A node beyond the successor is no successor.
	n.Step(6, Message{Type: MsgNotify, From: vref(350), To: n.Self()})
	if s := n.Successors(); s[0] != vref(200) {
		t.Errorf("successors %v after a notify from beyond", s)
	}
}

func TestJoinNotifiesBothNeighboursAndWaitsForPredecessor(t *testing.T) {
	for _, answered := range []bool{true, false} {
		n := NewNode(Config{Self: vref(250), RPCTimeout: 1000})
		n.Join(0, vref(100))
		ask := takeMsg(t, n.Ready().Messages, MsgFindSucc, vref(100))
		n.Step(10, Message{Type: MsgFindSuccReply, From: vref(100), To: n.Self(), Seq: ask.Seq, Done: true, Nodes: vrefs(300, 400)})
		probe := takeMsg(t, n.Ready().Messages, MsgGetState, vref(300))
		n.Step(20, Message{Type: MsgGetStateReply, From: vref(300), To: n.Self(), Seq: probe.Seq, Pred: vref(100), Nodes: vrefs(400)})
		rd := n.Ready()
		takeMsg(t, rd.Messages, MsgNotify, vref(300))
		takeMsg(t, rd.Messages, MsgNotify, vref(100))
		takeMsg(t, rd.Messages, MsgGetFingers, vref(300))
		if n.Joined() {
			t.Fatal("joined before the predecessor knows it")
		}
		if answered {
			n.Step(80, Message{Type: MsgNotify, From: vref(100), To: n.Self()})
			if !n.Joined() || n.Predecessor() != vref(100) {
				t.Errorf("after the predecessor's notify: joined %v, predecessor %v", n.Joined(), n.Predecessor())
			}
			continue
		}
		if d := n.NextDeadline(); d > 1020 {
			t.Errorf("NextDeadline %d, want at most 1020", d)
		}
		n.Tick(1020)
		if !n.Joined() {
			t.Error("not joined one RPCTimeout after the join lookup")
		}
	}
}

func TestFingersCopiedFromSuccessorThenChecked(t *testing.T) {
	cfg := Config{Self: vref(1000), SuccListLen: 2}
	n := NewNode(cfg)
	n.becomeJoined(0, vrefs(1100, 1200))
	rd := n.Ready()
	cp := takeMsg(t, rd.Messages, MsgGetFingers, vref(1100))
	// The successor's fingers, in finger order; 1150 and 1300 lie before
	// n's finger starts beyond the list (1000+2^8 = 1256, ...), 6000
	// serves fingers 12 (start 5096) and 11 (3048), 70000 fingers 13 to 16.
	n.Step(5, Message{Type: MsgGetFingersReply, From: vref(1100), To: n.Self(), Seq: cp.Seq, Nodes: vrefs(1150, 1300, 6000, 70000)})
	want := map[int]NodeRef{0: vref(1100), 7: vref(1200), 8: vref(1300), 11: vref(6000), 12: vref(6000), 13: vref(70000), 16: vref(70000)}
	for i, r := range want {
		if got := n.fingers.get(i); got != r {
			t.Errorf("finger %d = %v, want %v", i, got, r)
		}
	}
	// Fingers 17 and up are unset: they, and only they, are looked up.
	rd = n.Ready()
	if ask := takeMsg(t, rd.Messages, MsgFindSucc, vref(70000)); ask.Key != idOf(1000+1<<17) || n.stats.InternalLookups != 1 {
		t.Fatalf("lookup for the unset fingers: %+v, %+v", ask, n.stats)
	}

	// A check of finger 12 (start 5096) whose node's predecessor, 5500,
	// joined after the start moves the finger back to it.
	n.lookups, n.pending, n.fingerBusy, n.fingerInitial = nil, nil, false, false
	n.fingerNext = 12
	n.fixFingers(10)
	check := takeMsg(t, n.Ready().Messages, MsgGetState, vref(6000))
	n.Step(20, Message{Type: MsgGetStateReply, From: vref(6000), To: n.Self(), Seq: check.Seq, Pred: vref(5500)})
	if got := n.fingers.get(12); got != vref(5500) {
		t.Errorf("finger 12 = %v after the check, want n5500", got)
	}
	if got := n.fingers.get(11); got != vref(6000) {
		t.Errorf("finger 11 = %v after the check of 12, want n6000", got)
	}
	if n.fingerNext != 13 {
		t.Errorf("fingerNext %d, want 13", n.fingerNext)
	}
}

func TestCheckPredecessorSkipsPingWhenHeard(t *testing.T) {
	n := joinedNode(t, Config{StabilizeInterval: 1000}, 100, 200, 300)
	n.Step(1, Message{Type: MsgNotify, From: vref(50), To: n.Self()})
	n.Ready()
	pings := func(upto Time) int {
		c := 0
		for n.NextDeadline() <= upto {
			at := n.NextDeadline()
			n.Tick(at)
			for _, m := range n.Ready().Messages {
				switch m.Type {
				case MsgPing:
					c++
				case MsgGetState:
					if m.To == vref(200) {
						n.Step(at+1, Message{Type: MsgGetStateReply, From: vref(200), To: n.Self(), Seq: m.Seq, Pred: n.Self(), Nodes: vrefs(300)})
					}
				}
			}
		}
		return c
	}
	// The first check finds the predecessor heard from: no ping. The next
	// one has heard nothing since: a ping.
	if c := pings(1000); c != 0 {
		t.Errorf("%d pings in the first round, want 0", c)
	}
	if c := pings(2000); c != 1 {
		t.Errorf("%d pings in the second round, want 1", c)
	}
}

func TestProbeRetriedOnceBeforeGivingUp(t *testing.T) {
	// Maintenance far off, so that only the lookups send.
	n := joinedNode(t, Config{RPCTimeout: 100, StabilizeInterval: 1e6}, 100, 200, 300, 400)
	n.Lookup(10, idOf(150))
	first := takeMsg(t, n.Ready().Messages, MsgGetState, vref(200))
	// One lost reply: the probe goes out again, and the answer counts.
	n.Tick(110)
	second := takeMsg(t, n.Ready().Messages, MsgGetState, vref(200))
	if second.Seq == first.Seq {
		t.Fatal("retry reuses the sequence number")
	}
	if n.presumedDead(110, vref(200).ID) || n.Successors()[0] != vref(200) {
		t.Fatal("one timeout made the successor presumed dead")
	}
	n.Step(150, Message{Type: MsgGetStateReply, From: vref(200), To: n.Self(), Seq: second.Seq, Pred: n.Self(), Nodes: vrefs(300, 400)})
	rd := n.Ready()
	if len(rd.Lookups) != 1 || rd.Lookups[0].Successors[0] != vref(200) || rd.Lookups[0].Timeouts != 0 {
		t.Fatalf("after the retried probe: %+v", rd.Lookups)
	}
	// Two timeouts in a row: presumed dead, dropped, the next one probed.
	n.Lookup(200, idOf(150))
	takeMsg(t, n.Ready().Messages, MsgGetState, vref(200))
	n.Tick(300)
	takeMsg(t, n.Ready().Messages, MsgGetState, vref(200))
	n.Tick(400)
	takeMsg(t, n.Ready().Messages, MsgGetState, vref(300))
	if !n.presumedDead(400, vref(200).ID) || n.Successors()[0] != vref(300) {
		t.Errorf("after two timeouts: presumed dead %v, successors %v", n.presumedDead(400, vref(200).ID), n.Successors())
	}
}

func TestQueryTimeoutKeepsSuccessor(t *testing.T) {
	n := joinedNode(t, Config{RPCTimeout: 100, StabilizeInterval: 1e6}, 100, 200, 300)
	// A key beyond the list: the successors are asked as routers.
	n.Lookup(10, idOf(5000))
	ask := takeMsg(t, n.Ready().Messages, MsgFindSucc, vref(300))
	n.Tick(110)
	rd := n.Ready()
	for _, m := range rd.Messages {
		if m.To == vref(300) {
			t.Errorf("query retried: %+v", m)
		}
	}
	if s := n.Successors(); len(s) != 2 || s[1] != vref(300) {
		t.Errorf("one query timeout dropped a successor: %v", s)
	}
	if !n.suspected(110, ask.To.ID) || n.presumedDead(110, ask.To.ID) {
		t.Error("a query timeout should make the node suspected, not presumed dead")
	}
}
