package node

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// frameOf encodes parts as one length-prefixed frame.
func frameOf(t testing.TB, parts ...[]byte) []byte {
	var buf bytes.Buffer
	if err := writeFrame(&buf, parts...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadSplitFrame(t *testing.T) {
	big := bytes.Repeat([]byte{7}, poolMin+10)
	small := bytes.Repeat([]byte{7}, poolMin-1)
	okHead, okTail := (&rpcResponse{Status: statusOK, Data: big}).marshalParts()
	// Data first, another field after it: not the last field.
	notLast := protowire.AppendTag(nil, fRespData, protowire.BytesType)
	notLast = protowire.AppendBytes(notLast, big)
	notLast = protowire.AppendTag(notLast, fRespStatus, protowire.VarintType)
	notLast = protowire.AppendVarint(notLast, uint64(statusOK))
	// Long names before the data pushes its header out of the
	// peeked prefix.
	var names []string
	for range 10 {
		names = append(names, string(bytes.Repeat([]byte{'n'}, 500)))
	}
	longErr, longTail := (&rpcResponse{Status: statusOK, Names: names, Data: big}).marshalParts()
	tests := []struct {
		name      string
		frame     []byte
		wantSplit bool
	}{
		{"large data last", frameOf(t, okHead, okTail), true},
		{"small data", frameOf(t, (&rpcResponse{Status: statusOK, Data: small}).marshal()), false},
		{"data not last", frameOf(t, notLast), false},
		{"header beyond the peek", frameOf(t, longErr, longTail), false},
		{"no data", frameOf(t, (&rpcResponse{Status: statusNotFound}).marshal()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, data, err := readSplitFrame(bufio.NewReader(bytes.NewReader(tt.frame)), maxBlockFrame, fRespData)
			if err != nil {
				t.Fatal(err)
			}
			if got := data != nil; got != tt.wantSplit {
				t.Fatalf("split = %v, want %v", got, tt.wantSplit)
			}
			var got, want rpcResponse
			if err := got.unmarshal(head); err != nil {
				t.Fatal(err)
			}
			if data != nil {
				got.Data = data
				if cap(data) != bufClasses[bufClass(len(data))] {
					t.Errorf("data buffer has capacity %d, not a pool class", cap(data))
				}
			}
			full, err := readFrame(bufio.NewReader(bytes.NewReader(tt.frame)), maxBlockFrame)
			if err != nil {
				t.Fatal(err)
			}
			if err := want.unmarshal(full); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("split decoding differs from whole decoding")
			}
		})
	}
	// A frame cut short fails either way.
	f := frameOf(t, okHead, okTail)
	if _, _, err := readSplitFrame(bufio.NewReader(bytes.NewReader(f[:len(f)-1])), maxBlockFrame, fRespData); err == nil {
		t.Error("a truncated frame was read without error")
	}
	if _, _, err := readSplitFrame(bufio.NewReader(bytes.NewReader(f)), poolMin, fRespData); err == nil {
		t.Error("a frame over the bound was read without error")
	}
}

// FuzzReadSplitFrame: whatever the frame, reading it split and decoding
// head then data gives what decoding the whole frame gives.
func FuzzReadSplitFrame(f *testing.F) {
	big := bytes.Repeat([]byte{1}, poolMin)
	h, d := (&rpcResponse{Status: statusOK, Data: big}).marshalParts()
	f.Add(append(h, d...))
	f.Add((&rpcResponse{Status: statusError, Err: "x"}).marshal())
	f.Add([]byte{0x1a, 0x80, 0x80, 0x04})
	f.Fuzz(func(t *testing.T, body []byte) {
		// Pad bodies to the size where splitting is tried.
		if len(body) < poolMin {
			pad := protowire.AppendTag(nil, 15, protowire.BytesType)
			pad = protowire.AppendBytes(pad, make([]byte, poolMin))
			body = append(pad, body...)
		}
		frame := frameOf(t, body)
		head, data, err := readSplitFrame(bufio.NewReader(bytes.NewReader(frame)), maxBlockFrame, fRespData)
		if err != nil {
			t.Fatal(err)
		}
		var got, want rpcResponse
		gotErr := got.unmarshal(head)
		if data != nil && gotErr == nil {
			got.Data = data
		}
		wantErr := want.unmarshal(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("split decoding error %v, whole decoding error %v", gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("split decoding differs from whole decoding")
		}
	})
}
