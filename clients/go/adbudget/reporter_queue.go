package adbudget

import "slices"

// popQueued takes the oldest queued event. Called with r.mu held and the queue not empty.
func (r *SpendReporter) popQueued() *queued {
	q := r.queue[r.head]
	r.queue[r.head] = nil
	r.head++
	// Reclaim the consumed front once it is most of the slice, so memory follows the backlog
	// rather than the history (amortized O(1) per event).
	if r.head >= 1024 && r.head*2 >= len(r.queue) {
		r.queue = append(r.queue[:0], r.queue[r.head:]...)
		r.head = 0
	}
	return q
}

// pushFront puts an event back at the head of the queue. Called with r.mu held.
func (r *SpendReporter) pushFront(q *queued) {
	if r.head > 0 {
		r.head--
		r.queue[r.head] = q
		return
	}
	r.queue = slices.Insert(r.queue, 0, q)
}

// settleLocked records that an event is acknowledged, rejected or dropped: its spool line is
// settled and the Flushes waiting for it hear of it. Called with r.mu held.
func (r *SpendReporter) settleLocked(q *queued) {
	if q.settled {
		return // once: its spool line and its Flushes are released once
	}
	q.settled = true
	if r.spool != nil {
		r.spool.settle(q.segment)
	}
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if q.seq <= w.upTo {
			w.pending--
			if w.pending == 0 {
				close(w.done)
				continue
			}
		}
		kept = append(kept, w)
	}
	r.waiters = kept
}

// removeWaiter forgets a Flush that gave up. Called with r.mu held.
func (r *SpendReporter) removeWaiter(w *flushWaiter) {
	r.waiters = slices.DeleteFunc(r.waiters, func(x *flushWaiter) bool { return x == w })
}
