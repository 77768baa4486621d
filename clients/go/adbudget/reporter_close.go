package adbudget

import (
	"context"
	"fmt"
)

// NotFlushedError is Close's answer when events were still unsettled at its deadline.
type NotFlushedError struct {
	// Events is how many accepted events were neither acknowledged nor rejected.
	Events int
	// Spooled: they are in the spool and the next reporter on it sends them; without a spool
	// they are lost.
	Spooled bool
}

func (e *NotFlushedError) Error() string {
	if e.Spooled {
		return fmt.Sprintf("adbudget: %d spend events not yet acknowledged: kept in the spool for the next start", e.Events)
	}
	return fmt.Sprintf("adbudget: %d spend events not acknowledged and lost (no spool)", e.Events)
}

// Close stops accepting (Report answers false), flushes until ctx is done, and stops: what is
// still unsettled stays in the spool for the next start, or is reported lost in a
// *NotFlushedError without a spool. The spool's lock is released. Later calls return the same
// result.
func (r *SpendReporter) Close(ctx context.Context) error {
	r.closed.Do(func() {
		r.mu.Lock()
		r.closing = true
		r.mu.Unlock()
		r.wake()
		_ = r.Flush(ctx) // its outcome is read below, from what is left
		r.stop()
		r.wg.Wait()
		r.mu.Lock()
		r.stopped = true
		left := r.buffered()
		r.mu.Unlock()
		if r.spool != nil {
			r.spool.close()
		}
		if left > 0 {
			r.result = &NotFlushedError{Events: left, Spooled: r.spool != nil}
		}
	})
	return r.result
}
