package node

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestRPCRoundTrip(t *testing.T) {
	reqs := []rpcRequest{
		{Op: opBlockPut, CID: []byte{1, 2, 3}, Data: []byte("hello")},
		{Op: opRecordGet, Name: "sky/survey", Version: 7},
		{Op: opNamesList},
		{Op: opRingSample},
		{Op: opBlockPutMany, Blocks: []rpcBlock{{CID: []byte{1}, Data: []byte("a")}, {CID: []byte{2}, Data: []byte("b")}}},
	}
	for _, q := range reqs {
		var got rpcRequest
		if err := got.unmarshal(q.marshal()); err != nil {
			t.Fatalf("unmarshal %+v: %v", q, err)
		}
		if !reflect.DeepEqual(got, q) {
			t.Fatalf("round trip: got %+v want %+v", got, q)
		}
	}
	resps := []rpcResponse{
		{Status: statusOK, Data: []byte("x"), Has: true},
		{Status: statusConflict, Err: "taken"},
		{Status: statusOK, Versions: []uint64{1, 2, 3}, Names: []string{"a", "b"}},
		{Status: statusOK, Blocks: []rpcBlock{{Status: statusOK, Data: []byte("x")}, {Status: statusNotFound}}},
		{Status: statusOK, Ring: [][]byte{bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 32)}},
	}
	for _, r := range resps {
		var got rpcResponse
		if err := got.unmarshal(r.marshal()); err != nil {
			t.Fatalf("unmarshal %+v: %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip: got %+v want %+v", got, r)
		}
	}
}

func TestRPCRejectsGarbage(t *testing.T) {
	bad := [][]byte{
		nil,
		{0xff},
		{0x08, 0x63},       // op 99
		{0x12, 0x05, 0x01}, // truncated bytes field
	}
	for _, b := range bad {
		var q rpcRequest
		if err := q.unmarshal(b); !errors.Is(err, errMalformed) {
			t.Errorf("request %x: got %v, want errMalformed", b, err)
		}
		var r rpcResponse
		if err := r.unmarshal(b); !errors.Is(err, errMalformed) {
			t.Errorf("response %x: got %v, want errMalformed", b, err)
		}
	}
}

func TestFrameBound(t *testing.T) {
	var buf bytes.Buffer
	if err := writeFrame(&buf, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(buf.Bytes())), 99); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("got %v, want errFrameTooLarge", err)
	}
	got, err := readFrame(bufio.NewReader(bytes.NewReader(buf.Bytes())), 100)
	if err != nil || len(got) != 100 {
		t.Fatalf("readFrame = %d bytes, %v", len(got), err)
	}
}

func FuzzRPCRequest(f *testing.F) {
	f.Add((&rpcRequest{Op: opBlockPut, CID: []byte{1}, Data: []byte("d")}).marshal())
	f.Add((&rpcRequest{Op: opRecordPut, Name: "n", Version: 3}).marshal())
	f.Add((&rpcRequest{Op: opBlockGetMany, Blocks: []rpcBlock{{CID: []byte{1}}}}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var q rpcRequest
		if err := q.unmarshal(b); err != nil {
			return
		}
		var again rpcRequest
		if err := again.unmarshal(q.marshal()); err != nil {
			t.Fatalf("re-decode of valid request failed: %v", err)
		}
	})
}

func FuzzRPCResponse(f *testing.F) {
	f.Add((&rpcResponse{Status: statusOK, Versions: []uint64{1}, Names: []string{"a"}}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var r rpcResponse
		if err := r.unmarshal(b); err != nil {
			return
		}
		var again rpcResponse
		if err := again.unmarshal(r.marshal()); err != nil {
			t.Fatalf("re-decode of valid response failed: %v", err)
		}
	})
}

func TestRPCRejectsPartialRingRun(t *testing.T) {
	// Status OK, then a ring run of 3 bytes: not a whole number of IDs.
	var r rpcResponse
	if err := r.unmarshal([]byte{0x08, 0x01, 0x42, 0x03, 1, 2, 3}); !errors.Is(err, errMalformed) {
		t.Fatalf("got %v, want errMalformed", err)
	}
}

// TestRPCMarshalParts: a message written in parts (a large Data field last
// and uncopied) reads back as the same message, through a frame.
func TestRPCMarshalParts(t *testing.T) {
	big := bytes.Repeat([]byte("block bytes "), splitData)
	for _, data := range [][]byte{nil, []byte("small"), big} {
		q := rpcRequest{Op: opBlockPut, CID: []byte{1, 2, 3}, Data: data, Name: "n", Version: 3}
		r := rpcResponse{Status: statusOK, Data: data, Has: true, Versions: []uint64{4}}
		var buf bytes.Buffer
		if err := writeFrame(&buf, pair(q.marshalParts())...); err != nil {
			t.Fatal(err)
		}
		if err := writeFrame(&buf, pair(r.marshalParts())...); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(&buf)
		var gotQ rpcRequest
		var gotR rpcResponse
		b, err := readFrame(br, maxBlockFrame)
		if err != nil {
			t.Fatal(err)
		}
		if err := gotQ.unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if b, err = readFrame(br, maxBlockFrame); err != nil {
			t.Fatal(err)
		}
		if err := gotR.unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotQ.Data, data) || !bytes.Equal(gotR.Data, data) {
			t.Fatalf("%d-byte data: request %d bytes, response %d bytes", len(data), len(gotQ.Data), len(gotR.Data))
		}
		gotQ.Data, q.Data, gotR.Data, r.Data = nil, nil, nil, nil
		if !reflect.DeepEqual(gotQ, q) || !reflect.DeepEqual(gotR, r) {
			t.Fatalf("round trip: got %+v %+v, want %+v %+v", gotQ, gotR, q, r)
		}
	}
}
