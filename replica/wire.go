package replica

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/chorus-data/chorus/internal/pbwire"
	"github.com/chorus-data/chorus/overlay"
)

// The wire form of a Message is protobuf written by hand with protowire:
//
//	message NodeRef { bytes id = 1; bytes addr = 2; }
//	message Entry   { bytes cid = 1; bytes name = 2; uint64 version = 3;
//	                  fixed64 meta_hash = 4; uint64 size = 5; }
//	message Leaf    { uint32 part = 1; repeated Entry entries = 2; }
//	message Meta    { bytes cid = 1; bytes meta = 2; }  // meta: see meta.go
//	message Record  { bytes name = 1; uint64 version = 2; bytes data = 3; }
//	message Message {
//	  uint32 type = 1; NodeRef from = 2; NodeRef to = 3; bytes zone = 4;
//	  uint64 session = 5; bytes lo = 6; bytes hi = 7;
//	  repeated fixed64 hashes = 8; repeated uint32 counts = 9;
//	  repeated uint32 descend = 10; repeated Leaf leaves = 11;
//	  repeated Meta metas = 12; repeated bytes cids = 13;
//	  repeated Record records = 14; repeated Record refs = 15; // no data
//	}
//
// Zero values are left out; unknown fields are skipped.

// Bounds of the wire form.
const (
	// MaxMessageSize bounds one encoded Message.
	MaxMessageSize = 2 << 20
	// MaxParts bounds the parts of one MsgSync digest.
	MaxParts = 256
	// MaxEntries bounds the entries of all leaves of one message.
	MaxEntries = 1 << 15
	// MaxItems bounds Metas, CIDs and Refs of one message.
	MaxItems = 1 << 14
	// MaxRecords bounds the records of one MsgRecords.
	MaxRecords = 256
	// MaxAddrLen bounds NodeRef.Addr.
	MaxAddrLen = 256
	// MaxNameLen bounds record names.
	MaxNameLen = 256
	// MaxCIDLen bounds an encoded CID.
	MaxCIDLen = 128
	// MaxRecordLen bounds one record's bytes.
	MaxRecordLen = 64 << 10
)

// Errors of the wire form.
var (
	ErrMessageTooLarge = errors.New("replica: message too large")
	ErrMalformed       = errors.New("replica: malformed message")
)

const (
	fType    protowire.Number = 1
	fFrom    protowire.Number = 2
	fTo      protowire.Number = 3
	fZone    protowire.Number = 4
	fSession protowire.Number = 5
	fLo      protowire.Number = 6
	fHi      protowire.Number = 7
	fHashes  protowire.Number = 8
	fCounts  protowire.Number = 9
	fDescend protowire.Number = 10
	fLeaves  protowire.Number = 11
	fMetas   protowire.Number = 12
	fCIDs    protowire.Number = 13
	fRecords protowire.Number = 14
	fRefs    protowire.Number = 15
)

