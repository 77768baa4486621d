package adbudget

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is full-jitter exponential backoff: the delay before retry n (from 0) is uniform in
// [0, min(max, base*2^n)]. Full jitter spreads the retries of many clients that failed together
// (a replica restart cuts every ad server at once) instead of bringing them back in waves.
type backoff struct {
	base, max time.Duration
}

var (
	// callBackoff paces retries of idempotent unary calls on UNAVAILABLE (docs/sdk.md, Calls):
	// 100 ms is about a replica failover; 5 s caps the wait so 5 attempts end within ~10 s.
	callBackoff = backoff{base: 100 * time.Millisecond, max: 5 * time.Second}
	// spendBackoff paces the reporter's retries, which go on for ever (docs/sdk.md): the 10 s cap
	// bounds both the load of an ad server on a recovering budget service and how late spend
	// arrives once it recovered.
	spendBackoff = backoff{base: 100 * time.Millisecond, max: 10 * time.Second}
	// reconnectBackoff paces the cache's reconnects: a killed replica's peer accepts at once, so
	// the first try comes within 100 ms; 5 s caps the gap while the service is down.
	reconnectBackoff = backoff{base: 100 * time.Millisecond, max: 5 * time.Second}
	// tokenBackoff paces retries of a failed token renewal while the old token is still valid
	// (docs/sdk.md, Tokens): 1 s doubling to 30 s, without jitter (each ad server renews on its
	// own token's schedule, so they do not fail together): a token endpoint that is down is not
	// called on every request, and one that recovers is tried again within 30 s, well inside
	// the fifth of the token's life left for the renewal.
	tokenBackoff = backoff{base: time.Second, max: 30 * time.Second}
)

// ceiling is the largest delay of retry n: base*2^n, capped at max (and safe from overflow).
func (b backoff) ceiling(n int) time.Duration {
	d := b.base
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// delay draws the delay of retry n; randN(k) must return a uniform value in [0, k).
func (b backoff) delay(n int, randN func(int64) int64) time.Duration {
	c := b.ceiling(n)
	if c <= 0 {
		return 0
	}
	return time.Duration(randN(int64(c) + 1))
}

// jitter is the production random source of backoff.delay.
func jitter(k int64) int64 { return rand.Int64N(k) }

// sleepCtx waits d or until ctx is done, whichever comes first; it reports ctx's error then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
