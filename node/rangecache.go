package node

import (
	"sync"
	"time"

	"github.com/chorus-data/chorus/overlay"
)

// rangeCache remembers what ring lookups taught: a lookup of key k that
// answered successor s proves that no node lies in (k, s], so every key in
// that range has the same successor list. Publishing or fetching thousands
// of small blocks then costs a handful of lookups instead of one per block.
// Entries expire after ttl (the ring may have changed) and are dropped when
// a node they name fails.
type rangeCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[overlay.ID]*rangeEntry // by successor ID
	now     func() time.Time
}

type rangeEntry struct {
	from    overlay.ID // exclusive start of the known range
	succs   []overlay.NodeRef
	expires time.Time
}

func newRangeCache(ttl time.Duration) *rangeCache {
	return &rangeCache{ttl: ttl, entries: make(map[overlay.ID]*rangeEntry), now: time.Now}
}

// get returns the successor list of key if a live entry covers it.
func (c *rangeCache) get(key overlay.ID) ([]overlay.NodeRef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, e := range c.entries {
		if now.After(e.expires) {
			delete(c.entries, id)
			continue
		}
		if overlay.BetweenRightIncl(key, e.from, id) {
			return e.succs, true
		}
	}
	return nil, false
}

// put records that key's successor list is succs.
func (c *rangeCache) put(key overlay.ID, succs []overlay.NodeRef) {
	if len(succs) == 0 {
		return
	}
	s := succs[0].ID
	if key == s {
		// (s, s] would read as the whole ring.
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[s]
	if !ok || c.now().After(e.expires) {
		c.entries[s] = &rangeEntry{from: key, succs: succs, expires: c.now().Add(c.ttl)}
		return
	}
	// Widen the range when key lies further back from s than what we knew.
	if overlay.Distance(key, s).Cmp(overlay.Distance(e.from, s)) > 0 {
		e.from = key
	}
	e.succs = succs
}

// forget drops every entry that names node id.
func (c *rangeCache) forget(id overlay.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		for _, r := range e.succs {
			if r.ID == id {
				delete(c.entries, k)
				break
			}
		}
	}
}