func appendBytesField(b []byte, f protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, f protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, f, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendRef(b []byte, f protowire.Number, r overlay.NodeRef) []byte {
	if r.IsZero() {
		return b
	}
	var rb []byte
	if r.ID != (overlay.ID{}) {
		rb = appendBytesField(rb, 1, r.ID[:])
	}
	if r.Addr != "" {
		rb = appendBytesField(rb, 2, []byte(r.Addr))
	}
	return appendBytesField(b, f, rb)
}

// MarshalBinary returns m's wire form, or ErrMessageTooLarge.
func (m *Message) MarshalBinary() ([]byte, error) {
	b := appendVarintField(nil, fType, uint64(m.Type))
	b = appendRef(b, fFrom, m.From)
	b = appendRef(b, fTo, m.To)
	if m.Zone != "" {
		b = appendBytesField(b, fZone, []byte(m.Zone))
	}
	if m.Session != 0 {
		b = appendVarintField(b, fSession, m.Session)
	}
	if m.Range.Lo != (overlay.ID{}) {
		b = appendBytesField(b, fLo, m.Range.Lo[:])
	}
	if m.Range.Hi != (overlay.ID{}) {
		b = appendBytesField(b, fHi, m.Range.Hi[:])
	}
	for _, h := range m.Hashes {
		b = protowire.AppendTag(b, fHashes, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, h)
	}
	for _, c := range m.Counts {
		b = appendVarintField(b, fCounts, uint64(c))
	}
	for _, d := range m.Descend {
		b = appendVarintField(b, fDescend, uint64(d))
	}
	for _, l := range m.Leaves {
		var lb []byte
		if l.Part != 0 {
			lb = appendVarintField(lb, 1, uint64(l.Part))
		}
		for _, e := range l.Entries {
			var eb []byte
			if e.CID.Defined() {
				eb = appendBytesField(eb, 1, e.CID.Bytes())
			}
			if e.Name != "" {
				eb = appendBytesField(eb, 2, []byte(e.Name))
			}
			if e.Version != 0 {
				eb = appendVarintField(eb, 3, e.Version)
			}
			if e.MetaHash != 0 {
				eb = protowire.AppendTag(eb, 4, protowire.Fixed64Type)
				eb = protowire.AppendFixed64(eb, e.MetaHash)
			}
			if e.Size != 0 {
				eb = appendVarintField(eb, 5, uint64(e.Size))
			}
			lb = appendBytesField(lb, 2, eb)
		}
		b = appendBytesField(b, fLeaves, lb)
	}
	for _, bm := range m.Metas {
		var mb []byte
		if bm.CID.Defined() {
			mb = appendBytesField(mb, 1, bm.CID.Bytes())
		}
		if !bm.Meta.IsZero() {
			mb = appendBytesField(mb, 2, bm.Meta.AppendBinary(nil))
		}
		b = appendBytesField(b, fMetas, mb)
	}
	for _, c := range m.CIDs {
		b = appendBytesField(b, fCIDs, c.Bytes())
	}
	for _, r := range m.Records {
		b = appendBytesField(b, fRecords, appendRecord(nil, r.Name, r.Version, r.Data))
	}
	for _, r := range m.Refs {
		b = appendBytesField(b, fRefs, appendRecord(nil, r.Name, r.Version, nil))
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	return b, nil
}

func appendRecord(b []byte, name string, version uint64, data []byte) []byte {
	if name != "" {
		b = appendBytesField(b, 1, []byte(name))
	}
	if version != 0 {
		b = appendVarintField(b, 2, version)
	}
	if len(data) > 0 {
		b = appendBytesField(b, 3, data)
	}
	return b
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func parseID(raw []byte) (overlay.ID, error) {
	var id overlay.ID
	if len(raw) != len(id) {
		return id, malformed("id of %d bytes", len(raw))
	}
	copy(id[:], raw)
	return id, nil
}

func parseRef(b []byte) (overlay.NodeRef, error) {
	var ref overlay.NodeRef
	r := pbwire.NewReader(b, ErrMalformed)
	for {
		num, typ, raw, _, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			id, err := parseID(raw)
			if err != nil {
				return ref, err
			}
			ref.ID = id
		case num == 2 && typ == protowire.BytesType:
			if len(raw) > MaxAddrLen {
				return ref, malformed("address of %d bytes", len(raw))
			}
			ref.Addr = string(raw)
		}
	}
	return ref, r.Err()
}

func parseCID(raw []byte) (cid.Cid, error) {
	if len(raw) == 0 || len(raw) > MaxCIDLen {
		return cid.Undef, malformed("cid of %d bytes", len(raw))
	}
	c, err := cid.Cast(raw)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: cid: %w", ErrMalformed, err)
	}
	return c, nil
}

func parseRecord(b []byte, withData bool) (Record, error) {
	var rec Record
	r := pbwire.NewReader(b, ErrMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			if len(raw) == 0 || len(raw) > MaxNameLen {
				return rec, malformed("record name of %d bytes", len(raw))
			}
			rec.Name = string(raw)
		case num == 2 && typ == protowire.VarintType:
			rec.Version = v
		case num == 3 && typ == protowire.BytesType && withData:
			if len(raw) > MaxRecordLen {
				return rec, malformed("record of %d bytes", len(raw))
			}
			rec.Data = append([]byte(nil), raw...)
		}
	}
	if r.Err() != nil {
		return rec, r.Err()
	}
	if rec.Name == "" {
		return rec, malformed("record without a name")
	}
	return rec, nil
}

func parseEntry(b []byte) (Entry, error) {
	var e Entry
	r := pbwire.NewReader(b, ErrMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			c, err := parseCID(raw)
			if err != nil {
				return e, err
			}
			e.CID = c
		case num == 2 && typ == protowire.BytesType:
			if len(raw) == 0 || len(raw) > MaxNameLen {
				return e, malformed("entry name of %d bytes", len(raw))
			}
			e.Name = string(raw)
		case num == 3 && typ == protowire.VarintType:
			e.Version = v
		case num == 4 && typ == protowire.Fixed64Type:
			e.MetaHash = v
		case num == 5 && typ == protowire.VarintType:
			if v > 1<<62 {
				return e, malformed("size %d", v)
			}
			e.Size = int64(v)
		}
	}
	if r.Err() != nil {
		return e, r.Err()
	}
	if e.CID.Defined() == (e.Name != "") {
		return e, malformed("an entry names either a block or a record")
	}
	return e, nil
}

