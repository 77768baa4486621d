package adbudget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TokenCache keeps the token its source gave and asks again only when it is due (docs/sdk.md,
// Tokens): at 80% of its life (exp - iat, read from the JWT without verifying), at once after
// [TokenCache.Invalidate] (the server answered UNAUTHENTICATED), after 5 minutes for a token
// without exp. When a renewal fails, the old token is kept until it expires and the renewal is
// retried with backoff, so a flaky token endpoint does not fail calls that a still-valid token
// would pass.
//
// Share one TokenCache between a [ServingCache] and a [SpendReporter] to renew once for both;
// the SDK wraps any other [TokenSource] in a TokenCache of its own. It is safe for concurrent use.
type TokenCache struct {
	src TokenSource
	now func() time.Time // the local clock with its monotonic reading (time.Now)

	mu       sync.Mutex
	token    string
	times    tokenTimes
	fetching chan struct{} // non-nil while one caller asks the source; closed when it is done
	failures int           // consecutive failed renewals
	retryAt  time.Time     // no renewal before this while the old token is usable
}

// NewTokenCache wraps src. A *TokenCache passed in is returned as it is.
func NewTokenCache(src TokenSource) *TokenCache {
	if c, ok := src.(*TokenCache); ok {
		return c
	}
	return &TokenCache{src: src, now: time.Now}
}

// Token returns the kept token, or asks the source when the token is due for renewal. Only one
// caller asks at a time; the others keep using the old token while it is valid, or wait.
func (c *TokenCache) Token(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		now := c.now()
		old := c.token
		if old != "" && now.Before(c.times.refreshAt) {
			c.mu.Unlock()
			return old, nil
		}
		usable := old != "" && (c.times.expiresAt.IsZero() || now.Before(c.times.expiresAt))
		if usable && (c.fetching != nil || now.Before(c.retryAt)) {
			c.mu.Unlock()
			return old, nil
		}
		if wait := c.fetching; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		done := make(chan struct{})
		c.fetching = done
		c.mu.Unlock()

		token, err := c.src.Token(ctx)
		if err == nil && token == "" {
			err = errors.New("the token source returned an empty token")
		}

		c.mu.Lock()
		c.fetching = nil
		close(done)
		if err != nil {
			c.retryAt = c.now().Add(tokenBackoff.ceiling(c.failures))
			c.failures++
			c.mu.Unlock()
			if usable {
				return old, nil
			}
			return "", fmt.Errorf("adbudget: token source: %w", err)
		}
		c.token, c.times = token, scheduleToken(readJWTTimes(token), c.now())
		c.failures, c.retryAt = 0, time.Time{}
		c.mu.Unlock()
		return token, nil
	}
}

// Invalidate drops token when it is still the kept one: the server refused it, so the next
// Token asks the source at once (and no backoff of an earlier failure holds it back).
func (c *TokenCache) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token == "" || token != c.token {
		return // already renewed by another caller
	}
	now := c.now()
	c.times = tokenTimes{refreshAt: now, expiresAt: now}
	c.retryAt = time.Time{}
}

// current is the kept token, without asking the source (for telling whether a renewal changed
// it).
func (c *TokenCache) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}
