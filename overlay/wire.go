package overlay

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The wire form of a Message is protobuf, written and read by hand with
// protowire. As a schema:
//
//	message NodeRef {
//	  bytes id   = 1; // 32 bytes; absent for the zero ID
//	  bytes addr = 2; // at most MaxAddrLen bytes
//	}
//	message Message {
//	  uint32  type  = 1; // MsgType, required
//	  NodeRef from  = 2;
//	  NodeRef to    = 3;
//	  uint64  seq   = 4;
//	  bytes   key   = 5; // 32 bytes; absent for the zero key
//	  bool    done  = 6;
//	  NodeRef pred  = 7;
//	  repeated NodeRef nodes = 8; // at most MaxNodes
//	}
//
// Zero values are left out; a zero NodeRef in Nodes is an empty NodeRef.
// Unknown fields are skipped, so the format can grow.

// Bounds of the wire form.
const (
	MaxMessageSize = 64 << 10 // bytes in one encoded Message
	MaxNodes       = 512      // entries of Message.Nodes
	MaxAddrLen     = 256      // bytes of NodeRef.Addr
)

// Errors of the wire form; the errors returned wrap one of them.
var (
	ErrMessageTooLarge = errors.New("overlay: message too large")
	ErrMalformed       = errors.New("overlay: malformed message")
)

// Field numbers of the wire form.
const (
	fieldType  protowire.Number = 1
	fieldFrom  protowire.Number = 2
	fieldTo    protowire.Number = 3
	fieldSeq   protowire.Number = 4
	fieldKey   protowire.Number = 5
	fieldDone  protowire.Number = 6
	fieldPred  protowire.Number = 7
	fieldNodes protowire.Number = 8

	fieldRefID   protowire.Number = 1
	fieldRefAddr protowire.Number = 2
)

// refSize returns the encoded size of r's body.
func refSize(r NodeRef) int {
	s := 0
	if r.ID != (ID{}) {
		s += protowire.SizeTag(fieldRefID) + protowire.SizeBytes(len(r.ID))
	}
	if r.Addr != "" {
		s += protowire.SizeTag(fieldRefAddr) + protowire.SizeBytes(len(r.Addr))
	}
	return s
}

// refFieldSize returns the encoded size of r as field f (0 for a zero r
// unless always is set).
func refFieldSize(f protowire.Number, r NodeRef, always bool) int {
	if r.IsZero() && !always {
		return 0
	}
	return protowire.SizeTag(f) + protowire.SizeBytes(refSize(r))
}

// WireSize returns the length of m's wire form.
func (m Message) WireSize() int {
	s := protowire.SizeTag(fieldType) + protowire.SizeVarint(uint64(m.Type))
	s += refFieldSize(fieldFrom, m.From, false)
	s += refFieldSize(fieldTo, m.To, false)
	if m.Seq != 0 {
		s += protowire.SizeTag(fieldSeq) + protowire.SizeVarint(m.Seq)
	}
	if m.Key != (ID{}) {
		s += protowire.SizeTag(fieldKey) + protowire.SizeBytes(len(m.Key))
	}
	if m.Done {
		s += protowire.SizeTag(fieldDone) + 1
	}
	s += refFieldSize(fieldPred, m.Pred, false)
	for _, r := range m.Nodes {
		s += refFieldSize(fieldNodes, r, true)
	}
	return s
}

// validate checks m against the bounds of the wire form.
func (m Message) validate() error {
	if m.Type == 0 || m.Type > msgTypeLast {
		return fmt.Errorf("%w: unknown message type %d", ErrMalformed, m.Type)
	}
	if len(m.Nodes) > MaxNodes {
		return fmt.Errorf("%w: %d nodes, at most %d allowed", ErrMessageTooLarge, len(m.Nodes), MaxNodes)
	}
	for _, r := range [3]NodeRef{m.From, m.To, m.Pred} {
		if len(r.Addr) > MaxAddrLen {
			return fmt.Errorf("%w: address of %d bytes, at most %d allowed", ErrMessageTooLarge, len(r.Addr), MaxAddrLen)
		}
	}
	for _, r := range m.Nodes {
		if len(r.Addr) > MaxAddrLen {
			return fmt.Errorf("%w: address of %d bytes, at most %d allowed", ErrMessageTooLarge, len(r.Addr), MaxAddrLen)
		}
	}
	if s := m.WireSize(); s > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrMessageTooLarge, s, MaxMessageSize)
	}
	return nil
}

// MarshalBinary returns m's wire form.
func (m Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.WireSize()))
}

