package adbudget

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// tokenClock is a settable clock for TokenCache.
type tokenClock struct{ t time.Time }

func (c *tokenClock) now() time.Time { return c.t }

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	clock := &tokenClock{t: time.Now()}
	calls := 0
	var fail error
	src := TokenFunc(func(context.Context) (string, error) {
		calls++
		if fail != nil {
			return "", fail
		}
		iat := clock.t.Unix()
		return fakeJWT(fmt.Sprintf(`{"n":%d,"iat":%d,"exp":%d}`, calls, iat, iat+100)), nil
	})
	c := NewTokenCache(src)
	c.now = clock.now

	t1, err := c.Token(ctx)
	if err != nil || calls != 1 {
		t.Fatalf("first token: %v, %d calls", err, calls)
	}
	clock.t = clock.t.Add(79 * time.Second)
	if tok, _ := c.Token(ctx); tok != t1 || calls != 1 {
		t.Fatalf("before 80%% of its life the token is kept (%d calls)", calls)
	}
	clock.t = clock.t.Add(2 * time.Second)
	fail = errors.New("token endpoint down")
	if tok, err := c.Token(ctx); err != nil || tok != t1 || calls != 2 {
		t.Fatalf("a failed renewal keeps the old token: %v, same %v, %d calls", err, tok == t1, calls)
	}
	if _, _ = c.Token(ctx); calls != 2 {
		t.Fatalf("a failed renewal is retried after a backoff, not at once (%d calls)", calls)
	}
	clock.t = clock.t.Add(999 * time.Millisecond) // the first retry comes 1 s after the failure
	if _, _ = c.Token(ctx); calls != 2 {
		t.Fatalf("retried before 1 s (%d calls)", calls)
	}
	clock.t = clock.t.Add(time.Millisecond)
	if tok, err := c.Token(ctx); err != nil || tok != t1 || calls != 3 {
		t.Fatalf("the retry at 1 s fails again and keeps the old token: %v, same %v, %d calls", err, tok == t1, calls)
	}
	clock.t = clock.t.Add(1999 * time.Millisecond) // the second comes 2 s after
	if _, _ = c.Token(ctx); calls != 3 {
		t.Fatalf("the second retry came before 2 s (%d calls)", calls)
	}
	clock.t = clock.t.Add(time.Millisecond)
	fail = nil
	t2, err := c.Token(ctx)
	if err != nil || t2 == t1 || calls != 4 {
		t.Fatalf("renewal after the backoff: %v, new %v, %d calls", err, t2 != t1, calls)
	}
	c.Invalidate(t1) // an old token refused: nothing to do, t2 is kept
	if tok, _ := c.Token(ctx); tok != t2 || calls != 4 {
		t.Fatalf("invalidating a replaced token renewed again (%d calls)", calls)
	}
	c.Invalidate(t2)
	t3, _ := c.Token(ctx)
	if t3 == t2 || calls != 5 {
		t.Fatalf("UNAUTHENTICATED renews at once (%d calls)", calls)
	}
	c.Invalidate(t3)
	fail = errors.New("still down")
	if _, err := c.Token(ctx); err == nil {
		t.Fatal("no usable token and a failing source must be an error")
	}
	clock.t = clock.t.Add(200 * time.Second)
	fail = nil
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTokenCacheWithoutExp(t *testing.T) {
	clock := &tokenClock{t: time.Now()}
	calls := 0
	c := NewTokenCache(TokenFunc(func(context.Context) (string, error) { calls++; return "opaque", nil }))
	c.now = clock.now
	_, _ = c.Token(context.Background())
	clock.t = clock.t.Add(4 * time.Minute)
	_, _ = c.Token(context.Background())
	if calls != 1 {
		t.Fatalf("renewed before 5 minutes (%d calls)", calls)
	}
	clock.t = clock.t.Add(time.Minute + time.Second)
	_, _ = c.Token(context.Background())
	if calls != 2 {
		t.Fatalf("not renewed after 5 minutes (%d calls)", calls)
	}
	if NewTokenCache(c) != c {
		t.Error("a TokenCache must not be wrapped again")
	}
}
