package adbudget

import (
	"sync"
	"time"
)

// notifier serializes every write to the cache's table and every onChange call, and keeps the
// timers: one per campaign for its next_change_time (only with an onChange: lookups compute the
// switch themselves and never need a timer), and one for the stale limit.
type notifier struct {
	c *ServingCache

	mu       sync.Mutex
	reported map[string]bool        // true for each campaign onChange last said serves
	clocks   map[string]*time.Timer // next_change_time timers, by campaign
	stale    *time.Timer            // armed while out of sync and the policy not yet in effect
	stopped  bool
}

func (n *notifier) init(c *ServingCache) {
	n.c = c
	n.reported = map[string]bool{}
	n.clocks = map[string]*time.Timer{}
}

// report calls onChange when what IsServing answers for id differs from what it last said.
// Called with n.mu held.
func (n *notifier) report(id string, cause Cause) {
	f := n.c.cfg.onChange
	if f == nil {
		return
	}
	now := n.c.IsServing(id)
	if now == n.reported[id] {
		return
	}
	if now {
		n.reported[id] = true
	} else {
		delete(n.reported, id)
	}
	guard(n.c.cfg.common.logger, "OnChange", func() { f(id, now, cause) })
}

// installSnapshot replaces the table with a completed snapshot (docs/sdk.md, Resume without a
// gap): the snapshot is the server's current truth, so campaigns absent from it are removed, and
// onChange hears of every campaign whose answer differs, with CauseServer (the resync that ends
// the StopServing policy included, as in the TypeScript SDK).
func (n *notifier) installSnapshot(slots map[string]*slot) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	c := n.c
	c.table.Store(&table{slots: slots})
	c.stopped.Store(false)
	c.synced.Store(true)
	if n.stale != nil {
		n.stale.Stop()
		n.stale = nil
	}
	c.snapshots.Add(1)
	c.readyOnce.Do(func() { close(c.ready) })
	if c.cfg.onChange == nil {
		return
	}
	for id, s := range slots {
		e := s.e.Load()
		n.report(id, CauseServer)
		n.armClock(id, e)
	}
	for id := range n.reported {
		if _, ok := slots[id]; !ok {
			n.report(id, CauseServer)
		}
	}
	for id, t := range n.clocks {
		if _, ok := slots[id]; !ok {
			t.Stop()
			delete(n.clocks, id)
		}
	}
}

// applyChange replaces (or adds) one campaign's entry: a CHANGED message.
func (n *notifier) applyChange(id string, e *entry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	t := n.c.table.Load()
	if s, ok := t.slots[id]; ok {
		s.e.Store(e)
	} else {
		n.c.table.Store(t.with(id, e))
	}
	n.report(id, CauseServer)
	n.armClock(id, e)
}

// applyDelete removes one campaign: a DELETED message.
func (n *notifier) applyDelete(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	if t := n.c.table.Load(); t.entry(id) != nil {
		n.c.table.Store(t.without(id))
	}
	if t := n.clocks[id]; t != nil {
		t.Stop()
		delete(n.clocks, id)
	}
	n.report(id, CauseServer)
}

// armClock sets the timer that tells onChange of the switch at e's next_change_time. Called
// with n.mu held.
func (n *notifier) armClock(id string, e *entry) {
	if n.c.cfg.onChange == nil {
		return
	}
	if t := n.clocks[id]; t != nil {
		t.Stop()
		delete(n.clocks, id)
	}
	if e.nextChange == 0 || e.before == e.after {
		return // its answer does not change at the instant: nothing to tell
	}
	d := e.nextChangeTime().Sub(n.c.cfg.common.now())
	if d <= 0 {
		return // already switched: the caller's report said so
	}
	n.clocks[id] = time.AfterFunc(d, func() { n.clockFired(id, e) })
}

func (n *notifier) clockFired(id string, e *entry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.c.table.Load().entry(id) != e {
		return // closed, or replaced since: the new entry has its own timer
	}
	if d := e.nextChangeTime().Sub(n.c.cfg.common.now()); d > 0 {
		// The cache's clock (WithClock) ran slower than the timer's: wait for it.
		n.clocks[id] = time.AfterFunc(d, func() { n.clockFired(id, e) })
		return
	}
	delete(n.clocks, id)
	n.report(id, CauseClock)
}

// lostSync marks the cache out of sync (the stream ended, or before the first snapshot) and
// arms the stale limit.
func (n *notifier) lostSync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	c := n.c
	if c.synced.Load() {
		// lastSync first: a concurrent Staleness that sees synced=false reads the new instant.
		c.lastSync.Store(int64(time.Since(c.base)))
		c.synced.Store(false)
	}
	if n.stale == nil && !c.stopped.Load() {
		n.stale = time.AfterFunc(max(c.cfg.staleAfter-c.Staleness(), 0), n.staleFired)
	}
}

// staleFired applies the stale policy once the cache has been out of sync for staleAfter.
func (n *notifier) staleFired() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stale = nil
	c := n.c
	if n.stopped || c.synced.Load() {
		return
	}
	c.cfg.common.logger.Warn("adbudget: serving cache is stale",
		"staleness", c.Staleness(), "policy", c.cfg.stalePolicy.String())
	if c.cfg.stalePolicy != StopServing {
		return
	}
	c.stopped.Store(true)
	for id := range n.reported {
		n.report(id, CauseStale)
	}
}

// stop ends every timer; later writes are ignored.
func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	for _, t := range n.clocks {
		t.Stop()
	}
	clear(n.clocks)
	if n.stale != nil {
		n.stale.Stop()
		n.stale = nil
	}
}
