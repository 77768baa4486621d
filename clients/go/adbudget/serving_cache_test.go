package adbudget

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// change is one onChange call.
type change struct {
	id      string
	serving bool
	cause   Cause
}

// changeLog collects onChange calls.
type changeLog struct {
	mu  sync.Mutex
	all []change
}

func (l *changeLog) record(id string, serving bool, cause Cause) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, change{id, serving, cause})
}

// take returns the calls so far and forgets them.
func (l *changeLog) take() []change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.all
	l.all = nil
	return out
}

func snap(c *campaignv1.Campaign) *campaignv1.WatchCampaignsResponse {
	return &campaignv1.WatchCampaignsResponse{Type: campaignv1.WatchEventType_WATCH_EVENT_TYPE_SNAPSHOT, Campaign: c}
}

func complete() *campaignv1.WatchCampaignsResponse {
	return &campaignv1.WatchCampaignsResponse{Type: campaignv1.WatchEventType_WATCH_EVENT_TYPE_SNAPSHOT_COMPLETE}
}

func changed(c *campaignv1.Campaign) *campaignv1.WatchCampaignsResponse {
	return &campaignv1.WatchCampaignsResponse{Type: campaignv1.WatchEventType_WATCH_EVENT_TYPE_CHANGED, Campaign: c}
}

func camp(id string, reasons ...campaignv1.PauseReason) *campaignv1.Campaign {
	return &campaignv1.Campaign{Id: id, PauseReasons: reasons, Serving: len(reasons) == 0}
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2 s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startTestCache(t *testing.T, fake *fakeCampaigns, tokens TokenSource, opts ...CacheOption) *ServingCache {
	t.Helper()
	c, err := NewServingCache(context.Background(), NewHTTPClient(), fake.serve(t), tokens, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestServingCacheFollowsTheStream(t *testing.T) {
	const paused = campaignv1.PauseReason_PAUSE_REASON_PAUSED_BY_USER
	offset := 48 * time.Hour // the cache's clock is not the wall clock
	now := func() time.Time { return time.Now().Add(offset) }
	fake := newFakeCampaigns()
	log := &changeLog{}
	cache := startTestCache(t, fake, StaticToken("tok"), WithClock(now), WithOnChange(log.record))

	s1 := newWatchSession()
	fake.sessions <- s1
	flip := camp("c")
	flip.NextChangeTime = timestamppb.New(now().Add(150 * time.Millisecond)) // closes soon
	s1.msgs <- snap(camp("a"))
	s1.msgs <- snap(camp("b", paused))
	s1.msgs <- snap(flip)
	if cache.Staleness() == 0 {
		t.Error("staleness is 0 before the first snapshot")
	}
	s1.msgs <- complete()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cache.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if !cache.IsServing("a") || cache.IsServing("b") || !cache.IsServing("c") || cache.IsServing("unknown") {
		t.Fatal("the snapshot's answers are wrong")
	}
	if cache.Staleness() != 0 {
		t.Errorf("staleness %s while in sync", cache.Staleness())
	}
	eventually(t, "c switched off at its next_change_time", func() bool { return !cache.IsServing("c") })
	eventually(t, "onChange(c, false, clock)", func() bool {
		for _, c := range log.take() {
			if c == (change{"c", false, CauseClock}) {
				return true
			}
		}
		return false
	})

	s1.msgs <- changed(camp("b"))
	eventually(t, "b resumed", func() bool { return cache.IsServing("b") })
	if got := log.take(); len(got) != 1 || got[0] != (change{"b", true, CauseServer}) {
		t.Errorf("onChange calls %v, want b serving (server)", got)
	}

	// The stream ends; the table keeps answering; the next snapshot replaces it: a gone, d new.
	s1.end <- connect.NewError(connect.CodeUnavailable, fmt.Errorf("replica killed"))
	eventually(t, "out of sync", func() bool { return cache.Staleness() > 0 })
	if !cache.IsServing("a") {
		t.Error("the table must keep answering while reconnecting")
	}
	s2 := newWatchSession()
	fake.sessions <- s2
	s2.msgs <- snap(camp("b"))
	s2.msgs <- snap(camp("d"))
	s2.msgs <- complete()
	eventually(t, "resynced", func() bool { return cache.Staleness() == 0 && cache.IsServing("d") })
	if cache.IsServing("a") {
		t.Error("a campaign absent from the new snapshot must be removed")
	}
	got := map[change]bool{}
	for _, c := range log.take() {
		got[c] = true
	}
	want := map[change]bool{{"a", false, CauseServer}: true, {"d", true, CauseServer}: true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resync onChange calls %v, want %v", got, want)
	}
	st := cache.Stats()
	if st.Reconnects != 1 || st.Snapshots != 2 || st.Events != 1 || st.Campaigns != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestServingCacheStalePolicy(t *testing.T) {
	tests := []struct {
		name        string
		policy      StalePolicy
		servesStale bool
	}{
		{"stop (default)", StopServing, false},
		{"keep", KeepServing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeCampaigns()
			log := &changeLog{}
			cache := startTestCache(t, fake, StaticToken("tok"),
				WithStaleAfter(100*time.Millisecond), WithStalePolicy(tt.policy), WithOnChange(log.record))
			s1 := newWatchSession()
			fake.sessions <- s1
			s1.msgs <- snap(camp("a"))
			s1.msgs <- complete()
			eventually(t, "ready", func() bool { return cache.IsServing("a") })
			log.take()
			s1.end <- connect.NewError(connect.CodeUnavailable, nil) // and no new session for a while
			time.Sleep(250 * time.Millisecond)
			if got := cache.IsServing("a"); got != tt.servesStale {
				t.Fatalf("past the stale limit IsServing = %v, want %v", got, tt.servesStale)
			}
			if tt.policy == StopServing {
				if got := log.take(); len(got) != 1 || got[0] != (change{"a", false, CauseStale}) {
					t.Errorf("onChange calls %v, want a stopped (stale)", got)
				}
			}
			s2 := newWatchSession()
			fake.sessions <- s2
			s2.msgs <- snap(camp("a"))
			s2.msgs <- complete()
			eventually(t, "resynced", func() bool { return cache.Staleness() == 0 && cache.IsServing("a") })
			if tt.policy == StopServing {
				if got := log.take(); len(got) != 1 || got[0] != (change{"a", true, CauseServer}) {
					t.Errorf("onChange calls %v, want a serving again (server: the resync)", got)
				}
			}
		})
	}
}

func TestServingCacheRenewsTokenOnUnauthenticated(t *testing.T) {
	fake := newFakeCampaigns()
	var mu sync.Mutex
	n := 0
	tokens := TokenFunc(func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("tok-%d", n), nil
	})
	cache := startTestCache(t, fake, tokens)
	s1 := newWatchSession()
	fake.sessions <- s1
	s1.msgs <- snap(camp("a"))
	s1.msgs <- complete()
	eventually(t, "ready", func() bool { return cache.IsServing("a") })
	start := time.Now()
	s1.end <- connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("the token expired"))
	eventually(t, "a second watch", func() bool { return fake.callsOf("watch") == 2 })
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("reconnected after %s: after a token renewal it must be at once", d)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.auth[0] != "Bearer tok-1" || fake.auth[1] != "Bearer tok-2" {
		t.Errorf("tokens %v: the second watch must carry a renewed token", fake.auth)
	}
}

// An onChange that panics (the caller's bug) neither kills the cache's goroutines (the clock
// timer's, the stream's) nor makes it repeat or skip a notification.
func TestServingCacheGuardsOnChange(t *testing.T) {
	fake := newFakeCampaigns()
	var mu sync.Mutex
	var calls []change
	cache := startTestCache(t, fake, StaticToken("tok"), WithOnChange(func(id string, serving bool, cause Cause) {
		mu.Lock()
		calls = append(calls, change{id, serving, cause})
		mu.Unlock()
		panic("a bug in onChange")
	}))
	s1 := newWatchSession()
	fake.sessions <- s1
	flip := camp("c")
	flip.NextChangeTime = timestamppb.New(time.Now().Add(100 * time.Millisecond))
	s1.msgs <- snap(flip)
	s1.msgs <- complete()
	eventually(t, "c switched off by the clock", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(calls) == 2
	})
	s1.msgs <- changed(camp("c"))
	eventually(t, "c on again", func() bool { return cache.IsServing("c") })
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	want := []change{{"c", true, CauseServer}, {"c", false, CauseClock}, {"c", true, CauseServer}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("onChange calls %v, want %v", calls, want)
	}
}

