package node

import (
	"testing"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

func idAt(b byte) overlay.ID {
	var id overlay.ID
	id[0] = b
	return id
}

func TestRangeCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := newRangeCache(time.Second)
	c.now = func() time.Time { return now }
	s := overlay.NodeRef{ID: idAt(100), Addr: "s"}
	succs := []overlay.NodeRef{s, {ID: idAt(200), Addr: "t"}}

	c.put(idAt(50), succs)
	tests := []struct {
		key  byte
		want bool
	}{
		{50, false}, // the looked-up key itself starts the open interval
		{51, true},
		{100, true},
		{101, false},
		{49, false},
	}
	for _, tt := range tests {
		if _, ok := c.get(idAt(tt.key)); ok != tt.want {
			t.Errorf("get(%d) = %v, want %v", tt.key, ok, tt.want)
		}
	}
	// A lookup further back widens the range.
	c.put(idAt(20), succs)
	if _, ok := c.get(idAt(30)); !ok {
		t.Error("range was not widened")
	}
	// A lookup closer to s does not shrink it.
	c.put(idAt(90), succs)
	if _, ok := c.get(idAt(30)); !ok {
		t.Error("range shrank")
	}
	// A failed node drops every entry naming it.
	c.forget(idAt(200))
	if _, ok := c.get(idAt(60)); ok {
		t.Error("entry naming a failed node survived")
	}
	// Entries expire.
	c.put(idAt(50), succs)
	now = now.Add(2 * time.Second)
	if _, ok := c.get(idAt(60)); ok {
		t.Error("expired entry served")
	}
	if len(c.entries) != 0 {
		t.Error("expired entry kept")
	}
}

func TestRangeCacheWraps(t *testing.T) {
	c := newRangeCache(time.Minute)
	s := overlay.NodeRef{ID: idAt(10), Addr: "s"}
	c.put(idAt(250), []overlay.NodeRef{s})
	for _, k := range []byte{251, 255, 0, 5, 10} {
		if _, ok := c.get(idAt(k)); !ok {
			t.Errorf("key %d across zero not covered", k)
		}
	}
	if _, ok := c.get(idAt(11)); ok {
		t.Error("key past the successor covered")
	}
}
