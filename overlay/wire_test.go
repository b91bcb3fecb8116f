package overlay

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func sampleRef(i int) NodeRef {
	return NodeRef{ID: HashID([]byte{byte(i), byte(i >> 8)}), Addr: "12D3KooW" + strings.Repeat("x", i%40)}
}

func sampleMessages() []Message {
	nodes := make([]NodeRef, 30)
	for i := range nodes {
		nodes[i] = sampleRef(i + 10)
	}
	return []Message{
		{Type: MsgPing, From: sampleRef(1), To: sampleRef(2), Seq: 1},
		{Type: MsgFindSucc, From: sampleRef(1), To: sampleRef(2), Seq: 1 << 40, Key: HashID([]byte("k"))},
		{Type: MsgFindSuccReply, From: sampleRef(2), To: sampleRef(1), Seq: 7, Key: HashID([]byte("k")), Done: true, Nodes: nodes},
		{Type: MsgGetStateReply, From: sampleRef(2), To: sampleRef(1), Seq: 9, Pred: sampleRef(3), Nodes: nodes[:3]},
		{Type: MsgLeave, From: sampleRef(2), Pred: sampleRef(3), Nodes: []NodeRef{{}, {Addr: "only-addr"}, {ID: idOf(1)}}},
		{Type: MsgNotify},
		{Type: MsgFindSuccReply, From: sampleRef(2), To: sampleRef(1), Seq: 8, Key: HashID([]byte("k")), Done: true, Pred: sampleRef(4), Nodes: nodes[5:]},
		{Type: MsgGetFingers, From: sampleRef(1), To: sampleRef(2), Seq: 10},
		{Type: MsgGetFingersReply, From: sampleRef(2), To: sampleRef(1), Seq: 10, Nodes: nodes},
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("Marshal %v: %v", m.Type, err)
		}
		if len(b) != m.WireSize() {
			t.Errorf("%v: WireSize %d, encoded %d bytes", m.Type, m.WireSize(), len(b))
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("Unmarshal %v: %v", m.Type, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %v:\n got %+v\nwant %+v", m.Type, got, m)
		}
		// Appending after a prefix leaves the prefix alone.
		b2, err := m.AppendBinary([]byte("pre"))
		if err != nil || string(b2[:3]) != "pre" || string(b2[3:]) != string(b) {
			t.Errorf("AppendBinary: %q, %v", b2, err)
		}
	}
}

func TestWireSkipsUnknownFields(t *testing.T) {
	m := sampleMessages()[1]
	b, _ := m.MarshalBinary()
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	b = protowire.AppendString(b, "future")
	b = protowire.AppendTag(b, 100, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	var got Message
	if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("with unknown fields: %+v, %v", got, err)
	}
}

func TestWireErrors(t *testing.T) {
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	typePing := protowire.AppendVarint(tag(nil, fieldType, protowire.VarintType), uint64(MsgPing))
	ref := func(body []byte) []byte {
		return protowire.AppendBytes(tag(typePing, fieldFrom, protowire.BytesType), body)
	}
	tooMany := Message{Type: MsgGetStateReply, Nodes: make([]NodeRef, MaxNodes+1)}
	tooBig := Message{Type: MsgGetStateReply, Nodes: make([]NodeRef, MaxNodes)}
	for i := range tooBig.Nodes {
		tooBig.Nodes[i] = NodeRef{ID: idOf(uint64(i)), Addr: strings.Repeat("a", MaxAddrLen)}
	}
	manyNodes := typePing
	for i := 0; i <= MaxNodes; i++ {
		manyNodes = protowire.AppendBytes(tag(manyNodes, fieldNodes, protowire.BytesType), nil)
	}

	marshal := []struct {
		name string
		m    Message
		want error
	}{
		{"no type", Message{}, ErrMalformed},
		{"unknown type", Message{Type: 42}, ErrMalformed},
		{"too many nodes", tooMany, ErrMessageTooLarge},
		{"too large", tooBig, ErrMessageTooLarge},
		{"long addr", Message{Type: MsgPing, From: NodeRef{Addr: strings.Repeat("a", MaxAddrLen+1)}}, ErrMessageTooLarge},
		{"long node addr", Message{Type: MsgPing, Nodes: []NodeRef{{Addr: strings.Repeat("a", MaxAddrLen+1)}}}, ErrMessageTooLarge},
	}
	for _, tt := range marshal {
		if _, err := tt.m.MarshalBinary(); !errors.Is(err, tt.want) {
			t.Errorf("Marshal %s: %v, want %v", tt.name, err, tt.want)
		}
	}

	unmarshal := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"no type", protowire.AppendVarint(tag(nil, fieldSeq, protowire.VarintType), 3), ErrMalformed},
		{"unknown type", protowire.AppendVarint(tag(nil, fieldType, protowire.VarintType), 300), ErrMalformed},
		{"bad tag", []byte{0x80}, ErrMalformed},
		{"truncated varint", append(tag(nil, fieldType, protowire.VarintType), 0x80), ErrMalformed},
		{"truncated bytes", append(tag(typePing, fieldKey, protowire.BytesType), 10, 1, 2), ErrMalformed},
		{"wrong wire type", protowire.AppendBytes(tag(nil, fieldType, protowire.BytesType), []byte{1}), ErrMalformed},
		{"wrong wire type ref", protowire.AppendVarint(tag(typePing, fieldPred, protowire.VarintType), 1), ErrMalformed},
		{"short key", protowire.AppendBytes(tag(typePing, fieldKey, protowire.BytesType), []byte{1, 2}), ErrMalformed},
		{"short id", ref(protowire.AppendBytes(tag(nil, fieldRefID, protowire.BytesType), []byte{1})), ErrMalformed},
		{"long addr", ref(protowire.AppendBytes(tag(nil, fieldRefAddr, protowire.BytesType), make([]byte, MaxAddrLen+1))), ErrMessageTooLarge},
		{"bad ref", ref([]byte{0xff}), ErrMalformed},
		{"too many nodes", manyNodes, ErrMessageTooLarge},
		{"too large", make([]byte, MaxMessageSize+1), ErrMessageTooLarge},
		{"bad unknown field", append(tag(typePing, 50, protowire.BytesType), 5), ErrMalformed},
	}
	for _, tt := range unmarshal {
		m := Message{Seq: 77}
		err := m.UnmarshalBinary(tt.b)
		if !errors.Is(err, tt.want) {
			t.Errorf("Unmarshal %s: %v, want %v", tt.name, err, tt.want)
		}
		if m.Seq != 77 {
			t.Errorf("Unmarshal %s changed the message on error", tt.name)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if len(out) != m.WireSize() {
			t.Fatalf("WireSize %d, encoded %d", m.WireSize(), len(out))
		}
		var again Message
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", again, m)
		}
	})
}
