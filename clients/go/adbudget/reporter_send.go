package adbudget

import (
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1"
)

// split is half of a batch the service refused whole, waiting for a slot to be sent as a batch
// of its own (docs/sdk.md, SpendReporter: a batch refused whole is split in halves).
type split struct {
	events []*queued
	// failures is how many sends of its events in a row failed before it: the backoff of its
	// own retries goes on from there, so halving under a quota does not hammer the service.
	failures int
}

// splitKind is what a whole-call refusal does with a batch of more than one event.
type splitKind int

const (
	noSplit           splitKind = iota
	splitNow                    // one event refuses the call (another brand's): halve at once
	splitAfterBackoff           // RESOURCE_EXHAUSTED (a quota smaller than the batch): halve after a backoff
)

// dispatch forms batches (docs/sdk.md, Batching): one leaves when maxBatch events are queued, or
// linger after its first event, or at once while a Flush or Close waits; at most maxInFlight
// are in flight.
func (r *SpendReporter) dispatch() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r.mu.Lock()
		wait := r.launchReady()
		r.mu.Unlock()
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-r.kick:
		case <-timer.C:
		case <-r.sendCtx.Done():
			return
		}
		timer.Stop()
	}
}

// launchReady starts every batch that may leave now, halves of refused batches first, and says
// how long until the next one may (0: nothing to wait for but a kick). Called with r.mu held.
func (r *SpendReporter) launchReady() time.Duration {
	for r.batches < r.cfg.maxInFlight && r.sendCtx.Err() == nil {
		if len(r.splits) > 0 {
			s := r.splits[0]
			r.splits[0] = split{}
			r.splits = r.splits[1:]
			r.launch(s)
			continue
		}
		n := len(r.queue) - r.head
		if n == 0 {
			return 0
		}
		urgent := r.closing || len(r.waiters) > 0
		if n < r.cfg.maxBatch && !urgent {
			if age := time.Since(r.queue[r.head].accepted); age < r.cfg.linger {
				return r.cfg.linger - age
			}
		}
		batch := make([]*queued, min(n, r.cfg.maxBatch))
		for i := range batch {
			batch[i] = r.popQueued()
		}
		r.inFlight += len(batch)
		r.launch(split{events: batch})
	}
	return 0 // every slot busy: a batch that ends kicks
}

// launch starts sending a batch whose events are counted in r.inFlight already. Called with
// r.mu held.
func (r *SpendReporter) launch(s split) {
	r.batches++
	r.wg.Add(1)
	go r.send(s)
}

// send sends a batch until every event in it is settled, retrying what failed transiently with
// the same ids and bodies, for ever: only Close's deadline (or the reporter's context) stops
// it, and then the events stay in the spool. A batch the service refuses whole is handed back
// as two halves, which wait for slots of their own.
func (r *SpendReporter) send(s split) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		r.batches--
		r.mu.Unlock()
		r.wake()
	}()
	batch, failures := s.events, s.failures
	for len(batch) > 0 {
		rest, how := r.sendOnce(batch)
		if r.sendCtx.Err() != nil || len(rest) == 0 {
			return
		}
		if how != splitNow && sleepCtx(r.sendCtx, r.cfg.retry.delay(failures, jitter)) != nil {
			return
		}
		failures++
		if how != noSplit {
			r.splitBatch(rest, failures)
			return
		}
		batch = rest
	}
}

// splitBatch queues the halves of a refused batch ahead of every other batch, each to be sent
// on its own within maxInFlight, until the event that refuses the call is alone: about 9 rounds
// for 500 events. Its events stay counted in flight.
func (r *SpendReporter) splitBatch(batch []*queued, failures int) {
	mid := len(batch) / 2
	r.mu.Lock()
	r.stats.Retries += int64(len(batch))
	r.splits = append([]split{{batch[:mid:mid], failures}, {batch[mid:], failures}}, r.splits...)
	r.mu.Unlock()
}

