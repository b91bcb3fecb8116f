package node

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

// TestDecodePeer: decodePeer answers as peer.Decode does, from memory
// the second time, keeps no failures and stays within its bound.
func TestDecodePeer(t *testing.T) {
	idOf := func(i int) peer.ID {
		mh, err := multihash.Sum([]byte(fmt.Sprint(i)), multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		return peer.ID(mh)
	}
	want := idOf(0)
	for range 2 {
		got, err := decodePeer(want.String())
		if err != nil || got != want {
			t.Fatalf("decodePeer(%s) = %s, %v", want, got, err)
		}
	}
	if _, ok := peerIDs.Load(want.String()); !ok {
		t.Fatal("a decoded ID was not remembered")
	}
	if _, err := decodePeer("not-a-peer-id"); err == nil {
		t.Fatal("decodePeer accepted a malformed ID")
	}
	if _, ok := peerIDs.Load("not-a-peer-id"); ok {
		t.Fatal("a failed decoding was remembered")
	}
	for i := range peerIDCacheMax + 10 {
		if _, err := decodePeer(idOf(i).String()); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	peerIDs.Range(func(any, any) bool { n++; return true })
	if n > peerIDCacheMax || peerIDCount.Load() > peerIDCacheMax {
		t.Fatalf("%d IDs remembered (count %d), bound %d", n, peerIDCount.Load(), peerIDCacheMax)
	}
}
