package dataset

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"google.golang.org/protobuf/encoding/protowire"
)

// Bounds of a version record.
const (
	// MaxReplicas is the largest replication factor a record may ask for.
	MaxReplicas = 64
	// MaxZones is the largest number of zones in a record.
	MaxZones = 16
	// MaxZoneLen is the longest zone name, in bytes.
	MaxZoneLen = 64
	// MaxPublisherLen is the longest publisher string, in bytes.
	MaxPublisherLen = 256
	// MaxRecordSize is the largest encoded record DecodeRecord accepts.
	MaxRecordSize = 16 << 10
)

// ErrInvalidRecord is wrapped by version record validation errors.
var ErrInvalidRecord = errors.New("invalid version record")

// VersionRecord describes one published version of a dataset.
type VersionRecord struct {
	// Name is the dataset name (see ValidateName).
	Name string
	// Version is the version number, from 1.
	Version uint64
	// Manifest is the CID of the version's manifest block.
	Manifest cid.Cid
	// Parent is the version this one was published on top of, 0 for none;
	// it is less than Version.
	Parent uint64
	// Time is the publication time in Unix milliseconds (>= 0).
	Time int64
	// Replicas is the replication factor, 1..MaxReplicas.
	Replicas int
	// Zones are the zones the replicas must cover, sorted, distinct, at
	// most MaxZones (see ValidateZone).
	Zones []string
	// Publisher identifies who published the version (for example a
	// peer ID); at most MaxPublisherLen bytes of UTF-8, may be empty.
	Publisher string
	// Size is the total file size of the version in bytes.
	Size int64
	// Files is the number of files of the version.
	Files int
}

// ValidateZone checks a zone name: 1..MaxZoneLen bytes of ASCII letters,
// digits, '.', '_', '-' and ':'.
func ValidateZone(z string) error {
	if z == "" || len(z) > MaxZoneLen {
		return fmt.Errorf("zone %q: length must be 1..%d bytes", z, MaxZoneLen)
	}
	for i := 0; i < len(z); i++ {
		ch := z[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '.', ch == '_', ch == '-', ch == ':':
		default:
			return fmt.Errorf("zone %q: byte %q is not one of A-Z a-z 0-9 . _ - :", z, ch)
		}
	}
	return nil
}

// Validate checks every field of r against the rules documented on
// VersionRecord.
func (r *VersionRecord) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRecord, fmt.Sprintf(format, args...))
	}
	if err := ValidateName(r.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if r.Version == 0 {
		return fail("version must be at least 1")
	}
	if err := CheckCID(r.Manifest); err != nil {
		return fmt.Errorf("%w: manifest: %w", ErrInvalidRecord, err)
	}
	if r.Parent >= r.Version {
		return fail("parent %d must be less than version %d", r.Parent, r.Version)
	}
	if r.Time < 0 {
		return fail("negative time %d", r.Time)
	}
	if r.Replicas < 1 || r.Replicas > MaxReplicas {
		return fail("replicas %d out of range 1..%d", r.Replicas, MaxReplicas)
	}
	if len(r.Zones) > MaxZones {
		return fail("%d zones (max %d)", len(r.Zones), MaxZones)
	}
	for i, z := range r.Zones {
		if err := ValidateZone(z); err != nil {
			return fail("%v", err)
		}
		if i > 0 && r.Zones[i-1] >= z {
			return fail("zones must be sorted and distinct (%q then %q)", r.Zones[i-1], z)
		}
	}
	if len(r.Publisher) > MaxPublisherLen || !utf8.ValidString(r.Publisher) {
		return fail("publisher must be at most %d bytes of UTF-8", MaxPublisherLen)
	}
	if r.Size < 0 || r.Size > MaxDatasetSize {
		return fail("size %d out of range 0..%d", r.Size, MaxDatasetSize)
	}
	if r.Files < 0 || r.Files > MaxEntries {
		return fail("files %d out of range 0..%d", r.Files, MaxEntries)
	}
	return nil
}

// Encode validates r and returns its deterministic binary encoding.
func (r *VersionRecord) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b := appendString(nil, 1, r.Name)
	b = appendUint(b, 2, r.Version)
	b = appendBytes(b, 3, r.Manifest.Bytes())
	b = appendUint(b, 4, r.Parent)
	b = appendUint(b, 5, uint64(r.Time))
	b = appendUint(b, 6, uint64(r.Replicas))
	for _, z := range r.Zones {
		b = appendString(b, 7, z)
	}
	b = appendString(b, 8, r.Publisher)
	b = appendUint(b, 9, uint64(r.Size))
	b = appendUint(b, 10, uint64(r.Files))
	return b, nil
}

// recordFieldType gives the wire type of each VersionRecord field.
func recordFieldType(n protowire.Number) (protowire.Type, bool) {
	switch n {
	case 1, 3, 7, 8:
		return protowire.BytesType, true
	case 2, 4, 5, 6, 9, 10:
		return protowire.VarintType, true
	}
	return 0, false
}

// DecodeRecord decodes and validates a version record. It accepts only
// the canonical encoding that Encode produces.
func DecodeRecord(b []byte) (*VersionRecord, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrInvalidRecord, len(b), MaxRecordSize)
	}
	rec := &VersionRecord{}
	r := newWireReader(b, 7)
	for !r.done() {
		num, err := r.next(recordFieldType)
		if err != nil {
			return nil, err
		}
		switch num {
		case 1, 7, 8:
			v, err := r.bytes(num, false)
			if err != nil {
				return nil, err
			}
			switch num {
			case 1:
				rec.Name = string(v)
			case 7:
				if len(rec.Zones) >= MaxZones {
					return nil, fmt.Errorf("%w: more than %d zones", ErrInvalidRecord, MaxZones)
				}
				rec.Zones = append(rec.Zones, string(v))
			case 8:
				rec.Publisher = string(v)
			}
		case 3:
			v, err := r.bytes(num, false)
			if err != nil {
				return nil, err
			}
			if rec.Manifest, err = decodeCID(v); err != nil {
				return nil, fmt.Errorf("manifest: %w", err)
			}
		default:
			v, err := r.uint(num)
			if err != nil {
				return nil, err
			}
			limit := ^uint64(0) // fields 2 and 4
			switch num {
			case 5:
				limit = 1<<63 - 1
			case 6:
				limit = MaxReplicas
			case 9:
				limit = uint64(MaxDatasetSize)
			case 10:
				limit = MaxEntries
			}
			if v > limit {
				return nil, fmt.Errorf("%w: field %d value %d out of range", ErrInvalidRecord, num, v)
			}
			switch num {
			case 2:
				rec.Version = v
			case 4:
				rec.Parent = v
			case 5:
				rec.Time = int64(v)
			case 6:
				rec.Replicas = int(v)
			case 9:
				rec.Size = int64(v)
			case 10:
				rec.Files = int(v)
			}
		}
	}
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	return rec, nil
}
