package adbudget

import (
	"math"
	"time"

	"google.golang.org/genproto/googleapis/type/date"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// entry is what the cache keeps of a campaign: its answer before and after its
// next_change_time, so a lookup is one comparison and no allocation. Immutable once built:
// updates replace the whole entry.
type entry struct {
	// before: whether it serves until nextChange (it has no pause reason).
	before bool
	// after: whether it serves from nextChange on (servingEntry below).
	after bool
	// nextChange is next_change_time in nanoseconds since the epoch; 0 when absent (then
	// before holds for ever).
	nextChange int64
	// throttle is the campaign's pacing throttle in [0, 1] (1 when the server sends none).
	throttle float64
	// throttleUntil is throttle_expire_time in nanoseconds since the epoch (0: none): from then
	// on the throttle is 1.
	throttleUntil int64
}

// throttleOf is the campaign's throttle, clamped to [0, 1] (NaN: 0, never serve); absent (a
// server before pacing) is 1.
func throttleOf(c *campaignv1.Campaign) float64 {
	if c.Throttle == nil {
		return 1
	}
	t := c.GetThrottle()
	if math.IsNaN(t) {
		return 0
	}
	return min(1, max(0, t))
}

// throttleAt is e's throttle at now: 1 once past its expiry.
func throttleAt(e *entry, now time.Time) float64 {
	if e.throttleUntil != 0 && now.UnixNano() >= e.throttleUntil {
		return 1
	}
	return e.throttle
}

// flightEndZoneLead is how far ahead of UTC the easternmost zone (UTC+14) is: a local
// midnight can come this much earlier than UTC midnight of the same date.
const flightEndZoneLead = 14 * time.Hour

// earliestMidnight is the earliest instant local midnight starting the given date can be
// anywhere: 00:00 at UTC+14. A flight ends at the first instant of the day after its end date,
// in the brand's zone, which the campaign does not carry: a next_change_time before this
// instant (for the day after the end date) cannot be that flight end. time.Date normalizes
// overflow, so day+1 past a month's or a year's end is the next month's or year's first day.
func earliestMidnight(year, month, day int) time.Time {
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Add(-flightEndZoneLead)
}

// entryOf reduces a campaign of the stream to its entry, by THE switching rule (docs/sdk.md,
// Switching on time; packages/client/src/serving-rule.ts is the same rule): a campaign serves
// iff it has no pause reason; at its next_change_time its daypart window opens or closes, or its
// flight starts or ends (the server names the earlier instant, not which boundary it is). So:
//   - a serving campaign stops at the instant, whichever boundary it is (a window closing or
//     the flight ending): every stop is exact;
//   - one kept off only by OUTSIDE_DAYPART starts at the instant, unless the instant may be its
//     flight's end (at or after the earliest midnight of the day after its end date): starting
//     it then could serve an ended flight;
//   - one kept off only by NOT_STARTED, without a daypart schedule, starts at the instant (its
//     flight start: no window can be the boundary);
//   - any other starts when the clock's write says so, seconds later: never early, for money.
//
// A change for another cause that still carries a past next_change_time is switched by the same
// rule, so a late event cannot undo a stop.
func entryOf(c *campaignv1.Campaign) *entry {
	reasons := c.GetPauseReasons()
	e := &entry{before: len(reasons) == 0, throttle: throttleOf(c)}
	if t := c.GetThrottleExpireTime(); t != nil {
		e.throttleUntil = t.AsTime().UnixNano()
	}
	t := c.GetNextChangeTime()
	if t == nil {
		e.after = e.before
		return e
	}
	next := t.AsTime()
	e.nextChange = next.UnixNano()
	if len(reasons) != 1 {
		return e // serving: a boundary stops it; two reasons or more: wait for the server
	}
	switch reasons[0] {
	case campaignv1.PauseReason_PAUSE_REASON_OUTSIDE_DAYPART:
		e.after = !mayBeFlightEnd(c.GetEndDate(), next)
	case campaignv1.PauseReason_PAUSE_REASON_NOT_STARTED:
		e.after = len(c.GetSchedule().GetWindows()) == 0
	}
	return e
}

// mayBeFlightEnd says whether next could be the end of a flight whose last day is end (nil:
// the flight never ends), in whichever zone the brand is.
func mayBeFlightEnd(end *date.Date, next time.Time) bool {
	if end == nil {
		return false
	}
	return !next.Before(earliestMidnight(int(end.GetYear()), int(end.GetMonth()), int(end.GetDay())+1))
}

// servesAt is the answer of e at now: after from next_change_time on, before until then.
func servesAt(e *entry, now time.Time) bool {
	if e.nextChange != 0 && now.UnixNano() >= e.nextChange {
		return e.after
	}
	return e.before
}

// nextChangeTime is next_change_time as a time (zero when absent).
func (e *entry) nextChangeTime() time.Time {
	if e.nextChange == 0 {
		return time.Time{}
	}
	return time.Unix(0, e.nextChange)
}
