package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/chorus-data/chorus/internal/pbwire"
	"github.com/chorus-data/chorus/replica"
)

// ReplicaProtocol carries the replication core's messages and the block
// transfers it asks for, one request per stream.
const ReplicaProtocol protocol.ID = "/chorus/replica/1.0.0"

// maxReplFrame bounds one frame of the replica protocol: a block and its
// metadata, or a core message.
const maxReplFrame = 8<<20 + 128<<10

// Bounds of the replica protocol's batched requests.
const (
	maxReplCIDs = 4096
	maxReplMeta = 64 << 10
)

// replKind is what a replica protocol frame carries.
type replKind uint8

const (
	// replCore carries one replica.Message; there is no answer.
	replCore replKind = iota + 1
	// replPut stores a block with its metadata (a repair push); the answer
	// carries the status.
	replPut
	// replGet asks for a block with its metadata (a repair pull).
	replGet
	// replHolds asks which of CIDs the peer holds; the answer has Held and
	// Metas parallel to CIDs, and the peer's Zone.
	replHolds
	// replClaim merges Metas[i] into the peer's copy of CIDs[i]; the answer
	// counts the copies updated.
	replClaim
	replKindMax = replClaim
)

// replFrame is one request or answer of the replica protocol. As a
// protobuf schema:
//
//	message ReplFrame {
//	  uint32 kind = 1; uint32 status = 2; bytes err = 3; bytes msg = 4;
//	  bytes cid = 5; bytes data = 6; bytes meta = 7; repeated bytes cids = 8;
//	  repeated bool held = 9; repeated bytes metas = 10; bytes zone = 11;
//	  uint64 count = 12;
//	}
type replFrame struct {
	Kind   replKind
	Status status
	Err    string
	Msg    []byte
	CID    []byte
	Data   []byte
	Meta   []byte
	CIDs   [][]byte
	Held   []bool
	Metas  [][]byte
	Zone   string
	Count  uint64
}

func (f *replFrame) marshal() []byte {
	b := make([]byte, 0, len(f.Data)+len(f.Msg)+len(f.Meta)+64)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(f.Kind))
	if f.Status != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(f.Status))
	}
	appendB := func(num protowire.Number, v []byte) {
		if len(v) > 0 {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		}
	}
	appendB(3, []byte(f.Err))
	appendB(4, f.Msg)
	appendB(5, f.CID)
	appendB(6, f.Data)
	appendB(7, f.Meta)
	for _, c := range f.CIDs {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, c)
	}
	for _, h := range f.Held {
		b = protowire.AppendTag(b, 9, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(h))
	}
	for _, m := range f.Metas {
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	appendB(11, []byte(f.Zone))
	if f.Count != 0 {
		b = protowire.AppendTag(b, 12, protowire.VarintType)
		b = protowire.AppendVarint(b, f.Count)
	}
	return b
}

func (f *replFrame) unmarshal(b []byte) error {
	*f = replFrame{}
	r := pbwire.NewReader(b, errMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == 1 && typ == protowire.VarintType:
			if v == 0 || v > uint64(replKindMax) {
				return fmt.Errorf("%w: kind %d", errMalformed, v)
			}
			f.Kind = replKind(v)
		case num == 2 && typ == protowire.VarintType:
			if v == 0 || v > uint64(statusError) {
				return fmt.Errorf("%w: status %d", errMalformed, v)
			}
			f.Status = status(v)
		case num == 3 && typ == protowire.BytesType:
			if len(raw) > maxRPCString {
				return fmt.Errorf("%w: error text", errMalformed)
			}
			f.Err = string(raw)
		case num == 4 && typ == protowire.BytesType:
			if len(raw) > replica.MaxMessageSize {
				return fmt.Errorf("%w: message of %d bytes", errMalformed, len(raw))
			}
			f.Msg = raw
		case num == 5 && typ == protowire.BytesType:
			if len(raw) > replica.MaxCIDLen {
				return fmt.Errorf("%w: cid", errMalformed)
			}
			f.CID = raw
		case num == 6 && typ == protowire.BytesType:
			f.Data = raw
		case num == 7 && typ == protowire.BytesType:
			if len(raw) > maxReplMeta {
				return fmt.Errorf("%w: meta", errMalformed)
			}
			f.Meta = raw
		case num == 8 && typ == protowire.BytesType:
			if len(raw) > replica.MaxCIDLen || len(f.CIDs) >= maxReplCIDs {
				return fmt.Errorf("%w: cids", errMalformed)
			}
			f.CIDs = append(f.CIDs, raw)
		case num == 9 && typ == protowire.VarintType:
			if len(f.Held) >= maxReplCIDs {
				return fmt.Errorf("%w: held", errMalformed)
			}
			f.Held = append(f.Held, protowire.DecodeBool(v))
		case num == 10 && typ == protowire.BytesType:
			if len(raw) > maxReplMeta || len(f.Metas) >= maxReplCIDs {
				return fmt.Errorf("%w: metas", errMalformed)
			}
			f.Metas = append(f.Metas, raw)
		case num == 11 && typ == protowire.BytesType:
			if len(raw) > replica.MaxZoneLen {
				return fmt.Errorf("%w: zone", errMalformed)
			}
			f.Zone = string(raw)
		case num == 12 && typ == protowire.VarintType:
			f.Count = v
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	if f.Kind == 0 {
		return fmt.Errorf("%w: missing kind", errMalformed)
	}
	return nil
}
