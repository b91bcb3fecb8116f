// Package pbwire walks the fields of protobuf wire-format messages for the
// hand-written decoders of the ring, replication and block protocols. It
// is pure: it touches neither the network nor the disk.
package pbwire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Reader walks the fields of one message. Every value is consumed by its
// wire type, so a decoder only looks at the fields it knows and unknown
// ones are skipped.
type Reader struct {
	b         []byte
	malformed error
	err       error
}

// NewReader returns a Reader over b whose errors wrap malformed, the
// calling package's sentinel for bad input.
func NewReader(b []byte, malformed error) *Reader {
	return &Reader{b: b, malformed: malformed}
}

// Next returns the next field's number, type and raw value (for varint
// and fixed64 fields the value is in v), or ok=false at the end or on
// error (see Err).
func (r *Reader) Next() (num protowire.Number, typ protowire.Type, raw []byte, v uint64, ok bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, 0, nil, 0, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = fmt.Errorf("%w: %w", r.malformed, protowire.ParseError(n))
		return 0, 0, nil, 0, false
	}
	r.b = r.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(r.b)
	case protowire.Fixed64Type:
		v, n = protowire.ConsumeFixed64(r.b)
	case protowire.BytesType:
		raw, n = protowire.ConsumeBytes(r.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, r.b)
	}
	if n < 0 {
		r.err = fmt.Errorf("%w: field %d: %w", r.malformed, num, protowire.ParseError(n))
		return 0, 0, nil, 0, false
	}
	r.b = r.b[n:]
	return num, typ, raw, v, true
}

// Err returns the error that stopped Next, or nil at a clean end.
func (r *Reader) Err() error { return r.err }
