package adbudget

import "time"

// StalePolicy is what lookups answer once the cache has been out of sync for longer than its
// stale limit ([WithStaleAfter]).
type StalePolicy int

const (
	// StopServing answers false for every campaign: the safe choice for money (default). An ad
	// server that cannot hear pauses must not keep spending a budget that may be gone.
	StopServing StalePolicy = iota
	// KeepServing answers from the last known table, still switching on time: for ad servers
	// that prefer serving a few paused campaigns to serving none.
	KeepServing
)

func (p StalePolicy) String() string {
	if p == KeepServing {
		return "keep"
	}
	return "stop"
}

// Cause says why what [ServingCache.IsServing] answers for a campaign changed.
type Cause int

const (
	// CauseServer: an event of the stream, or a resync's snapshot.
	CauseServer Cause = iota + 1
	// CauseClock: the campaign's next_change_time passed.
	CauseClock
	// CauseStale: the stale policy took effect (the resync that ends it reports CauseServer).
	CauseStale
)

func (c Cause) String() string {
	switch c {
	case CauseServer:
		return "server"
	case CauseClock:
		return "clock"
	case CauseStale:
		return "stale"
	}
	return "unknown"
}

// defaultStaleAfter is how long the cache answers from its last table while out of sync before
// the stale policy applies (docs/sdk.md): 30 s covers a replica's restart and a few reconnect
// backoffs, and is short next to how fast a budget is spent.
const defaultStaleAfter = 30 * time.Second

type cacheConfig struct {
	common      commonConfig
	brandID     string
	staleAfter  time.Duration
	stalePolicy StalePolicy
	onChange    func(id string, serving bool, cause Cause)
}

func defaultCacheConfig() cacheConfig {
	return cacheConfig{common: defaultCommon(), staleAfter: defaultStaleAfter, stalePolicy: StopServing}
}

type cacheOption func(*cacheConfig)

func (f cacheOption) applyCache(c *cacheConfig) { f(c) }

// WithBrand watches the campaigns of one brand. Without it the cache watches every brand its
// token names.
func WithBrand(brandID string) CacheOption {
	return cacheOption(func(c *cacheConfig) { c.brandID = brandID })
}

// WithStaleAfter sets how long the cache may be out of sync before the stale policy applies
// (default 30 s).
func WithStaleAfter(d time.Duration) CacheOption {
	return cacheOption(func(c *cacheConfig) { c.staleAfter = d })
}

// WithStalePolicy sets what lookups answer past the stale limit (default [StopServing]).
func WithStalePolicy(p StalePolicy) CacheOption {
	return cacheOption(func(c *cacheConfig) { c.stalePolicy = p })
}

// WithOnChange calls f whenever what IsServing answers for a campaign changes, with why, for ad
// servers that push serving state rather than look it up. Calls are made one at a time, in
// order; f must return quickly and must not call Close (the cache waits for it).
func WithOnChange(f func(id string, serving bool, cause Cause)) CacheOption {
	return cacheOption(func(c *cacheConfig) { c.onChange = f })
}
