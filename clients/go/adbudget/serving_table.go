package adbudget

import (
	"maps"
	"sync/atomic"
)

// table is the cache's set of campaigns, read without a lock: lookups load the current *table
// from an atomic pointer and index its map, which is never written once published.
//
// A change of a known campaign stores a new *entry into its slot (one atomic store, no copy); a
// campaign that appears or disappears publishes a copy of the map (copy-on-write), and a snapshot
// publishes a new table whole. Changes of serving state are by far the most frequent writes, so
// copies are rare.
type table struct {
	slots map[string]*slot
}

// slot holds the current entry of one campaign.
type slot struct {
	e atomic.Pointer[entry]
}

func newSlot(e *entry) *slot {
	s := &slot{}
	s.e.Store(e)
	return s
}

// with returns t plus a campaign (a copy: t stays as readers see it).
func (t *table) with(id string, e *entry) *table {
	slots := make(map[string]*slot, len(t.slots)+1)
	maps.Copy(slots, t.slots)
	slots[id] = newSlot(e)
	return &table{slots: slots}
}

// without returns t minus a campaign (a copy).
func (t *table) without(id string) *table {
	slots := maps.Clone(t.slots)
	delete(slots, id)
	return &table{slots: slots}
}

// entry returns the current entry of a campaign, nil when unknown.
func (t *table) entry(id string) *entry {
	if s, ok := t.slots[id]; ok {
		return s.e.Load()
	}
	return nil
}
