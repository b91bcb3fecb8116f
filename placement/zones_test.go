package placement

import (
	"reflect"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestReplicaSetZones(t *testing.T) {
	// Nodes 1..8 in ring order; their zones.
	n := make([]overlay.NodeRef, 9)
	for i := 1; i <= 8; i++ {
		n[i] = ref(byte(i))
	}
	zone := map[byte]string{1: "a", 2: "a", 3: "a", 4: "b", 5: "a", 6: "c", 7: "b", 8: ""}
	zoneOf := func(r overlay.NodeRef) string { return zone[r.ID[0]] }
	list := func(ids ...int) []overlay.NodeRef {
		out := []overlay.NodeRef{}
		for _, i := range ids {
			out = append(out, n[i])
		}
		return out
	}
	all := list(1, 2, 3, 4, 5, 6, 7, 8)
	tests := []struct {
		name  string
		succs []overlay.NodeRef
		r     int
		zones []string
		want  []overlay.NodeRef
	}{
		{"no zones is the first r", all, 3, nil, list(1, 2, 3)},
		{"zone of the primary only", all, 3, []string{"a"}, list(1, 2, 3)},
		{"two zones, then fill", all, 3, []string{"a", "b"}, list(1, 2, 4)},
		{"three zones cover exactly", all, 3, []string{"a", "b", "c"}, list(1, 4, 6)},
		{"zones beyond r grow the set", all, 2, []string{"a", "b", "c"}, list(1, 4, 6)},
		{"r beyond zones fills in order", all, 5, []string{"b", "c"}, list(1, 2, 3, 4, 6)},
		{"primary outside the zones stays", all, 2, []string{"b", "c"}, list(1, 4, 6)},
		{"missing zone is skipped", all, 3, []string{"a", "b", "z"}, list(1, 2, 4)},
		{"unknown zone covers nothing", list(8, 1, 4), 1, []string{"a", "b"}, list(8, 1, 4)},
		{"r larger than the list", list(1, 4), 5, []string{"a"}, list(1, 4)},
		{"duplicates and zeros skipped", []overlay.NodeRef{n[1], {}, n[1], n[4], n[6]}, 3, []string{"c"}, list(1, 4, 6)},
		{"empty list", nil, 3, []string{"a"}, []overlay.NodeRef{}},
		{"r zero", all, 0, []string{"a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReplicaSetZones(tt.succs, tt.r, tt.zones, zoneOf)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReplicaSetZones = %v, want %v", got, tt.want)
			}
			if tt.r > 0 && len(tt.zones) > 0 && len(got) > 0 {
				cov := ZonesCovered(got, tt.zones, zoneOf)
				avail := ZonesCovered(tt.succs, tt.zones, zoneOf)
				if !reflect.DeepEqual(cov, avail) {
					t.Fatalf("set covers %v, the list could cover %v", cov, avail)
				}
			}
		})
	}
}

func TestReplicaSetZonesMatchesReplicaSet(t *testing.T) {
	succs := []overlay.NodeRef{ref(1), ref(2), ref(3), ref(4)}
	for r := 0; r <= 5; r++ {
		a := ReplicaSetZones(succs, r, nil, nil)
		b := ReplicaSet(succs, r, nil)
		if len(a) != len(b) || (len(a) > 0 && !reflect.DeepEqual(a, b)) {
			t.Fatalf("r=%d: %v vs %v", r, a, b)
		}
	}
}
