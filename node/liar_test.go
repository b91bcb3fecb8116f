package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chorus-data/chorus/dataset"
)

// lie makes n answer every block get with bytes that do not match the CID,
// on both block protocols. Streams opened before are served by the honest
// handler, so they are reset.
func lie(n *Node) {
	liar := func(_ peer.ID, req *rpcRequest) *rpcResponse {
		return &rpcResponse{Status: statusOK, Data: []byte("not the block you asked for")}
	}
	n.host.SetStreamHandler(BlockProtocol, func(s network.Stream) { n.serve(s, maxBlockFrame, liar) })
	n.host.SetStreamHandler(BlockStreamProtocol, func(s network.Stream) { n.serveStream(s, maxBlockFrame, liar) })
	resetBlockStreams(n)
}

func TestLyingPeerIsNeverTrusted(t *testing.T) {
	nodes := startRing(t, 4)
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, src, "data.txt", []byte("the real contents"))

	// r=1: exactly one holder. Find it and make it lie.
	p, err := nodes[0].Publish(ctx, "one-copy", src, 1)
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := cid.Decode(p.CID)
	var holder *Node
	var fileCID cid.Cid
	mb, err := nodes[0].getBlock(ctx, mc, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.DecodeManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if len(e.Chunks) > 0 {
			fileCID = e.Chunks[0].CID
		}
	}
	for _, n := range nodes {
		if ok, _ := n.store.HasBlock(fileCID); ok {
			holder = n
		}
	}
	if holder == nil {
		t.Fatal("no node holds the file block")
	}
	lie(holder)
	var reader *Node
	for _, n := range nodes {
		if n != holder {
			reader = n
		}
	}
	if err := reader.pipeTo(holder.ID()).do(&pipeOp{ctx: ctx, op: opBlockGet, c: fileCID}).err; !errors.Is(err, errBadBlock) {
		t.Fatalf("get from a liar: %v, want errBadBlock", err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := reader.Fetch(ctx, "one-copy", 1, dest, false); err == nil {
		t.Fatal("fetch from a lying only holder succeeded")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("failed fetch left something at DEST: %v", err)
	}
	if ok, _ := reader.store.HasBlock(fileCID); ok && reader != holder {
		t.Fatal("reader stored an unverified block")
	}

	// r=3: one liar among the holders; the fetch moves on to an honest one.
	p3, err := nodes[0].Publish(ctx, "three-copies", src, 3)
	if err != nil {
		t.Fatal(err)
	}
	_ = p3
	for _, n := range nodes {
		if n == reader {
			continue
		}
		if ok, _ := n.store.HasBlock(fileCID); ok {
			lie(n)
			break
		}
	}
	out := filepath.Join(t.TempDir(), "out3")
	if _, err := reader.Fetch(ctx, "three-copies", 0, out, false); err != nil {
		t.Fatalf("fetch with one liar among three holders: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(out, "data.txt"))
	if err != nil || string(got) != "the real contents" {
		t.Fatalf("fetched %q, %v", got, err)
	}
}
