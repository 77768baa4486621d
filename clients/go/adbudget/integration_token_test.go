package adbudget_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adbudget/adbudget/clients/go/adbudget"
)

// The cache stays in sync across token expiries: the services end a stream when the token it was
// opened with expires (UNAUTHENTICATED), and the cache renews the token and watches again.
func TestIntegrationTokenRefresh(t *testing.T) {
	sys := integrationSystem(t)
	ctx := t.Context()
	var calls atomic.Int64
	tokens := adbudget.TokenFunc(func(ctx context.Context) (string, error) {
		calls.Add(1)
		token, err := sys.control(ctx, "/token?ttl=5") // 5 s: two expiries within the run
		return strings.TrimSpace(token), err
	})
	first := sys.createCampaign(t, "token-first", nil).GetId()
	cache := sys.readyCache(t, ctx, tokens)
	if !cache.IsServing(first) {
		t.Fatal("the campaign created before the start does not serve")
	}

	// Run ~12 s; a campaign created in the middle, after the first expiry, must show up.
	start := time.Now()
	var later string
	var maxStale time.Duration
	for time.Since(start) < 12*time.Second {
		if later == "" && time.Since(start) > 7*time.Second {
			later = sys.createCampaign(t, "token-later", nil).GetId()
		}
		maxStale = max(maxStale, cache.Staleness())
		time.Sleep(50 * time.Millisecond)
	}
	// At the end: in sync (a reconnect may be under way at this instant: give it 3 s).
	deadline := time.Now().Add(3 * time.Second)
	for (cache.Staleness() != 0 || !cache.IsServing(later)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := cache.Stats()
	if cache.Staleness() != 0 || !cache.IsServing(later) || !cache.IsServing(first) {
		t.Fatalf("out of sync at the end: staleness %s, first %v, later %v (stats %+v)",
			cache.Staleness(), cache.IsServing(first), cache.IsServing(later), st)
	}
	if n := calls.Load(); n < 2 {
		t.Fatalf("the token source was called %d times in 12 s of 5-second tokens", n)
	}
	if st.Reconnects < 1 {
		t.Fatalf("no reconnect: the streams did not end at the tokens' expiry (stats %+v)", st)
	}
	t.Logf("token refresh: %d token calls, %d reconnects, %d snapshots in %s; worst staleness %s ms",
		calls.Load(), st.Reconnects, st.Snapshots, time.Since(start).Round(time.Millisecond), ms(maxStale))
}