// UnmarshalBinary decodes a Message, checking every bound.
func (m *Message) UnmarshalBinary(b []byte) error {
	*m = Message{}
	if len(b) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	entries := 0
	r := pbwire.NewReader(b, ErrMalformed)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		var err error
		switch {
		case num == fType && typ == protowire.VarintType:
			if v == 0 || v > uint64(MsgRecordsReq) {
				return malformed("type %d", v)
			}
			m.Type = MsgType(v)
		case num == fFrom && typ == protowire.BytesType:
			m.From, err = parseRef(raw)
		case num == fTo && typ == protowire.BytesType:
			m.To, err = parseRef(raw)
		case num == fZone && typ == protowire.BytesType:
			if len(raw) > MaxZoneLen {
				return malformed("zone of %d bytes", len(raw))
			}
			m.Zone = string(raw)
		case num == fSession && typ == protowire.VarintType:
			m.Session = v
		case num == fLo && typ == protowire.BytesType:
			m.Range.Lo, err = parseID(raw)
		case num == fHi && typ == protowire.BytesType:
			m.Range.Hi, err = parseID(raw)
		case num == fHashes && typ == protowire.Fixed64Type:
			if len(m.Hashes) >= MaxParts {
				return malformed("more than %d hashes", MaxParts)
			}
			m.Hashes = append(m.Hashes, v)
		case num == fCounts && typ == protowire.VarintType:
			if len(m.Counts) >= MaxParts || v > 1<<32-1 {
				return malformed("counts")
			}
			m.Counts = append(m.Counts, uint32(v))
		case num == fDescend && typ == protowire.VarintType:
			if len(m.Descend) >= MaxParts || v >= MaxParts {
				return malformed("descend")
			}
			m.Descend = append(m.Descend, uint32(v))
		case num == fLeaves && typ == protowire.BytesType:
			if len(m.Leaves) >= MaxParts {
				return malformed("more than %d leaves", MaxParts)
			}
			var l Leaf
			lr := pbwire.NewReader(raw, ErrMalformed)
			for {
				ln, lt, lraw, lv, ok := lr.Next()
				if !ok {
					break
				}
				switch {
				case ln == 1 && lt == protowire.VarintType:
					if lv >= MaxParts {
						return malformed("leaf part %d", lv)
					}
					l.Part = uint32(lv)
				case ln == 2 && lt == protowire.BytesType:
					if entries++; entries > MaxEntries {
						return malformed("more than %d entries", MaxEntries)
					}
					e, err := parseEntry(lraw)
					if err != nil {
						return err
					}
					l.Entries = append(l.Entries, e)
				}
			}
			if lr.Err() != nil {
				return lr.Err()
			}
			m.Leaves = append(m.Leaves, l)
		case num == fMetas && typ == protowire.BytesType:
			if len(m.Metas) >= MaxItems {
				return malformed("more than %d metas", MaxItems)
			}
			var bm BlockMeta
			mr := pbwire.NewReader(raw, ErrMalformed)
			for {
				mn, mt, mraw, _, ok := mr.Next()
				if !ok {
					break
				}
				switch {
				case mn == 1 && mt == protowire.BytesType:
					if bm.CID, err = parseCID(mraw); err != nil {
						return err
					}
				case mn == 2 && mt == protowire.BytesType:
					if bm.Meta, err = UnmarshalMeta(mraw); err != nil {
						return fmt.Errorf("%w: %w", ErrMalformed, err)
					}
				}
			}
			if mr.Err() != nil {
				return mr.Err()
			}
			if !bm.CID.Defined() {
				return malformed("meta without a cid")
			}
			m.Metas = append(m.Metas, bm)
		case num == fCIDs && typ == protowire.BytesType:
			if len(m.CIDs) >= MaxItems {
				return malformed("more than %d cids", MaxItems)
			}
			c, err := parseCID(raw)
			if err != nil {
				return err
			}
			m.CIDs = append(m.CIDs, c)
		case num == fRecords && typ == protowire.BytesType:
			if len(m.Records) >= MaxRecords {
				return malformed("more than %d records", MaxRecords)
			}
			rec, err := parseRecord(raw, true)
			if err != nil {
				return err
			}
			m.Records = append(m.Records, rec)
		case num == fRefs && typ == protowire.BytesType:
			if len(m.Refs) >= MaxItems {
				return malformed("more than %d refs", MaxItems)
			}
			rec, err := parseRecord(raw, false)
			if err != nil {
				return err
			}
			m.Refs = append(m.Refs, RecordRef{Name: rec.Name, Version: rec.Version})
		}
		if err != nil {
			return err
		}
	}
	if r.Err() != nil {
		return r.Err()
	}
	if m.Type == 0 {
		return malformed("missing type")
	}
	if len(m.Hashes) != len(m.Counts) {
		return malformed("%d hashes for %d counts", len(m.Hashes), len(m.Counts))
	}
	return nil
}
