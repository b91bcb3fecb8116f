package dataset

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func sampleRecord() *VersionRecord {
	return &VersionRecord{
		Name:      "lab/sky-survey",
		Version:   3,
		Manifest:  BlockCID([]byte("manifest")),
		Parent:    2,
		Time:      1_700_000_000_000,
		Replicas:  3,
		Zones:     []string{"eu-west", "us-east:1"},
		Publisher: "12D3KooWExample",
		Size:      123456789,
		Files:     42,
	}
}

func TestRecordRoundTrip(t *testing.T) {
	minimal := &VersionRecord{Name: "a", Version: 1, Manifest: BlockCID(nil), Replicas: 1}
	// Versions published before the switch to blake3 name a sha2-256 manifest.
	old := &VersionRecord{Name: "a", Version: 1, Manifest: sha256CID(t, []byte("manifest")), Replicas: 1}
	for _, r := range []*VersionRecord{sampleRecord(), minimal, old} {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, r)
		}
		b2, _ := got.Encode()
		if !bytes.Equal(b, b2) {
			t.Fatal("re-encoding differs")
		}
	}
}

func TestRecordValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *VersionRecord)
		want string
	}{
		{"bad name", func(r *VersionRecord) { r.Name = "Bad" }, "invalid dataset name"},
		{"version 0", func(r *VersionRecord) { r.Version = 0; r.Parent = 0 }, "at least 1"},
		{"no manifest", func(r *VersionRecord) { r.Manifest = cid.Undef }, "manifest"},
		{"parent = version", func(r *VersionRecord) { r.Parent = 3 }, "parent"},
		{"negative time", func(r *VersionRecord) { r.Time = -1 }, "time"},
		{"replicas 0", func(r *VersionRecord) { r.Replicas = 0 }, "replicas"},
		{"replicas big", func(r *VersionRecord) { r.Replicas = MaxReplicas + 1 }, "replicas"},
		{"zones unsorted", func(r *VersionRecord) { r.Zones = []string{"b", "a"} }, "sorted"},
		{"zones dup", func(r *VersionRecord) { r.Zones = []string{"a", "a"} }, "distinct"},
		{"zone empty", func(r *VersionRecord) { r.Zones = []string{""} }, "length"},
		{"zone char", func(r *VersionRecord) { r.Zones = []string{"a b"} }, "byte"},
		{"too many zones", func(r *VersionRecord) {
			r.Zones = nil
			for i := 0; i <= MaxZones; i++ {
				r.Zones = append(r.Zones, string(rune('a'+i)))
			}
		}, "zones"},
		{"publisher long", func(r *VersionRecord) { r.Publisher = strings.Repeat("p", MaxPublisherLen+1) }, "publisher"},
		{"publisher utf8", func(r *VersionRecord) { r.Publisher = "\xff" }, "publisher"},
		{"negative size", func(r *VersionRecord) { r.Size = -1 }, "size"},
		{"negative files", func(r *VersionRecord) { r.Files = -1 }, "files"},
	}
	for _, tt := range tests {
		r := sampleRecord()
		tt.edit(r)
		err := r.Validate()
		if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want ErrInvalidRecord containing %q", tt.name, err, tt.want)
		}
		if _, err := r.Encode(); err == nil {
			t.Errorf("%s: Encode accepted an invalid record", tt.name)
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good, _ := sampleRecord().Encode()
	tests := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0x58, 0x01),
		"too large": make([]byte, MaxRecordSize+1),
		"reordered": append(append([]byte{}, good[len("lab/sky-survey")+2:]...), good[:len("lab/sky-survey")+2]...),
	}
	for name, b := range tests {
		if _, err := DecodeRecord(b); err == nil {
			t.Errorf("%s: DecodeRecord accepted %x", name, b)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	good, _ := sampleRecord().Encode()
	f.Add(good)
	min, _ := (&VersionRecord{Name: "a", Version: 1, Manifest: BlockCID(nil), Replicas: 1}).Encode()
	f.Add(min)
	// A record written before the switch to blake3 names a sha2-256 manifest.
	old, _ := (&VersionRecord{Name: "a", Version: 1, Manifest: sha256CID(f, []byte("manifest")), Replicas: 1}).Encode()
	f.Add(old)
	f.Add([]byte{0x0a, 0x01, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded record does not validate: %v", err)
		}
		b2, err := r.Encode()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs (%v):\n in %x\nout %x", err, b, b2)
		}
	})
}
