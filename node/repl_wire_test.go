package node

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleReplFrames() []replFrame {
	return []replFrame{
		{Kind: replCore, Msg: []byte{8, 1}},
		{Kind: replPut, CID: []byte("cid"), Data: []byte("data"), Meta: []byte{10, 0}},
		{Kind: replGet, Status: statusOK, Data: []byte("block"), Meta: []byte{1}},
		{Kind: replHolds, CIDs: [][]byte{[]byte("a"), []byte("b")}, Held: []bool{true, false}, Metas: [][]byte{{1}, {}}, Zone: "eu"},
		{Kind: replClaim, Status: statusError, Err: "boom", Count: 7},
	}
}

func TestReplFrameRoundTrip(t *testing.T) {
	for _, f := range sampleReplFrames() {
		var got replFrame
		if err := got.unmarshal(f.marshal()); err != nil {
			t.Fatalf("kind %d: %v", f.Kind, err)
		}
		if !bytes.Equal(got.marshal(), f.marshal()) || got.Kind != f.Kind || got.Zone != f.Zone || !reflect.DeepEqual(got.Held, f.Held) {
			t.Fatalf("kind %d: round trip gave %+v", f.Kind, got)
		}
	}
	var f replFrame
	for _, bad := range [][]byte{nil, {0x08, 0x09}, {0x08, 0x01, 0x10, 0x63}, {0x08}} {
		if err := f.unmarshal(bad); !errors.Is(err, errMalformed) {
			t.Fatalf("unmarshal(%x) err = %v, want errMalformed", bad, err)
		}
	}
}

func FuzzReplFrame(f *testing.F) {
	for _, fr := range sampleReplFrames() {
		f.Add(fr.marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr replFrame
		if err := fr.unmarshal(b); err != nil {
			return
		}
		var again replFrame
		if err := again.unmarshal(fr.marshal()); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(again.marshal(), fr.marshal()) {
			t.Fatal("encoding is not stable")
		}
	})
}