func TestShouldServeSamplesTheThrottle(t *testing.T) {
	throttled := func(id string, v float64) *campaignv1.Campaign {
		c := camp(id)
		c.Throttle = &v
		return c
	}
	fake := newFakeCampaigns()
	cache := startTestCache(t, fake, StaticToken("tok"))
	s := newWatchSession()
	fake.sessions <- s
	s.msgs <- snap(camp("old")) // no throttle: a server before pacing
	s.msgs <- snap(throttled("none", 0))
	s.msgs <- snap(throttled("quarter", 0.25))
	s.msgs <- snap(throttled("full", 1))
	s.msgs <- snap(camp("stopped", campaignv1.PauseReason_PAUSE_REASON_PAUSED_BY_USER))
	s.msgs <- complete()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cache.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	const draws = 100_000
	count := func(id string) int {
		n := 0
		for range draws {
			if cache.ShouldServe(id) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		id       string
		min, max int
	}{
		{"old", draws, draws},
		{"full", draws, draws},
		{"none", 0, 0},
		{"stopped", 0, 0},
		{"unknown", 0, 0},
		// 0.25 of 100,000 draws: the standard deviation is 137, so +-1,000 is over 7 of them.
		{"quarter", 24_000, 26_000},
	}
	for _, tt := range tests {
		if got := count(tt.id); got < tt.min || got > tt.max {
			t.Errorf("ShouldServe(%q) true %d times of %d, want %d..%d", tt.id, got, draws, tt.min, tt.max)
		}
	}
	if got := cache.Throttle("quarter"); got != 0.25 {
		t.Errorf("Throttle(quarter) = %v", got)
	}
	if got := cache.Throttle("old"); got != 1 {
		t.Errorf("Throttle(old) = %v, want 1", got)
	}

	// A throttle past its expiry (the end of its day) no longer applies.
	expired := throttled("expired", 0)
	expired.ThrottleExpireTime = timestamppb.New(time.Now().Add(-time.Millisecond))
	s.msgs <- changed(expired)
	eventually(t, "the expired throttle applied", func() bool { return cache.IsServing("expired") })
	if !cache.ShouldServe("expired") || cache.Throttle("expired") != 1 {
		t.Error("an expired throttle of 0 still holds the campaign back")
	}
}
