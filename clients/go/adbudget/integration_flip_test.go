package adbudget_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/type/dayofweek"

	"github.com/adbudget/adbudget/clients/go/adbudget"
	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// closingWindow is a daypart window, every day, that contains now and closes at the first
// local minute boundary at least lead ahead (by the services' clock). It opens 30 minutes
// before, so the campaign serves now.
func closingWindow(now time.Time, loc *time.Location, lead time.Duration) (closeAt time.Time, w *campaignv1.DaypartWindow) {
	earliest := now.Add(lead).In(loc)
	closeAt = time.Date(earliest.Year(), earliest.Month(), earliest.Day(), earliest.Hour(), earliest.Minute(), 0, 0, loc)
	if closeAt.Before(earliest) {
		closeAt = closeAt.Add(time.Minute)
	}
	end := closeAt.Format("15:04")
	if end == "00:00" {
		end = "24:00" // a window may end at midnight; "24:00" says so unambiguously
	}
	days := []dayofweek.DayOfWeek{dayofweek.DayOfWeek_MONDAY, dayofweek.DayOfWeek_TUESDAY, dayofweek.DayOfWeek_WEDNESDAY,
		dayofweek.DayOfWeek_THURSDAY, dayofweek.DayOfWeek_FRIDAY, dayofweek.DayOfWeek_SATURDAY, dayofweek.DayOfWeek_SUNDAY}
	return closeAt, &campaignv1.DaypartWindow{
		DaysOfWeek: days,
		Start:      closeAt.Add(-30 * time.Minute).Format("15:04"),
		End:        end,
	}
}

// The cache switches a campaign off at its next_change_time by its own clock, to the
// millisecond, before the clocks worker's write (which comes later) confirms it; the late write
// does not switch it back.
func TestIntegrationFlipAtNextChangeTime(t *testing.T) {
	sys := integrationSystem(t)
	ctx := t.Context()
	loc, err := time.LoadLocation(sys.zone)
	if err != nil {
		t.Fatalf("ADBUDGET_TEST_ZONE %q: %v", sys.zone, err)
	}
	// 10 s ahead at least: time to create the campaign and get the cache ready before the close.
	closeAt, window := closingWindow(sys.now(), loc, 10*time.Second)
	created := sys.createCampaign(t, "flip", &campaignv1.DaypartSchedule{TimeZone: sys.zone, Windows: []*campaignv1.DaypartWindow{window}})
	id := created.GetId()
	if !created.GetServing() || !created.GetNextChangeTime().AsTime().Equal(closeAt) {
		t.Fatalf("created %s (window %s-%s %s): serving %v, next_change_time %s; want serving until %s",
			id, window.Start, window.End, sys.zone, created.GetServing(), created.GetNextChangeTime().AsTime(), closeAt)
	}

	// The server's write of the close, as an independent watcher sees it arrive.
	serverWrite := make(chan time.Time, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchForClose(watchCtx, sys, id, serverWrite)

	var mu sync.Mutex
	var clockChange time.Time // when onChange said the campaign stopped, by the services' clock
	cache := sys.readyCache(t, ctx, adbudget.StaticToken(sys.adServerToken),
		adbudget.WithOnChange(func(cid string, serving bool, cause adbudget.Cause) {
			if cid == id && !serving && cause == adbudget.CauseClock {
				mu.Lock()
				clockChange = sys.now()
				mu.Unlock()
			}
		}))
	if !cache.IsServing(id) {
		t.Fatal("the cache does not serve the campaign before its close")
	}
	if lead := closeAt.Sub(sys.now()); lead < 300*time.Millisecond {
		t.Fatalf("only %s left before the close: the set-up took too long", lead)
	}
	eventsBefore := cache.Stats().Events

	// Busy-poll from 200 ms before the close to 200 ms after, by the services' clock. An
	// observation counts as before the close when the clock read after it is before, as
	// after when the clock read before it is at or after (the straddling ones say nothing).
	time.Sleep(closeAt.Add(-200 * time.Millisecond).Sub(sys.now()))
	var lastBefore, firstAfter *bool
	var lastBeforeAt, firstAfterAt time.Time
	polls := 0
	for {
		t1 := sys.now()
		v := cache.IsServing(id)
		t2 := sys.now()
		polls++
		if t2.Before(closeAt) {
			lastBefore, lastBeforeAt = &v, t2
		} else if !t1.Before(closeAt) && firstAfter == nil {
			firstAfter, firstAfterAt = &v, t1
		}
		if t1.After(closeAt.Add(200 * time.Millisecond)) {
			break
		}
	}
	if lastBefore == nil || !*lastBefore {
		t.Fatalf("the last lookup before the close (at %s ms) answered %v, want serving", ms(lastBeforeAt.Sub(closeAt)), lastBefore)
	}
	if firstAfter == nil || *firstAfter {
		t.Fatalf("the first lookup at or after the close (at +%s ms) answered %v, want not serving", ms(firstAfterAt.Sub(closeAt)), firstAfter)
	}

	// The clocks worker's write arrives later; the cache must hear it and stay off.
	var writeAt time.Time
	select {
	case writeAt = <-serverWrite:
	case <-time.After(30 * time.Second):
		t.Fatal("no CHANGED event with OUTSIDE_DAYPART within 30 s of the close")
	}
	deadline := time.Now().Add(5 * time.Second)
	for cache.Stats().Events == eventsBefore && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if cache.Stats().Events == eventsBefore {
		t.Error("the cache's stream did not deliver the server's write")
	}
	if cache.IsServing(id) {
		t.Fatal("the server's write switched the campaign back on")
	}
	mu.Lock()
	onChangeAt := clockChange
	mu.Unlock()
	if onChangeAt.IsZero() {
		t.Error("onChange(clock) was not called at the close")
	}
	t.Logf("flip at +%s ms (last serving lookup at %s ms, %d lookups), onChange(clock) at +%s ms, server write at +%s ms",
		ms(firstAfterAt.Sub(closeAt)), ms(lastBeforeAt.Sub(closeAt)), polls, ms(onChangeAt.Sub(closeAt)), ms(writeAt.Sub(closeAt)))
}

// watchForClose sends when the stream (admin, its own) shows campaign id changed to
// OUTSIDE_DAYPART, by the services' clock.
func watchForClose(ctx context.Context, sys *system, id string, arrived chan<- time.Time) {
	for ctx.Err() == nil {
		stream, err := sys.adminCampaigns().WatchCampaigns(ctx, connect.NewRequest(&campaignv1.WatchCampaignsRequest{BrandId: sys.brandID}))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for stream.Receive() {
			m := stream.Msg()
			if m.GetType() == campaignv1.WatchEventType_WATCH_EVENT_TYPE_CHANGED && m.GetCampaign().GetId() == id &&
				slices.Contains(m.GetCampaign().GetPauseReasons(), campaignv1.PauseReason_PAUSE_REASON_OUTSIDE_DAYPART) {
				arrived <- sys.now()
				_ = stream.Close()
				return
			}
		}
		_ = stream.Close()
	}
}
