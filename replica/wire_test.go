package replica

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/chorus-data/chorus/overlay"
)

func testCID(s string) cid.Cid {
	mh, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

func sampleMessages() []Message {
	from := overlay.NodeRef{ID: idOf(0x11, 1), Addr: "peer-a"}
	to := overlay.NodeRef{ID: idOf(0x22, 2), Addr: "peer-b"}
	return []Message{
		{Type: MsgSync, From: from, To: to, Zone: "eu-1", Session: 7, Range: Range{Lo: idOf(1, 0), Hi: idOf(9, 5)},
			Hashes: []uint64{1, 0, 1 << 63}, Counts: []uint32{3, 0, 1}},
		{Type: MsgSyncReply, From: to, To: from, Session: 7, Range: Range{Lo: idOf(1, 0), Hi: idOf(9, 5)},
			Descend: []uint32{0, 2},
			Leaves: []Leaf{{Part: 1, Entries: []Entry{
				{CID: testCID("x"), MetaHash: 42, Size: 1 << 20},
				{Name: "lab/survey", Version: 3},
			}}, {Part: 0}}},
		{Type: MsgMeta, From: from, To: to, Metas: []BlockMeta{
			{CID: testCID("y"), Meta: Meta{Claims: []Claim{{Owner: "a@1", Seq: 5, Replicas: 4, Zones: []string{"x", "y"}}}}},
			{CID: testCID("z")},
		}},
		{Type: MsgDrop, From: from, To: to, CIDs: []cid.Cid{testCID("p"), testCID("q")}},
		{Type: MsgRecords, From: from, To: to, Records: []Record{{Name: "a", Version: 1, Data: []byte("rec")}}},
		{Type: MsgRecordsReq, From: from, To: to, Refs: []RecordRef{{Name: "a", Version: 1}, {Name: "b", Version: 9}}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		if !messagesEqual(m, got) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", m.Type, got, m)
		}
	}
}

// messagesEqual compares messages, treating nil and empty slices alike.
func messagesEqual(a, b Message) bool {
	ea, _ := a.MarshalBinary()
	eb, _ := b.MarshalBinary()
	return reflect.DeepEqual(ea, eb) && a.Type == b.Type && a.From == b.From && a.Range == b.Range
}

func TestMessageRejects(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad type", appendVarintField(nil, fType, 99)},
		{"short id", appendBytesField(appendVarintField(nil, fType, 1), fLo, []byte{1, 2})},
		{"hash without count", func() []byte {
			b := appendVarintField(nil, fType, 1)
			b = append(b, 0x41, 1, 0, 0, 0, 0, 0, 0, 0) // field 8, fixed64
			return b
		}()},
		{"entry with neither", appendBytesField(appendVarintField(nil, fType, 2), fLeaves, appendBytesField(nil, 2, appendVarintField(nil, 4, 1)))},
		{"bad cid", appendBytesField(appendVarintField(nil, fType, 5), fCIDs, []byte{0xff, 0xff})},
		{"truncated", []byte{0x08}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := m.UnmarshalBinary(tt.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	big := Message{Type: MsgRecords, Records: []Record{{Name: "a", Version: 1, Data: make([]byte, MaxMessageSize)}}}
	if _, err := big.MarshalBinary(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized message: err = %v", err)
	}
}

func FuzzMessageUnmarshal(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x08, 0x01, 0x5a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again Message
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decode of re-encoded message: %v", err)
		}
		enc2, err := again.MarshalBinary()
		if err != nil || !reflect.DeepEqual(enc, enc2) {
			t.Fatalf("encoding is not stable")
		}
	})
}
