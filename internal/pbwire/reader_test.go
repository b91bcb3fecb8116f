package pbwire

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

var errBad = errors.New("bad")

func TestReader(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("abc"))
	b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 9)
	tests := []struct {
		name    string
		in      []byte
		fields  int
		wantErr bool
	}{
		{"empty", nil, 0, false},
		{"all types", b, 4, false},
		{"bad tag", []byte{0xff}, 0, true},
		{"truncated fixed64", b[:len(b)-12], 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.in, errBad)
			n := 0
			for {
				num, _, raw, v, ok := r.Next()
				if !ok {
					break
				}
				n++
				if num == 1 && v != 300 || num == 2 && string(raw) != "abc" || num == 3 && v != 7 {
					t.Fatalf("field %d: raw %q v %d", num, raw, v)
				}
			}
			if n != tt.fields || (r.Err() != nil) != tt.wantErr {
				t.Fatalf("%d fields, err %v", n, r.Err())
			}
			if tt.wantErr && !errors.Is(r.Err(), errBad) {
				t.Fatalf("err %v does not wrap the sentinel", r.Err())
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x12, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b, errBad)
		for {
			if _, _, _, _, ok := r.Next(); !ok {
				break
			}
		}
		if err := r.Err(); err != nil && !errors.Is(err, errBad) {
			t.Fatalf("error %v does not wrap the sentinel", err)
		}
	})
}
