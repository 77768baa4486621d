package adbudget

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1/campaignv1connect"
)

// ServingCache knows, in memory, which campaigns may serve (docs/sdk.md, ServingCache). It
// follows WatchCampaigns: a snapshot fills its table, changes update it, and when the stream
// ends for any reason it keeps answering from the table, reconnects, and replaces the table with
// the new snapshot. Lookups are lock-free and allocation-free, and exact at the millisecond: a
// campaign switches at its next_change_time by the cache's clock, without waiting for an event.
type ServingCache struct {
	cfg    cacheConfig
	client campaignv1connect.CampaignServiceClient
	tokens *TokenCache

	table   atomic.Pointer[table]
	stopped atomic.Bool // the StopServing policy is in effect: every lookup answers false

	// Staleness, on the local monotonic clock: base is when the cache started, lastSync the
	// instant (nanoseconds after base) it was last in sync.
	base     time.Time
	synced   atomic.Bool
	lastSync atomic.Int64

	reconnects, events, snapshots atomic.Int64
	lastErr                       atomic.Pointer[error]

	ready     chan struct{}
	readyOnce sync.Once

	notes  notifier // onChange bookkeeping, clock and stale timers (its own lock)
	cancel context.CancelFunc
	done   chan struct{}
	close  sync.Once
}

// CacheStats counts what the cache went through.
type CacheStats struct {
	// Reconnects is how many times the stream ended and was opened again.
	Reconnects int64
	// Events is how many CHANGED and DELETED messages were applied.
	Events int64
	// Snapshots is how many snapshots completed (1 + successful resyncs).
	Snapshots int64
	// Campaigns is how many campaigns the table holds.
	Campaigns int
}

// ErrClosed is what ServingCache.Ready answers once the cache is closed.
var ErrClosed = errors.New("adbudget: closed")

// NewServingCache starts a cache of the campaigns at campaignURL (the CampaignService, such as
// http://127.0.0.1:50053) and returns at once; [ServingCache.Ready] waits for the first
// snapshot. The cache runs until Close, or until ctx is done. httpClient should speak HTTP/2
// ([NewHTTPClient]); tokens is wrapped in a [TokenCache].
func NewServingCache(ctx context.Context, httpClient connect.HTTPClient, campaignURL string, tokens TokenSource, opts ...CacheOption) (*ServingCache, error) {
	if httpClient == nil || campaignURL == "" || tokens == nil {
		return nil, errors.New("adbudget: NewServingCache needs an HTTP client, the campaign service's URL and a token source")
	}
	cfg := defaultCacheConfig()
	for _, o := range opts {
		o.applyCache(&cfg)
	}
	if cfg.staleAfter <= 0 {
		return nil, fmt.Errorf("adbudget: stale limit must be positive, not %s", cfg.staleAfter)
	}
	cache := &ServingCache{
		cfg:    cfg,
		tokens: NewTokenCache(tokens),
		base:   time.Now(),
		ready:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	clientOpts := append([]connect.ClientOption{connect.WithInterceptors(newCallPolicy(cache.tokens, cfg.common))}, cfg.common.clientOptions...)
	cache.client = campaignv1connect.NewCampaignServiceClient(httpClient, campaignURL, clientOpts...)
	cache.table.Store(&table{slots: map[string]*slot{}})
	cache.notes.init(cache)
	runCtx, cancel := context.WithCancel(ctx)
	cache.cancel = cancel
	cache.notes.lostSync() // out of sync until the first snapshot: the stale clock runs from now
	go cache.run(runCtx)
	return cache, nil
}

// IsServing answers whether the campaign may serve now: false for a campaign the server has not
// shown the cache, and for every campaign while the StopServing policy is in effect. It reads
// memory only: no lock, no allocation, no call.
func (c *ServingCache) IsServing(id string) bool {
	return c.serving(id, c.cfg.common.now()) != nil
}

// ShouldServe says whether to serve the campaign on this opportunity: [ServingCache.IsServing],
// then a draw against the campaign's pacing throttle (Campaign.throttle), so a paced campaign
// takes that share of its opportunities and its budget lasts the day. Memory only; safe for
// concurrent use (math/rand/v2's global source).
func (c *ServingCache) ShouldServe(id string) bool {
	now := c.cfg.common.now()
	e := c.serving(id, now)
	if e == nil {
		return false
	}
	t := throttleAt(e, now)
	return t >= 1 || (t > 0 && rand.Float64() < t)
}

// Throttle is the campaign's pacing throttle now, in [0, 1]: 1 when unpaced, unknown, sent by
// a server before pacing, or past its throttle_expire_time (the end of the day it was for).
func (c *ServingCache) Throttle(id string) float64 {
	if e := c.table.Load().entry(id); e != nil {
		return throttleAt(e, c.cfg.common.now())
	}
	return 1
}

// serving is the campaign's entry when it serves at now (with the stale policy), else nil.
func (c *ServingCache) serving(id string, now time.Time) *entry {
	e := c.table.Load().entry(id)
	if e == nil || c.stopped.Load() || !servesAt(e, now) {
		return nil
	}
	return e
}

// Ready waits for the first snapshot. On ctx's end it says what the stream last failed with.
func (c *ServingCache) Ready(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		if p := c.lastErr.Load(); p != nil {
			return fmt.Errorf("adbudget: serving cache not ready: %w (the stream last failed with: %v)", ctx.Err(), *p)
		}
		return fmt.Errorf("adbudget: serving cache not ready: %w", ctx.Err())
	}
}

// Staleness is 0 while the stream is connected and its snapshot complete; otherwise how long
// since the cache was last in sync (since it started, before the first snapshot).
func (c *ServingCache) Staleness() time.Duration {
	if c.synced.Load() {
		return 0
	}
	return max(time.Since(c.base)-time.Duration(c.lastSync.Load()), 0)
}

// Stats says what the cache went through.
func (c *ServingCache) Stats() CacheStats {
	return CacheStats{
		Reconnects: c.reconnects.Load(),
		Events:     c.events.Load(),
		Snapshots:  c.snapshots.Load(),
		Campaigns:  len(c.table.Load().slots),
	}
}

// Close stops the stream and the timers. Lookups keep answering from the last table (and the
// stale policy no longer changes); it is safe to call more than once.
func (c *ServingCache) Close() error {
	c.close.Do(func() {
		c.cancel()
		<-c.done
		c.notes.stop()
	})
	return nil
}
