package adbudget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1/budgetv1connect"
)

// SpendReporter reports spend so that every accepted event is counted exactly once (docs/sdk.md,
// SpendReporter): Report validates, spools (optionally) and queues without waiting on the
// network; batches leave for RecordSpendBatch in the background and are retried with the same
// ids and bodies until each event is acknowledged or refused for good.
type SpendReporter struct {
	cfg    reporterConfig
	client budgetv1connect.BudgetServiceClient
	tokens *TokenCache
	spool  *spool // nil without WithSpool

	mu       sync.Mutex
	queue    []*queued // FIFO of events not yet in a batch; queue[head:] are live
	head     int
	inFlight int     // events in batches being sent, or in splits waiting for a slot
	batches  int     // batches being sent
	splits   []split // halves of batches refused whole, sent before the queue
	stopped  bool    // Close is done: nothing is sent any more
	seq      uint64
	waiters  []*flushWaiter
	closing  bool // Close called: Report answers false, batches leave without lingering
	stats    ReporterStats

	kick    chan struct{} // wakes the dispatcher: an event to batch, a slot freed, a flush
	sendCtx context.Context
	stop    context.CancelFunc // ends the sends at Close's deadline
	wg      sync.WaitGroup     // the dispatcher and the batches
	closed  sync.Once
	result  error
}

// queued is an accepted event on its way.
type queued struct {
	event    SpendEvent
	seq      uint64
	segment  int64     // its spool segment (0 without a spool)
	accepted time.Time // for linger (monotonic)
	settled  bool      // acknowledged, rejected or dropped: settled once, whatever comes after
}

// flushWaiter is a Flush waiting for every event accepted before it to settle.
type flushWaiter struct {
	upTo    uint64
	pending int
	done    chan struct{}
}

// ReporterStats counts what the reporter did.
type ReporterStats struct {
	Accepted     int64 // events Report accepted
	Replayed     int64 // events read back from the spool at start and sent again
	Acknowledged int64 // recorded, or duplicates of an earlier send that counted
	Duplicates   int64 // of Acknowledged: the service had the event already
	Rejected     int64 // refused for good (onRejected)
	Dropped      int64 // dropped by the DropOldest policy (onDrop)
	Retries      int64 // sends of an event after the first
	Queued       int   // accepted, not yet in a batch
	InFlight     int   // in batches being sent
}

// NewSpendReporter starts a reporter to the BudgetService at budgetURL (such as
// http://127.0.0.1:50052). With WithSpool it takes the directory's lock (a live holder is an
// error) and queues again every event the spool holds. The reporter sends until Close; ctx ends
// its sends too (what is unsent stays in the spool).
func NewSpendReporter(ctx context.Context, httpClient connect.HTTPClient, budgetURL string, tokens TokenSource, opts ...ReporterOption) (*SpendReporter, error) {
	if httpClient == nil || budgetURL == "" || tokens == nil {
		return nil, errors.New("adbudget: NewSpendReporter needs an HTTP client, the budget service's URL and a token source")
	}
	cfg := defaultReporterConfig()
	for _, o := range opts {
		o.applyReporter(&cfg)
	}
	if cfg.maxBatch < 1 || cfg.maxBatch > maxBatchLimit || cfg.maxInFlight < 1 || cfg.maxBuffered < 1 || cfg.linger < 0 {
		return nil, fmt.Errorf("adbudget: reporter options out of range (max batch 1..%d, in flight >= 1, buffered >= 1, linger >= 0)", maxBatchLimit)
	}
	r := &SpendReporter{cfg: cfg, tokens: NewTokenCache(tokens), kick: make(chan struct{}, 1)}
	// The reporter retries for ever with its own backoff (to 10 s): the interceptor's retries
	// would only nest a second schedule inside it.
	callCfg := cfg.common
	callCfg.callAttempts = 1
	clientOpts := append([]connect.ClientOption{connect.WithInterceptors(newCallPolicy(r.tokens, callCfg))}, cfg.common.clientOptions...)
	r.client = budgetv1connect.NewBudgetServiceClient(httpClient, budgetURL, clientOpts...)
	if cfg.spoolDir != "" {
		sp, replay, err := openSpool(cfg.spoolDir, cfg.fsync, cfg.common.logger)
		if err != nil {
			return nil, err
		}
		r.spool = sp
		now := time.Now()
		for _, s := range replay {
			r.seq++
			r.queue = append(r.queue, &queued{event: s.event, seq: r.seq, segment: s.segment, accepted: now})
		}
		r.stats.Replayed = int64(len(replay))
		if len(replay) > 0 {
			cfg.common.logger.Info("adbudget: sending again the events of the spool", "events", len(replay), "dir", cfg.spoolDir)
		}
	}
	r.sendCtx, r.stop = context.WithCancel(ctx)
	r.wg.Add(1)
	go r.dispatch()
	r.wake()
	return r, nil
}

