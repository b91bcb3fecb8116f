package overlay

import (
	"errors"
	"testing"
)

func TestDefaultSuccListLen(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 8}, {1, 8}, {2, 8}, {16, 8}, {17, 10}, {1000, 20}, {1024, 20}, {1025, 22}, {10_000, 28}, {100_000, 34},
	}
	for _, tt := range tests {
		if got := DefaultSuccListLen(tt.n); got != tt.want {
			t.Errorf("DefaultSuccListLen(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Self: sampleRef(1)}.withDefaults()
	if c.SuccListLen != 8 || c.StabilizeInterval != 1000 || c.FixFingersInterval != 1000 ||
		c.CheckPredInterval != 1000 || c.RPCTimeout != 2000 || c.LookupParallelism != 2 ||
		c.LookupTimeout != 20_000 || c.Rand == nil {
		t.Errorf("defaults: %+v", c)
	}
	c = Config{Self: sampleRef(1), StabilizeInterval: 300, RPCTimeout: 50}.withDefaults()
	if c.FixFingersInterval != 300 || c.CheckPredInterval != 300 || c.LookupTimeout != 500 {
		t.Errorf("derived defaults: %+v", c)
	}
}

func TestAloneNode(t *testing.T) {
	n := NewNode(Config{Self: sampleRef(1)})
	if n.Joined() || n.Successors() != nil || n.NextDeadline() != Never {
		t.Fatalf("fresh node: joined %v, successors %v, deadline %v", n.Joined(), n.Successors(), n.NextDeadline())
	}
	id := n.Lookup(5, idOf(9))
	rd := n.Ready()
	if len(rd.Lookups) != 1 || rd.Lookups[0].ID != id || !errors.Is(rd.Lookups[0].Err, ErrLookupFailed) {
		t.Fatalf("lookup before joining: %+v", rd.Lookups)
	}

	n.Create(10)
	if !n.Joined() {
		t.Fatal("not joined after Create")
	}
	if s := n.Successors(); len(s) != 1 || s[0] != n.Self() {
		t.Errorf("successors of a ring of one: %v", s)
	}
	if d := n.NextDeadline(); d <= 10 || d > 1010 {
		t.Errorf("NextDeadline = %d, want in (10, 1010]", d)
	}
	n.Lookup(20, idOf(1234))
	rd = n.Ready()
	if len(rd.Messages) != 0 || len(rd.Lookups) != 1 {
		t.Fatalf("lookup in a ring of one: %+v", rd)
	}
	if r := rd.Lookups[0]; r.Err != nil || r.Hops != 0 || len(r.Successors) != 1 || r.Successors[0] != n.Self() || r.Start != 20 || r.End != 20 {
		t.Errorf("lookup in a ring of one: %+v", r)
	}
	// A ring of one sends nothing while maintaining itself.
	for now := Time(10); now < 10_000; now = n.NextDeadline() {
		n.Tick(now)
		if n.HasReady() {
			t.Fatalf("ring of one sent %+v at %d", n.Ready(), now)
		}
	}
	// It answers FindSucc with itself.
	n.Step(100, Message{Type: MsgFindSucc, From: sampleRef(2), To: n.Self(), Seq: 3, Key: idOf(5)})
	rd = n.Ready()
	if len(rd.Messages) != 1 || !rd.Messages[0].Done || rd.Messages[0].Seq != 3 || rd.Messages[0].Nodes[0] != n.Self() {
		t.Errorf("FindSucc reply: %+v", rd.Messages)
	}
}

func TestTwoNodesAndSmallRings(t *testing.T) {
	for size := 2; size <= 12; size++ {
		s := newSimNet(t, uint64(size), Config{SuccListLen: 8})
		s.buildRing(size)
		r := s.truth()
		var bad string
		if !s.runChecked(s.now+60_000, 500, func() bool { bad = s.checkNeighbours(r, 8); return bad == "" }) {
			t.Fatalf("ring of %d did not converge: %s", size, bad)
		}
		if !s.runChecked(s.now+60_000, 500, func() bool { bad = s.checkFingers(r); return bad == "" }) {
			t.Fatalf("fingers of ring of %d did not converge: %s", size, bad)
		}
		if st := s.runLookups(200, 3); st.wrong+st.failed > 0 {
			t.Fatalf("ring of %d: %d wrong, %d failed lookups", size, st.wrong, st.failed)
		}
		for _, n := range s.nodes {
			if k, want := n.KnownNodes(), min(size-1, 8); k < want || k > size-1 {
				t.Errorf("ring of %d: node knows %d nodes, want %d", size, k, want)
			}
		}
	}
}

func TestJoinReportsNoLookups(t *testing.T) {
	s := newSimNet(t, 3, Config{})
	s.buildRing(40)
	s.run(s.now + 20_000)
	if len(s.results) != 0 {
		t.Errorf("internal lookups surfaced in Ready: %+v", s.results[0].res)
	}
	var internal uint64
	for _, n := range s.nodes {
		internal += n.Stats().InternalLookups
		if n.Stats().LookupsStarted != 0 {
			t.Errorf("user lookups counted: %+v", n.Stats())
		}
	}
	if internal == 0 {
		t.Error("no internal lookups counted")
	}
}

func TestJoinRetriesThroughDeadNode(t *testing.T) {
	s := newSimNet(t, 4, Config{RPCTimeout: 300})
	s.buildRing(5)
	dead := s.addNode()
	s.kill(dead)
	j := s.addNode()
	s.nodes[j].Join(s.now, s.ref(dead))
	s.flush(j)
	s.run(s.now + 5000)
	if s.nodes[j].Joined() {
		t.Fatal("joined through a dead node")
	}
	// Revive the node as a member of the ring: the retries now succeed.
	s.alive[dead] = true
	s.nodes[dead].Join(s.now, s.ref(0))
	s.flush(dead)
	if !s.runUntil(s.now+20_000, s.nodes[j].Joined) {
		t.Fatal("join did not retry")
	}
}

func TestSendFailedDropsSuccessorAtOnce(t *testing.T) {
	s := newSimNet(t, 5, Config{RPCTimeout: 10_000, StabilizeInterval: 500})
	s.sendFail = true
	s.buildRing(20)
	r := s.truth()
	if bad := s.runUntilConverged(r, 8); bad != "" {
		t.Fatal(bad)
	}
	victim := r.idx[3]
	pred := r.after(victim, -1)
	// A stabilize request already on its way to the victim would only
	// time out (after 10 s): kill it between two rounds.
	s.runUntil(s.now+1000, func() bool { return !s.nodes[pred].stabilizing })
	s.kill(victim)
	// With RPCTimeout at 10 s, only SendFailed can move pred on this fast.
	want := s.ref(r.after(victim, 1))
	if !s.runUntil(s.now+1500, func() bool { return s.nodes[pred].Successors()[0] == want }) {
		t.Errorf("predecessor of the dead node still has successor %v", s.nodes[pred].Successors()[0])
	}
	if s.nodes[pred].Stats().SendFailures == 0 {
		t.Error("no send failure counted")
	}
}

func TestLeaveMakesNodeInert(t *testing.T) {
	s := newSimNet(t, 6, Config{})
	s.buildRing(5)
	if bad := s.runUntilConverged(s.truth(), 8); bad != "" {
		t.Fatal(bad)
	}
	n := s.nodes[2]
	n.Leave(s.now)
	rd := n.Ready()
	if len(rd.Messages) != 2 || rd.Messages[0].Type != MsgLeave || rd.Messages[1].Type != MsgLeave {
		t.Fatalf("Leave sent %+v", rd.Messages)
	}
	if n.Joined() || !n.Left() || n.NextDeadline() != Never {
		t.Errorf("after Leave: joined %v, left %v, deadline %v", n.Joined(), n.Left(), n.NextDeadline())
	}
	n.Step(s.now, Message{Type: MsgFindSucc, From: s.ref(0), Seq: 1, Key: idOf(1)})
	n.Tick(s.now + 100_000)
	if n.HasReady() {
		t.Errorf("left node still acts: %+v", n.Ready())
	}
	n.Lookup(s.now, idOf(1))
	if rd := n.Ready(); len(rd.Lookups) != 1 || !errors.Is(rd.Lookups[0].Err, ErrLookupFailed) {
		t.Errorf("lookup on a left node: %+v", rd.Lookups)
	}
}

func TestRepliesAreMatched(t *testing.T) {
	s := newSimNet(t, 7, Config{})
	s.buildRing(3)
	n := s.nodes[0]
	s.run(s.now + 5000)
	before := n.Stats()
	// Replies nobody asked for, or from the wrong node, are ignored.
	n.Step(s.now, Message{Type: MsgGetStateReply, From: s.ref(1), Seq: 999_999, Nodes: []NodeRef{sampleRef(9)}})
	n.Step(s.now, Message{Type: MsgPong, From: s.ref(2), Seq: n.seq})
	n.Step(s.now, Message{Type: 200, From: s.ref(2)})
	if n.HasReady() {
		t.Errorf("unsolicited replies caused %+v", n.Ready())
	}
	for _, r := range n.Successors() {
		if r == sampleRef(9) {
			t.Error("unsolicited reply changed the successor list")
		}
	}
	if n.Stats().MessagesReceived != before.MessagesReceived+3 {
		t.Errorf("received %d, want %d", n.Stats().MessagesReceived, before.MessagesReceived+3)
	}
}
