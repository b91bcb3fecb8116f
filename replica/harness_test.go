package replica

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/chorus-data/chorus/overlay"
	"github.com/chorus-data/chorus/placement"
)

// hnode is one node of the in-memory harness.
type hnode struct {
	ref   overlay.NodeRef
	zone  string
	store *MemStore
	core  *Node
	alive bool
}

// harness runs replica cores over perfect ring views, with messages
// delivered (through the wire codec) and transfers carried out at once,
// on a virtual clock. It starts no goroutines and is deterministic.
type harness struct {
	t       *testing.T
	now     overlay.Time
	step    overlay.Time
	nodes   []*hnode
	succLen int
	tmpl    Config

	loss    float64    // chance that a message or a transfer is lost
	lossRng *rand.Rand // draws the losses

	transfers  int   // transfers carried out
	bytesMoved int64 // their bytes
	msgs       int   // messages delivered
	msgBytes   int64 // their wire bytes
	blocks     []cid.Cid
}

func testNameKey(name string) overlay.ID { return overlay.HashID([]byte("name:" + name)) }

func newHarness(t *testing.T, count int, tmpl Config) *harness {
	t.Helper()
	h := &harness{t: t, step: 50, succLen: 8, tmpl: tmpl}
	for range count {
		h.addNode("")
	}
	return h
}

// addNode starts a fresh node (empty store) and returns it.
func (h *harness) addNode(zone string) *hnode {
	i := len(h.nodes)
	id := overlay.HashID(fmt.Appendf(nil, "node-%d", i))
	hn := &hnode{ref: overlay.NodeRef{ID: id, Addr: fmt.Sprintf("n%d", i)}, zone: zone, store: NewMemStore()}
	h.nodes = append(h.nodes, hn)
	h.start(hn)
	return hn
}

// start (re)creates a node's core over its store and marks it alive.
func (h *harness) start(hn *hnode) {
	cfg := h.tmpl
	cfg.Self = hn.ref
	cfg.Zone = hn.zone
	cfg.Store = hn.store
	cfg.NameKey = testNameKey
	cfg.Rand = rand.New(rand.NewPCG(uint64(hn.ref.ID[0]), uint64(hn.ref.ID[1])))
	core, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	hn.core, hn.alive = core, true
}

func (h *harness) kill(hn *hnode) { hn.alive = false }

// live returns the live nodes in ring order.
func (h *harness) live() []*hnode {
	var out []*hnode
	for _, n := range h.nodes {
		if n.alive {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *hnode) int { return a.ref.ID.Cmp(b.ref.ID) })
	return out
}

// succList returns the live successor list of key (its successor first),
// at most n long.
func (h *harness) succList(key overlay.ID, n int) []overlay.NodeRef {
	live := h.live()
	start := len(live)
	for i, x := range live {
		if x.ref.ID.Cmp(key) >= 0 {
			start = i
			break
		}
	}
	var out []overlay.NodeRef
	for k := 0; k < min(n, len(live)); k++ {
		out = append(out, live[(start+k)%len(live)].ref)
	}
	return out
}

func (h *harness) byID(id overlay.ID) *hnode {
	for _, n := range h.nodes {
		if n.ref.ID == id {
			return n
		}
	}
	return nil
}

func (h *harness) zoneOf(r overlay.NodeRef) string {
	if n := h.byID(r.ID); n != nil {
		return n.zone
	}
	return ""
}

// views gives every live node its perfect predecessor and successor list.
func (h *harness) views() {
	live := h.live()
	for i, n := range live {
		var succs []overlay.NodeRef
		for k := 1; k <= min(h.succLen, len(live)-1); k++ {
			succs = append(succs, live[(i+k)%len(live)].ref)
		}
		var pred overlay.NodeRef
		if len(live) > 1 {
			pred = live[(i-1+len(live))%len(live)].ref
		}
		n.core.SetView(h.now, pred, succs)
	}
}

// tick advances the clock by one step and settles everything that follows.
func (h *harness) tick() {
	h.now += h.step
	h.views()
	for _, n := range h.nodes {
		if n.alive {
			n.core.Tick(h.now)
		}
	}
	h.drain()
}

// drain delivers messages and carries out transfers until all is quiet.
func (h *harness) drain() {
	for {
		busy := false
		for _, n := range h.nodes {
			if !n.alive || !n.core.HasReady() {
				continue
			}
			busy = true
			rd := n.core.Ready()
			for _, m := range rd.Messages {
				h.deliver(n, m)
			}
			for _, tr := range rd.Transfers {
				n.core.TransferDone(h.now, tr.ID, h.transfer(n, tr))
			}
		}
		if !busy {
			return
		}
	}
}

func (h *harness) deliver(from *hnode, m Message) {
	b, err := m.MarshalBinary()
	if err != nil {
		h.t.Fatalf("marshal %s: %v", m.Type, err)
	}
	to := h.byID(m.To.ID)
	if h.loss > 0 && h.lossRng.Float64() < h.loss {
		return // lost in transit: the sender finds out by its timeout
	}
	if to == nil || !to.alive {
		from.core.SendFailed(h.now, m)
		return
	}
	var got Message
	if err := got.UnmarshalBinary(b); err != nil {
		h.t.Fatalf("unmarshal %s: %v", m.Type, err)
	}
	h.msgs++
	h.msgBytes += int64(len(b))
	to.core.Step(h.now, got)
}

