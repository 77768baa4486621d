package adbudget

import (
	"log/slog"
	"time"

	"connectrpc.com/connect"
)

// CacheOption configures a [ServingCache].
type CacheOption interface{ applyCache(*cacheConfig) }

// ReporterOption configures a [SpendReporter].
type ReporterOption interface{ applyReporter(*reporterConfig) }

// Option configures a [ServingCache], a [SpendReporter] and [NewInterceptor] alike (the clock,
// the logger, the call policy).
type Option interface {
	CacheOption
	ReporterOption
	applyCommon(*commonConfig)
}

// commonConfig is what every part of the SDK is configured with.
type commonConfig struct {
	now           func() time.Time
	logger        *slog.Logger
	callTimeout   time.Duration
	callAttempts  int
	clientOptions []connect.ClientOption
}

const (
	// defaultCallTimeout is the deadline of one unary call attempt (docs/sdk.md): the services
	// answer in milliseconds; 5 s is a call that will not answer, and the retry (or the
	// reporter's) should take over.
	defaultCallTimeout = 5 * time.Second
	// defaultCallAttempts is how many times an idempotent unary call is tried on UNAVAILABLE: with
	// callBackoff that spans a replica's restart (about 10 s) without holding a caller longer.
	defaultCallAttempts = 5
)

func defaultCommon() commonConfig {
	return commonConfig{
		now:          time.Now,
		logger:       slog.New(slog.DiscardHandler),
		callTimeout:  defaultCallTimeout,
		callAttempts: defaultCallAttempts,
	}
}

type commonOption func(*commonConfig)

func (f commonOption) applyCommon(c *commonConfig)     { f(c) }
func (f commonOption) applyCache(c *cacheConfig)       { f(&c.common) }
func (f commonOption) applyReporter(c *reporterConfig) { f(&c.common) }

// WithClock sets the time source (default time.Now): the cache switches campaigns at
// next_change_time by it and the reporter stamps occurred_at with it. Tests and simulations
// pass the services' shifted clock. Durations (staleness, linger, backoff) always use the
// local monotonic clock.
func WithClock(now func() time.Time) Option {
	return commonOption(func(c *commonConfig) { c.now = now })
}

// WithLogger sets where the SDK logs reconnects, staleness, retries and rejections (default:
// nowhere).
func WithLogger(l *slog.Logger) Option {
	return commonOption(func(c *commonConfig) { c.logger = l })
}

// WithCallTimeout sets the deadline of one unary call attempt (default 5 s). A shorter deadline
// of the caller's context wins.
func WithCallTimeout(d time.Duration) Option {
	return commonOption(func(c *commonConfig) { c.callTimeout = d })
}

// WithCallAttempts sets how many times an idempotent unary call is tried on UNAVAILABLE
// (default 5; 1 disables the retry). Calls the proto does not mark idempotent are tried once.
func WithCallAttempts(n int) Option {
	return commonOption(func(c *commonConfig) { c.callAttempts = max(n, 1) })
}

// WithClientOptions passes options to the connect clients (connect.WithGRPC() to speak gRPC
// instead of the Connect protocol, connect.WithSendGzip(), ...).
func WithClientOptions(opts ...connect.ClientOption) Option {
	return commonOption(func(c *commonConfig) { c.clientOptions = append(c.clientOptions, opts...) })
}
