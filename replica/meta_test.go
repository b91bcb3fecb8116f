package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func meta(cs ...Claim) Meta {
	m := Meta{}
	for _, c := range cs {
		m = Merge(m, Meta{Claims: []Claim{c}})
	}
	return m
}

func TestMetaReplicasAndZones(t *testing.T) {
	tests := []struct {
		name      string
		m         Meta
		wantR     int
		wantZones []string
	}{
		{"no claim takes the default", Meta{}, 3, nil},
		{"one claim", meta(Claim{Owner: "a@1", Replicas: 5, Zones: []string{"x"}}), 5, []string{"x"}},
		{"largest r wins", meta(Claim{Owner: "a@1", Replicas: 2}, Claim{Owner: "b@1", Replicas: 4}), 4, nil},
		{"zones are a union", meta(Claim{Owner: "a@1", Replicas: 2, Zones: []string{"x", "z"}}, Claim{Owner: "b@1", Replicas: 1, Zones: []string{"y", "z"}}), 2, []string{"x", "y", "z"}},
		{"withdrawn claims ask nothing", meta(Claim{Owner: "a@1", Replicas: 0, Zones: []string{"x"}}), 3, nil},
		{"withdrawn next to a live one", meta(Claim{Owner: "a@1", Replicas: 0}, Claim{Owner: "b@1", Replicas: 1}), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Replicas(3); got != tt.wantR {
				t.Errorf("Replicas = %d, want %d", got, tt.wantR)
			}
			if got := tt.m.Zones(); !slices.Equal(got, tt.wantZones) {
				t.Errorf("Zones = %v, want %v", got, tt.wantZones)
			}
		})
	}
}

func TestMergeLastWriterWinsPerOwner(t *testing.T) {
	old := Meta{Claims: []Claim{{Owner: "ds@1", Seq: 10, Replicas: 5}}}
	lower := Meta{Claims: []Claim{{Owner: "ds@1", Seq: 20, Replicas: 2}}}
	other := Meta{Claims: []Claim{{Owner: "ds@2", Seq: 5, Replicas: 3}}}
	got := Merge(Merge(old, other), lower)
	if got.Replicas(9) != 3 {
		t.Fatalf("after lowering ds@1 to 2 with ds@2 at 3, r = %d, want 3", got.Replicas(9))
	}
	if c, _ := got.Claim("ds@1"); c.Replicas != 2 || c.Seq != 20 {
		t.Fatalf("claim ds@1 = %+v, want the newer one", c)
	}
	// An older claim arriving late does not undo the newer one.
	if again := Merge(got, old); !again.Equal(got) {
		t.Fatalf("stale claim changed the metadata: %+v", again)
	}
}

func randomMeta(r *rand.Rand) Meta {
	m := Meta{}
	for range r.IntN(5) {
		var zs []string
		for range r.IntN(3) {
			zs = append(zs, fmt.Sprintf("z%d", r.IntN(4)))
		}
		c, err := NewMeta(Claim{Owner: fmt.Sprintf("o%d", r.IntN(6)), Seq: uint64(r.IntN(4)), Replicas: r.IntN(6), Zones: zs})
		if err != nil {
			panic(err)
		}
		m = Merge(m, c)
	}
	return m
}

func TestMergeIsASemilattice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		a, b, c := randomMeta(r), randomMeta(r), randomMeta(r)
		if ab, ba := Merge(a, b), Merge(b, a); !ab.Equal(ba) {
			t.Fatalf("case %d: not commutative: %+v vs %+v", i, ab, ba)
		}
		if x, y := Merge(Merge(a, b), c), Merge(a, Merge(b, c)); !x.Equal(y) {
			t.Fatalf("case %d: not associative: %+v vs %+v", i, x, y)
		}
		if aa := Merge(a, a); !aa.Equal(a) {
			t.Fatalf("case %d: not idempotent", i)
		}
		if err := Merge(a, b).Validate(); err != nil {
			t.Fatalf("case %d: merge is invalid: %v", i, err)
		}
	}
}

func TestMergeCollapsesBeyondMaxClaims(t *testing.T) {
	m := Meta{}
	for i := range MaxClaims + 10 {
		m = Merge(m, Meta{Claims: []Claim{{Owner: fmt.Sprintf("ds@%03d", i), Seq: 1, Replicas: 1 + i%7, Zones: []string{fmt.Sprintf("z%d", i%20)}}}})
	}
	if len(m.Claims) != MaxClaims {
		t.Fatalf("%d claims, want %d", len(m.Claims), MaxClaims)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Replicas(0) != 7 {
		t.Fatalf("collapsed r = %d, want 7", m.Replicas(0))
	}
	c, ok := m.Claim(CollapsedOwner)
	if !ok || c.Replicas < 1 {
		t.Fatalf("no collapsed claim: %+v", m)
	}
	// Collapsing still merges idempotently.
	if again := Merge(m, m); !again.Equal(m) {
		t.Fatal("merge of a collapsed meta with itself changed it")
	}
}

func TestMetaRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		m := randomMeta(r)
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalMeta(b)
		if err != nil {
			t.Fatalf("UnmarshalMeta: %v", err)
		}
		if !got.Equal(m) {
			t.Fatalf("round trip: %+v != %+v", got, m)
		}
		if (m.Hash() == 0) != m.IsZero() {
			t.Fatalf("Hash zero iff no claims: %d for %+v", m.Hash(), m)
		}
	}
}

func TestMetaRejects(t *testing.T) {
	long := string(make([]byte, MaxOwnerLen+1))
	tests := []struct {
		name string
		m    Meta
	}{
		{"empty owner", Meta{Claims: []Claim{{Owner: "", Replicas: 1}}}},
		{"long owner", Meta{Claims: []Claim{{Owner: long, Replicas: 1}}}},
		{"negative r", Meta{Claims: []Claim{{Owner: "a", Replicas: -1}}}},
		{"huge r", Meta{Claims: []Claim{{Owner: "a", Replicas: MaxReplicas + 1}}}},
		{"unsorted owners", Meta{Claims: []Claim{{Owner: "b", Replicas: 1}, {Owner: "a", Replicas: 1}}}},
		{"duplicate owners", Meta{Claims: []Claim{{Owner: "a", Replicas: 1}, {Owner: "a", Replicas: 2}}}},
		{"unsorted zones", Meta{Claims: []Claim{{Owner: "a", Replicas: 1, Zones: []string{"y", "x"}}}}},
		{"empty zone", Meta{Claims: []Claim{{Owner: "a", Replicas: 1, Zones: []string{""}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.m.MarshalBinary(); !errors.Is(err, ErrBadMeta) {
				t.Fatalf("MarshalBinary err = %v, want ErrBadMeta", err)
			}
			// The decoder refuses the same thing on the wire.
			if _, err := UnmarshalMeta(tt.m.AppendBinary(nil)); err == nil {
				t.Fatal("UnmarshalMeta accepted it")
			}
		})
	}
}

func FuzzUnmarshalMeta(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		f.Add(randomMeta(r).AppendBinary(nil))
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 'a'})
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMeta(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded meta is invalid: %v", err)
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := UnmarshalMeta(enc)
		if err != nil || !again.Equal(m) {
			t.Fatalf("canonical round trip failed: %v", err)
		}
		_ = Merge(m, m)
	})
}
