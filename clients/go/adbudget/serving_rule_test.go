package adbudget

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/types/known/timestamppb"

	campaignv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/campaign/v1"
)

// TestServesAt is written from the rule (docs/sdk.md, Switching on time, and
// packages/client/src/serving-rule.ts), not from the code: before next_change_time a campaign
// serves iff it has no pause reason; from it on, a serving one stops, one kept off only by
// OUTSIDE_DAYPART starts unless the instant is at or after 00:00 UTC+14 of the day after its end
// date, one kept off only by NOT_STARTED starts iff it has no daypart window, any other stays off.
func TestServesAt(t *testing.T) {
	const (
		outside    = campaignv1.PauseReason_PAUSE_REASON_OUTSIDE_DAYPART
		notStarted = campaignv1.PauseReason_PAUSE_REASON_NOT_STARTED
		ended      = campaignv1.PauseReason_PAUSE_REASON_ENDED
		paused     = campaignv1.PauseReason_PAUSE_REASON_PAUSED_BY_USER
		daily      = campaignv1.PauseReason_PAUSE_REASON_DAILY_BUDGET_EXHAUSTED
	)
	ms := time.Millisecond
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	day := func(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }
	// 2030-06-01 ends its flight, at the earliest, at 2030-06-02 00:00 UTC+14 = 2030-06-01 10:00Z.
	june1End := time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)
	// end+1 rolls over a year: 2030-12-31 -> 2031-01-01 00:00 UTC+14 = 2030-12-31 10:00Z.
	newYearEnd := time.Date(2030, 12, 31, 10, 0, 0, 0, time.UTC)
	// end+1 rolls over a month: 2030-04-30 -> 2030-05-01 00:00 UTC+14 = 2030-04-30 10:00Z.
	mayDayEnd := time.Date(2030, 4, 30, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		reasons []campaignv1.PauseReason
		next    time.Time  // zero: no next_change_time
		end     *date.Date // the flight's last day; nil: none
		windows int        // daypart windows; -1: no schedule at all
		now     time.Time
		want    bool
	}{
		// Without next_change_time: the reasons alone, for ever.
		{"no reason, no next change", nil, time.Time{}, nil, -1, at, true},
		{"paused, no next change", []campaignv1.PauseReason{paused}, time.Time{}, nil, -1, at, false},
		{"outside daypart, no next change: stays off", []campaignv1.PauseReason{outside}, time.Time{}, nil, 1, at.Add(time.Hour), false},
		{"not started, no next change: stays off", []campaignv1.PauseReason{notStarted}, time.Time{}, nil, -1, at.Add(time.Hour), false},

		// Serving: every boundary is a stop, exact at the instant.
		{"serving, before the instant", nil, at, nil, 1, at.Add(-ms), true},
		{"serving, at the instant: stops", nil, at, nil, 1, at, false},
		{"serving, long after the instant", nil, at, nil, 1, at.Add(time.Hour), false},
		{"serving, no schedule, at its flight end: stops", nil, june1End, day(2030, 6, 1), -1, june1End, false},
		// A late event for another cause (a pause lifted) still carrying the passed instant.
		{"late resume event after the close keeps it off", nil, at, nil, 1, at.Add(2 * time.Second), false},

		// Only OUTSIDE_DAYPART: a window opens at the instant, unless it may be the flight's end.
		{"outside daypart, before the open", []campaignv1.PauseReason{outside}, at, nil, 1, at.Add(-ms), false},
		{"outside daypart, no end date, at the open: starts", []campaignv1.PauseReason{outside}, at, nil, 1, at, true},
		{"outside daypart, end date far ahead, at the open: starts", []campaignv1.PauseReason{outside}, at, day(2030, 12, 31), 1, at, true},
		{"outside daypart, 1 ms before the earliest flight end: starts", []campaignv1.PauseReason{outside}, june1End.Add(-ms), day(2030, 6, 1), 1, june1End, true},
		{"outside daypart, at the earliest flight end: stays off", []campaignv1.PauseReason{outside}, june1End, day(2030, 6, 1), 1, june1End, false},
		{"outside daypart, past the earliest flight end: stays off", []campaignv1.PauseReason{outside}, at, day(2030, 6, 1), 1, at, false},
		{"outside daypart, end date passed long ago: stays off", []campaignv1.PauseReason{outside}, at, day(2030, 5, 1), 1, at, false},
		{"outside daypart, at the earliest flight end, before it: still off", []campaignv1.PauseReason{outside}, june1End, day(2030, 6, 1), 1, june1End.Add(-ms), false},
		{"outside daypart, end+1 is next year, 1 ms before: starts", []campaignv1.PauseReason{outside}, newYearEnd.Add(-ms), day(2030, 12, 31), 1, newYearEnd, true},
		{"outside daypart, end+1 is next year, at it: stays off", []campaignv1.PauseReason{outside}, newYearEnd, day(2030, 12, 31), 1, newYearEnd, false},
		{"outside daypart, end+1 is next month, 1 ms before: starts", []campaignv1.PauseReason{outside}, mayDayEnd.Add(-ms), day(2030, 4, 30), 1, mayDayEnd, true},
		{"outside daypart, end+1 is next month, at it: stays off", []campaignv1.PauseReason{outside}, mayDayEnd, day(2030, 4, 30), 1, mayDayEnd, false},

		// Only NOT_STARTED: the instant is the flight's start iff no window can be the boundary.
		{"not started, no schedule, before the start", []campaignv1.PauseReason{notStarted}, at, nil, -1, at.Add(-ms), false},
		{"not started, no schedule, at the start: starts", []campaignv1.PauseReason{notStarted}, at, nil, -1, at, true},
		{"not started, a schedule without windows, at the start: starts", []campaignv1.PauseReason{notStarted}, at, nil, 0, at, true},
		{"not started, with a schedule, at the instant: stays off", []campaignv1.PauseReason{notStarted}, at, nil, 2, at, false},

		// Any other reason, or two: off until the server's write says otherwise.
		{"exhausted, at the instant: stays off", []campaignv1.PauseReason{daily}, at, nil, 1, at, false},
		{"ended, at the instant: stays off", []campaignv1.PauseReason{ended}, at, nil, -1, at, false},
		{"outside daypart and paused, at the open: stays off", []campaignv1.PauseReason{outside, paused}, at, nil, 1, at, false},
		{"not started and outside daypart, at the instant: stays off", []campaignv1.PauseReason{notStarted, outside}, at, nil, 1, at.Add(time.Hour), false},
		{"ended and outside daypart, at the open: stays off", []campaignv1.PauseReason{ended, outside}, at, nil, 1, at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &campaignv1.Campaign{PauseReasons: tt.reasons, Serving: len(tt.reasons) == 0, EndDate: tt.end}
			if !tt.next.IsZero() {
				c.NextChangeTime = timestamppb.New(tt.next)
			}
			if tt.windows >= 0 {
				c.Schedule = &campaignv1.DaypartSchedule{TimeZone: "Europe/Paris", Windows: make([]*campaignv1.DaypartWindow, tt.windows)}
				for i := range c.Schedule.Windows {
					c.Schedule.Windows[i] = &campaignv1.DaypartWindow{Start: "09:00", End: "17:00"}
				}
			}
			if got := servesAt(entryOf(c), tt.now); got != tt.want {
				t.Errorf("servesAt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEarliestMidnight(t *testing.T) {
	tests := []struct {
		name           string
		year, mon, day int
		want           time.Time
	}{
		{"a plain day", 2030, 6, 2, time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)},
		{"the day after the 31st of December", 2030, 12, 32, time.Date(2030, 12, 31, 10, 0, 0, 0, time.UTC)},
		{"the day after the 28th of February, not a leap year", 2030, 2, 29, time.Date(2030, 2, 28, 10, 0, 0, 0, time.UTC)},
		{"the day after the 28th of February, a leap year", 2028, 2, 29, time.Date(2028, 2, 28, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := earliestMidnight(tt.year, tt.mon, tt.day); !got.Equal(tt.want) {
			t.Errorf("%s: earliestMidnight(%d, %d, %d) = %s, want %s", tt.name, tt.year, tt.mon, tt.day, got, tt.want)
		}
	}
}