// AppendBinary appends m's wire form to b.
func (m Message) AppendBinary(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, err
	}
	b = protowire.AppendTag(b, fieldType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.Type))
	b = appendRef(b, fieldFrom, m.From, false)
	b = appendRef(b, fieldTo, m.To, false)
	if m.Seq != 0 {
		b = protowire.AppendTag(b, fieldSeq, protowire.VarintType)
		b = protowire.AppendVarint(b, m.Seq)
	}
	if m.Key != (ID{}) {
		b = protowire.AppendTag(b, fieldKey, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Key[:])
	}
	if m.Done {
		b = protowire.AppendTag(b, fieldDone, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	b = appendRef(b, fieldPred, m.Pred, false)
	for _, r := range m.Nodes {
		b = appendRef(b, fieldNodes, r, true)
	}
	return b, nil
}

// appendRef appends r as field f (nothing for a zero r unless always).
func appendRef(b []byte, f protowire.Number, r NodeRef, always bool) []byte {
	if r.IsZero() && !always {
		return b
	}
	b = protowire.AppendTag(b, f, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(refSize(r)))
	if r.ID != (ID{}) {
		b = protowire.AppendTag(b, fieldRefID, protowire.BytesType)
		b = protowire.AppendBytes(b, r.ID[:])
	}
	if r.Addr != "" {
		b = protowire.AppendTag(b, fieldRefAddr, protowire.BytesType)
		b = protowire.AppendString(b, r.Addr)
	}
	return b
}

// UnmarshalBinary sets m from its wire form b. On error m is unchanged.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrMessageTooLarge, len(b), MaxMessageSize)
	}
	var out Message
	var typ uint64
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: bad tag: %w", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var err error
		switch num {
		case fieldType, fieldSeq, fieldDone:
			var v uint64
			v, n, err = consumeVarint(b, wt, num)
			switch num {
			case fieldType:
				typ = v
			case fieldSeq:
				out.Seq = v
			case fieldDone:
				out.Done = v != 0
			}
		case fieldKey:
			var v []byte
			v, n, err = consumeBytes(b, wt, num)
			if err == nil {
				if len(v) != len(out.Key) {
					return fmt.Errorf("%w: key of %d bytes, want %d", ErrMalformed, len(v), len(out.Key))
				}
				copy(out.Key[:], v)
			}
		case fieldFrom, fieldTo, fieldPred, fieldNodes:
			var v []byte
			v, n, err = consumeBytes(b, wt, num)
			if err != nil {
				break
			}
			var r NodeRef
			if r, err = parseRef(v); err != nil {
				return fmt.Errorf("field %d: %w", num, err)
			}
			switch num {
			case fieldFrom:
				out.From = r
			case fieldTo:
				out.To = r
			case fieldPred:
				out.Pred = r
			case fieldNodes:
				if len(out.Nodes) == MaxNodes {
					return fmt.Errorf("%w: more than %d nodes", ErrMessageTooLarge, MaxNodes)
				}
				out.Nodes = append(out.Nodes, r)
			}
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
			if n < 0 {
				err = fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
			}
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	if typ == 0 || typ > uint64(msgTypeLast) {
		return fmt.Errorf("%w: unknown message type %d", ErrMalformed, typ)
	}
	out.Type = MsgType(typ)
	*m = out
	return nil
}

// consumeVarint reads the value of varint field num.
func consumeVarint(b []byte, wt protowire.Type, num protowire.Number) (uint64, int, error) {
	if wt != protowire.VarintType {
		return 0, 0, fmt.Errorf("%w: field %d has wire type %d, want varint", ErrMalformed, num, wt)
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
	}
	return v, n, nil
}

// consumeBytes reads the value of length-delimited field num.
func consumeBytes(b []byte, wt protowire.Type, num protowire.Number) ([]byte, int, error) {
	if wt != protowire.BytesType {
		return nil, 0, fmt.Errorf("%w: field %d has wire type %d, want bytes", ErrMalformed, num, wt)
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, fmt.Errorf("%w: field %d: %w", ErrMalformed, num, protowire.ParseError(n))
	}
	return v, n, nil
}

// parseRef decodes a NodeRef body.
func parseRef(b []byte) (NodeRef, error) {
	var r NodeRef
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return NodeRef{}, fmt.Errorf("%w: node ref: bad tag: %w", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldRefID, fieldRefAddr:
			v, n, err := consumeBytes(b, wt, num)
			if err != nil {
				return NodeRef{}, fmt.Errorf("node ref: %w", err)
			}
			b = b[n:]
			if num == fieldRefID {
				if len(v) != len(r.ID) {
					return NodeRef{}, fmt.Errorf("%w: node ID of %d bytes, want %d", ErrMalformed, len(v), len(r.ID))
				}
				copy(r.ID[:], v)
			} else {
				if len(v) > MaxAddrLen {
					return NodeRef{}, fmt.Errorf("%w: address of %d bytes, at most %d allowed", ErrMessageTooLarge, len(v), MaxAddrLen)
				}
				r.Addr = string(v)
			}
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
			if n < 0 {
				return NodeRef{}, fmt.Errorf("%w: node ref field %d: %w", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return r, nil
}