// transfer carries out a block move the way node/ does.
func (h *harness) transfer(n *hnode, tr Transfer) error {
	peer := h.byID(tr.Peer.ID)
	if peer == nil || !peer.alive {
		return fmt.Errorf("peer %s is down", tr.Peer.Addr)
	}
	if h.loss > 0 && h.lossRng.Float64() < h.loss {
		return fmt.Errorf("transfer to %s lost", tr.Peer.Addr)
	}
	src, dst := n.store, peer.store
	if tr.Pull {
		src, dst = peer.store, n.store
	}
	data, err := src.GetBlock(tr.CID)
	if err != nil {
		return err
	}
	meta, err := src.BlockMeta(tr.CID)
	if err != nil {
		return err
	}
	if err := dst.PutBlock(tr.CID, data); err != nil {
		return err
	}
	if !meta.IsZero() {
		if _, err := dst.MergeBlockMeta(tr.CID, meta); err != nil {
			return err
		}
	}
	h.transfers++
	h.bytesMoved += int64(len(data))
	return nil
}

// run ticks until cond holds or limit virtual milliseconds pass; it
// returns the time it took, failing the test on timeout.
func (h *harness) run(limit overlay.Time, what string, cond func() error) overlay.Time {
	h.t.Helper()
	start := h.now
	var err error
	for h.now-start <= limit {
		h.tick()
		if err = cond(); err == nil {
			return h.now - start
		}
	}
	h.t.Fatalf("%s: not reached after %d ms of virtual time: %v", what, limit, err)
	return 0
}

// runFor ticks for d virtual milliseconds.
func (h *harness) runFor(d overlay.Time) {
	end := h.now + d
	for h.now < end {
		h.tick()
	}
}

// makeBlock returns a random block of size bytes.
func makeBlock(r *rand.Rand, size int) (cid.Cid, []byte) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh), data
}

func keyOf(c cid.Cid) overlay.ID {
	k, err := BlockKey(c)
	if err != nil {
		panic(err)
	}
	return overlay.ID(k)
}

// publish stores count blocks as a publish would: on the first r live
// successors of each key, with a claim of owner.
func (h *harness) publish(seed uint64, count, size int, owner string, r int, zones ...string) []cid.Cid {
	h.t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	m, err := NewMeta(Claim{Owner: owner, Seq: 1, Replicas: r, Zones: zones})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []cid.Cid
	for range count {
		c, data := makeBlock(rng, size)
		set := h.ideal(c, m)
		for _, ref := range set {
			n := h.byID(ref.ID)
			if err := n.store.PutBlock(c, data); err != nil {
				h.t.Fatal(err)
			}
			if _, err := n.store.MergeBlockMeta(c, m); err != nil {
				h.t.Fatal(err)
			}
		}
		out = append(out, c)
	}
	h.blocks = append(h.blocks, out...)
	return out
}

// ideal is the replica set of c under meta m and the live ring.
func (h *harness) ideal(c cid.Cid, m Meta) []overlay.NodeRef {
	chain := h.succList(keyOf(c), h.succLen+1)
	return placement.ReplicaSetZones(chain, m.Replicas(DefaultReplicas), m.Zones(), h.zoneOf)
}

// holders returns the live nodes holding c.
func (h *harness) holders(c cid.Cid) []*hnode {
	var out []*hnode
	for _, n := range h.live() {
		if ok, _ := n.store.HasBlock(c); ok {
			out = append(out, n)
		}
	}
	return out
}

// metaOf returns the metadata of c on its first live holder.
func (h *harness) metaOf(c cid.Cid) Meta {
	for _, n := range h.holders(c) {
		m, err := n.store.BlockMeta(c)
		if err == nil {
			return m
		}
	}
	return Meta{}
}

// placed checks that every block is on every member of its replica set;
// with exact set, also that no live node outside the set holds it.
func (h *harness) placed(exact bool) error {
	for _, c := range h.blocks {
		m := h.metaOf(c)
		set := h.ideal(c, m)
		hold := h.holders(c)
		for _, ref := range set {
			if !slices.ContainsFunc(hold, func(x *hnode) bool { return x.ref.ID == ref.ID }) {
				return fmt.Errorf("block %s: member %s lacks it (%d live copies)", c, ref.Addr, len(hold))
			}
		}
		if exact && len(hold) != len(set) {
			return fmt.Errorf("block %s: %d copies, replica set of %d", c, len(hold), len(set))
		}
	}
	return nil
}

// copies returns the total number of live copies.
func (h *harness) copies() int {
	total := 0
	for _, n := range h.live() {
		b, _, _ := n.store.Stats()
		total += int(b)
	}
	return total
}

// pushes returns the pushes the live cores completed.
func (h *harness) pushes() uint64 {
	var total uint64
	for _, n := range h.live() {
		total += n.core.Status().Totals.Pushes
	}
	return total
}
