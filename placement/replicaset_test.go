package placement

import (
	"reflect"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func ref(b byte) overlay.NodeRef {
	var id overlay.ID
	id[0] = b
	return overlay.NodeRef{ID: id, Addr: string(rune('a' + b))}
}

func TestReplicaSet(t *testing.T) {
	a, b, c, d, e := ref(1), ref(2), ref(3), ref(4), ref(5)
	deadSet := func(dead ...overlay.NodeRef) func(overlay.NodeRef) bool {
		return func(n overlay.NodeRef) bool {
			for _, x := range dead {
				if x.ID == n.ID {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name  string
		succs []overlay.NodeRef
		r     int
		dead  func(overlay.NodeRef) bool
		want  []overlay.NodeRef
	}{
		{"first r", []overlay.NodeRef{a, b, c, d, e}, 3, nil, []overlay.NodeRef{a, b, c}},
		{"r larger than list", []overlay.NodeRef{a, b}, 3, nil, []overlay.NodeRef{a, b}},
		{"skips dead", []overlay.NodeRef{a, b, c, d, e}, 3, deadSet(b), []overlay.NodeRef{a, c, d}},
		{"skips duplicates", []overlay.NodeRef{a, a, b, b, c}, 3, nil, []overlay.NodeRef{a, b, c}},
		{"skips zero", []overlay.NodeRef{{}, a, b}, 2, nil, []overlay.NodeRef{a, b}},
		{"all dead", []overlay.NodeRef{a, b}, 2, deadSet(a, b), []overlay.NodeRef{}},
		{"r zero", []overlay.NodeRef{a, b}, 0, nil, nil},
		{"r negative", []overlay.NodeRef{a, b}, -1, nil, nil},
		{"empty list", nil, 3, nil, []overlay.NodeRef{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReplicaSet(tt.succs, tt.r, tt.dead)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReplicaSet = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReplicaSetDoesNotAlias(t *testing.T) {
	succs := []overlay.NodeRef{ref(1), ref(2), ref(3)}
	got := ReplicaSet(succs, 2, nil)
	got[0] = ref(9)
	if succs[0] != ref(1) {
		t.Fatal("ReplicaSet result aliases its input")
	}
}

func TestCandidates(t *testing.T) {
	a, b, c := ref(1), ref(2), ref(3)
	got := Candidates([]overlay.NodeRef{a, b, a, c}, func(n overlay.NodeRef) bool { return n.ID == b.ID })
	want := []overlay.NodeRef{a, c}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Candidates = %v, want %v", got, want)
	}
}