// sendOnce makes one RecordSpendBatch call and settles what it can; it returns the events to
// send again, and whether to send them as two halves.
//
// Only the call can fail in a way that sends the batch again: handling its results settles
// each event once, and what fails there (rejected.jsonl cannot be written, a callback panics)
// is logged, never a reason to send again.
func (r *SpendReporter) sendOnce(batch []*queued) ([]*queued, splitKind) {
	req := &budgetv1.RecordSpendBatchRequest{Events: make([]*budgetv1.RecordSpendRequest, len(batch))}
	for i, q := range batch {
		req.Events[i] = &budgetv1.RecordSpendRequest{
			EventId:      q.event.ID,
			BrandId:      q.event.BrandID,
			CampaignId:   q.event.CampaignID,
			AmountMicros: q.event.AmountMicros,
			OccurredAt:   timestamppb.New(q.event.OccurredAt),
		}
	}
	res, err := r.client.RecordSpendBatch(r.sendCtx, connect.NewRequest(req))
	if err != nil {
		if r.sendCtx.Err() != nil {
			return batch, noSplit // stopping: they stay unsettled (and spooled)
		}
		return r.callFailed(batch, err)
	}
	results := res.Msg.GetResults()
	if len(results) != len(batch) {
		r.cfg.common.logger.Warn("adbudget: spend batch answered with the wrong number of results; retrying",
			"events", len(batch), "results", len(results))
		r.countRetries(len(batch))
		return batch, noSplit
	}
	return r.settleBatch(batch, func(i int) (outcome, bool, connect.Code, string) {
		res := results[i]
		if resp := res.GetResponse(); resp != nil {
			return outcomeAcked, resp.GetDuplicate(), 0, ""
		}
		st := res.GetError()
		if st == nil {
			return outcomeRetry, false, connect.CodeUnknown, "an empty result"
		}
		code := connect.Code(st.GetCode())
		if code == connect.CodeUnauthenticated {
			r.tokens.Invalidate(r.tokens.current())
		}
		return classify(code), false, code, st.GetMessage()
	}), noSplit
}

// callFailed decides what becomes of a batch whose whole call failed with err: sent again
// (a transient code), halved (refused whole, more than one event), or rejected (its one event).
func (r *SpendReporter) callFailed(batch []*queued, err error) ([]*queued, splitKind) {
	code := connect.CodeOf(err)
	switch {
	case code == connect.CodeResourceExhausted && len(batch) > 1:
		// A quota smaller than the batch refuses it for good ("send smaller batches"); a
		// service that sheds load refuses the halves too, and they back off as any retry.
		r.cfg.common.logger.Info("adbudget: spend batch refused for its size; halving it", "events", len(batch), "err", err)
		return batch, splitAfterBackoff
	case code == connect.CodeCanceled || classify(code) == outcomeRetry:
		// A CANCELED we did not ask for is the transport's (a stream reset): nothing was refused.
		r.cfg.common.logger.Info("adbudget: spend batch failed; retrying", "events", len(batch), "code", code, "err", err)
		r.countRetries(len(batch))
		return batch, noSplit
	case len(batch) > 1:
		// One event can refuse the whole call (another brand's, under a token scoped to one):
		// the halves go on their own until the culprit is a batch of one.
		r.cfg.common.logger.Info("adbudget: spend batch refused whole; halving it to find the culprit", "events", len(batch), "code", code)
		return batch, splitNow
	}
	msg := err.Error()
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		msg = cerr.Message()
	}
	return r.settleBatch(batch, func(int) (outcome, bool, connect.Code, string) { return outcomeReject, false, code, msg }), noSplit
}

// settleBatch applies each event's outcome and returns the events to retry. Each event is
// settled at most once; the callbacks run after the bookkeeping, guarded.
func (r *SpendReporter) settleBatch(batch []*queued, outcomeOf func(i int) (o outcome, duplicate bool, code connect.Code, msg string)) []*queued {
	type rejection struct {
		event SpendEvent
		code  connect.Code
		msg   string
	}
	var retry []*queued
	var rejected []rejection
	r.mu.Lock()
	for i, q := range batch {
		if q.settled {
			continue // cannot happen: a batch's events are its own; kept as the guard of once
		}
		o, dup, code, msg := outcomeOf(i)
		switch o {
		case outcomeRetry:
			retry = append(retry, q)
			continue
		case outcomeAcked:
			r.stats.Acknowledged++
			if dup {
				r.stats.Duplicates++
			}
		case outcomeReject:
			r.stats.Rejected++
			rejected = append(rejected, rejection{q.event, code, msg})
			if r.spool != nil {
				if err := r.spool.reject(q.event, code, msg); err != nil {
					r.cfg.common.logger.Error("adbudget: spool: cannot write rejected.jsonl", "id", q.event.ID, "err", err)
				}
			}
		}
		r.inFlight--
		r.settleLocked(q)
	}
	r.stats.Retries += int64(len(retry))
	r.mu.Unlock()
	for _, rj := range rejected {
		r.cfg.common.logger.Warn("adbudget: spend event rejected", "id", rj.event.ID, "code", rj.code, "message", rj.msg)
		if f := r.cfg.onRejected; f != nil {
			guard(r.cfg.common.logger, "OnRejected", func() { f(rj.event, rj.code, rj.msg) })
		}
	}
	return retry
}

func (r *SpendReporter) countRetries(n int) {
	r.mu.Lock()
	r.stats.Retries += int64(n)
	r.mu.Unlock()
}
