package simulations

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func idOf(b ...byte) overlay.ID {
	var id overlay.ID
	copy(id[:], b)
	return id
}

func TestOracleSuccessorTable(t *testing.T) {
	o := newOracle(4)
	for i, b := range []byte{0x20, 0x80, 0xc0} {
		if !o.Insert(idOf(b), int32(i)) {
			t.Fatalf("insert %x failed", b)
		}
	}
	tests := []struct {
		key  overlay.ID
		want int32
	}{
		{idOf(0x00), 0},
		{idOf(0x20), 0},       // equal ID: the node itself
		{idOf(0x20, 0x01), 1}, // just past a node
		{idOf(0x80), 1},
		{idOf(0xbf, 0xff), 2},
		{idOf(0xc0, 0x00, 0x01), 0}, // past the largest: wraps
		{idOf(0xff, 0xff), 0},
	}
	for _, tc := range tests {
		_, got, ok := o.Successor(tc.key)
		if !ok || got != tc.want {
			t.Errorf("Successor(%x) = %d,%v, want %d", tc.key[:3], got, ok, tc.want)
		}
	}
	preds := []struct {
		key  overlay.ID
		want int32
	}{
		{idOf(0x00), 2}, // below the smallest: wraps to the largest
		{idOf(0x20), 2}, // strictly below: a node is not its own predecessor
		{idOf(0x20, 0x01), 0},
		{idOf(0x80), 0},
		{idOf(0xff), 2},
	}
	for _, tc := range preds {
		_, got, ok := o.Predecessor(tc.key)
		if !ok || got != tc.want {
			t.Errorf("Predecessor(%x) = %d,%v, want %d", tc.key[:3], got, ok, tc.want)
		}
	}
	if o.Insert(idOf(0x80), 9) {
		t.Error("duplicate insert succeeded")
	}
	if !o.Delete(idOf(0x20)) || o.Delete(idOf(0x20)) {
		t.Error("delete of 0x20 misbehaved")
	}
	if _, got, _ := o.Successor(idOf(0xd0)); got != 1 {
		t.Errorf("after delete, wrap successor = %d, want 1", got)
	}
	for _, b := range []byte{0x80, 0xc0} {
		o.Delete(idOf(b))
	}
	if _, _, ok := o.Predecessor(idOf(0x10)); ok {
		t.Error("empty oracle has a predecessor")
	}
	if _, _, ok := o.Successor(idOf(0x10)); ok || o.Len() != 0 {
		t.Errorf("empty oracle answered (len %d)", o.Len())
	}
}

// TestOracleAgainstSortedSlice compares the treap with a brute-force model
// under random inserts, deletes and queries.
func TestOracleAgainstSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	o := newOracle(0)
	var model []overlay.ID
	randID := func() overlay.ID {
		var id overlay.ID
		for i := 0; i < 4; i++ {
			id[i] = byte(rng.IntN(256))
		}
		return id
	}
	for step := 0; step < 20000; step++ {
		switch r := rng.IntN(10); {
		case r < 5:
			id := randID()
			dup := false
			for _, m := range model {
				dup = dup || m == id
			}
			if o.Insert(id, 0) == dup {
				t.Fatalf("step %d: insert dup mismatch", step)
			}
			if !dup {
				model = append(model, id)
			}
		case r < 8 && len(model) > 0:
			k := rng.IntN(len(model))
			if !o.Delete(model[k]) {
				t.Fatalf("step %d: delete of present ID failed", step)
			}
			model = append(model[:k], model[k+1:]...)
		default:
			key := randID()
			sort.Slice(model, func(a, b int) bool { return bytes.Compare(model[a][:], model[b][:]) < 0 })
			got, _, ok := o.Successor(key)
			gotP, _, okP := o.Predecessor(key)
			if len(model) == 0 {
				if ok || okP {
					t.Fatalf("step %d: empty oracle answered", step)
				}
				continue
			}
			wantP := model[len(model)-1]
			for _, m := range model {
				if bytes.Compare(m[:], key[:]) < 0 {
					wantP = m
				}
			}
			if !okP || gotP != wantP {
				t.Fatalf("step %d: Predecessor = %x, want %x", step, gotP[:4], wantP[:4])
			}
			want := model[0]
			for _, m := range model {
				if bytes.Compare(m[:], key[:]) >= 0 {
					want = m
					break
				}
			}
			if !ok || got != want {
				t.Fatalf("step %d: Successor = %x, want %x", step, got[:4], want[:4])
			}
		}
		if o.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, want %d", step, o.Len(), len(model))
		}
	}
}
