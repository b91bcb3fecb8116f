package dataset

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is wrapped by every decoding error caused by bytes that are
// not a canonical encoding (bad wire format, unknown or out-of-order
// fields, non-minimal varints, zero values that should have been omitted).
var ErrMalformed = errors.New("malformed encoding")

// wireReader walks the fields of one protobuf message and enforces the
// canonical form written by the encoders of this package: fields appear
// in increasing field-number order, only fields in repeatable may appear
// more than once (and then consecutively), tags, lengths and varints are
// minimal.
type wireReader struct {
	buf        []byte
	repeatable uint64 // bit n set: field n may repeat
	last       protowire.Number
}

func newWireReader(b []byte, repeatable ...protowire.Number) *wireReader {
	r := &wireReader{buf: b}
	for _, n := range repeatable {
		r.repeatable |= 1 << uint(n)
	}
	return r
}

// done reports whether every byte was consumed.
func (r *wireReader) done() bool { return len(r.buf) == 0 }

// varint consumes one minimal varint.
func (r *wireReader) varint() (uint64, error) {
	v, n := protowire.ConsumeVarint(r.buf)
	if n < 0 {
		return 0, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	if n != protowire.SizeVarint(v) {
		return 0, fmt.Errorf("%w: non-minimal varint", ErrMalformed)
	}
	r.buf = r.buf[n:]
	return v, nil
}

// next consumes the next tag, checks field order and returns the field
// number. want is the wire type the caller expects for that number; it
// is looked up through wantType, which returns false for unknown fields.
func (r *wireReader) next(wantType func(protowire.Number) (protowire.Type, bool)) (protowire.Number, error) {
	t, err := r.varint()
	if err != nil {
		return 0, err
	}
	num, typ := protowire.DecodeTag(t)
	if num < protowire.MinValidNumber || num > 63 {
		return 0, fmt.Errorf("%w: bad field number %d", ErrMalformed, num)
	}
	want, ok := wantType(num)
	if !ok {
		return 0, fmt.Errorf("%w: unknown field %d", ErrMalformed, num)
	}
	if typ != want {
		return 0, fmt.Errorf("%w: field %d has wire type %d, want %d", ErrMalformed, num, typ, want)
	}
	switch {
	case num < r.last:
		return 0, fmt.Errorf("%w: field %d out of order", ErrMalformed, num)
	case num == r.last && r.repeatable&(1<<uint(num)) == 0:
		return 0, fmt.Errorf("%w: field %d repeated", ErrMalformed, num)
	}
	r.last = num
	return num, nil
}

// uint consumes a varint field value that must not be zero (zero values
// are omitted by the encoders).
func (r *wireReader) uint(num protowire.Number) (uint64, error) {
	v, err := r.varint()
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: field %d encodes a zero value", ErrMalformed, num)
	}
	return v, nil
}

// bytes consumes a length-delimited field value. Unless allowEmpty, an
// empty value is rejected (the encoders omit empty scalars). The result
// aliases the input.
func (r *wireReader) bytes(num protowire.Number, allowEmpty bool) ([]byte, error) {
	l, err := r.varint()
	if err != nil {
		return nil, err
	}
	if l > uint64(len(r.buf)) {
		return nil, fmt.Errorf("%w: field %d: truncated value", ErrMalformed, num)
	}
	if l == 0 && !allowEmpty {
		return nil, fmt.Errorf("%w: field %d encodes an empty value", ErrMalformed, num)
	}
	v := r.buf[:l]
	r.buf = r.buf[l:]
	return v, nil
}

// appendUint appends a varint field unless v is zero.
func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendString appends a length-delimited field unless s is empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendBytes appends a length-delimited field unless v is empty.
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