// Report accepts an event: it validates it (an invalid event is an error wrapping
// ErrInvalidEvent), stamps OccurredAt when zero, writes it to the spool, and queues it. It never
// waits on the network. It answers false when the reporter is closed (or its context is done),
// or full under the Reject policy (or under DropOldest with nothing queued to drop: everything
// buffered is in flight); an error when the spool cannot be written (the event is not accepted
// then).
func (r *SpendReporter) Report(e SpendEvent) (bool, error) {
	if err := e.validate(); err != nil {
		return false, err
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = r.cfg.common.now()
	}
	// Milliseconds: what the spool keeps and the service compares, so a replay is the same body.
	e.OccurredAt = e.OccurredAt.Truncate(time.Millisecond)
	r.mu.Lock()
	if r.closing || r.sendCtx.Err() != nil { // closed, or its context ended: nothing would send it
		r.mu.Unlock()
		return false, nil
	}
	var dropped *queued
	if r.buffered() >= r.cfg.maxBuffered {
		if r.cfg.overflow != DropOldest || r.head == len(r.queue) {
			r.mu.Unlock()
			return false, nil
		}
		dropped = r.popQueued()
	}
	q := &queued{event: e, accepted: time.Now()}
	if r.spool != nil {
		seg, err := r.spool.append(e)
		if err != nil {
			if dropped != nil {
				r.pushFront(dropped) // it was not dropped after all
			}
			r.mu.Unlock()
			return false, err
		}
		q.segment = seg
	}
	r.seq++
	q.seq = r.seq
	r.queue = append(r.queue, q)
	r.stats.Accepted++
	if dropped != nil {
		r.stats.Dropped++
		r.settleLocked(dropped)
	}
	wake := len(r.queue)-r.head == 1 || len(r.queue)-r.head >= r.cfg.maxBatch
	r.mu.Unlock()
	if f := r.cfg.onDrop; dropped != nil && f != nil {
		guard(r.cfg.common.logger, "OnDrop", func() { f(dropped.event) })
	}
	if wake {
		r.wake()
	}
	return true, nil
}

// Flush waits until every event accepted before the call is acknowledged or rejected (events
// waiting for a retry included), or until ctx is done. Batches leave at once while it waits.
// After Close it returns at once: nil when nothing was left unsettled, else the error that
// the reporter sends no more (what is left is in the spool, or was reported lost by Close).
func (r *SpendReporter) Flush(ctx context.Context) (err error) {
	r.mu.Lock()
	pending := r.buffered()
	if pending == 0 {
		r.mu.Unlock()
		return nil
	}
	if r.stopped {
		r.mu.Unlock()
		return errStopped
	}
	w := &flushWaiter{upTo: r.seq, pending: pending, done: make(chan struct{})}
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	r.wake()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-r.sendCtx.Done():
		err = errStopped // nothing sends any more: waiting would never end
	}
	r.mu.Lock()
	r.removeWaiter(w)
	r.mu.Unlock()
	return err
}

// errStopped is Flush's answer once Close, or the reporter's context, ended its sends.
var errStopped = errors.New("adbudget: the reporter is closed (or its context is done): it sends no more")

// Stats says what the reporter did so far.
func (r *SpendReporter) Stats() ReporterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Queued = len(r.queue) - r.head
	s.InFlight = r.inFlight
	return s
}

// buffered is how many accepted events are not yet settled. Called with r.mu held.
func (r *SpendReporter) buffered() int { return len(r.queue) - r.head + r.inFlight }

func (r *SpendReporter) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}
