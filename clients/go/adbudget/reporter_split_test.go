package adbudget

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// A batch the service refuses whole is halved until the event that refuses it is alone
// (docs/sdk.md, SpendReporter), within maxInFlight.
func TestReporterSplitsARefusedBatch(t *testing.T) {
	tests := []struct {
		name         string
		refuse       func(ids []string) connect.Code
		wantRejected []string
		wantStored   int
		maxStored    int // the largest batch that may pass
	}{
		{
			name: "one event of another brand refuses the call",
			refuse: func(ids []string) connect.Code {
				if slices.Contains(ids, "e-17") {
					return connect.CodePermissionDenied
				}
				return 0
			},
			wantRejected: []string{"e-17:permission_denied"},
			wantStored:   39,
			maxStored:    40,
		},
		{
			name: "a quota smaller than the batch",
			refuse: func(ids []string) connect.Code {
				if len(ids) > 8 {
					return connect.CodeResourceExhausted
				}
				return 0
			},
			wantStored: 40,
			maxStored:  8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBudget()
			fake.batchCode = tt.refuse
			var mu sync.Mutex
			var rejected []string
			r := startTestReporter(t, fake.serve(t), WithMaxBatch(40), WithMaxInFlight(2), WithLinger(time.Second),
				WithOnRejected(func(e SpendEvent, code connect.Code, _ string) {
					mu.Lock()
					defer mu.Unlock()
					rejected = append(rejected, e.ID+":"+code.String())
				}))
			reportAll(t, r, ids("e", 40)...) // the 40th fills the batch: one call of 40
			flush(t, r)
			mu.Lock()
			if !slices.Equal(rejected, tt.wantRejected) {
				t.Errorf("rejected %v, want %v", rejected, tt.wantRejected)
			}
			mu.Unlock()
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.stored) != tt.wantStored {
				t.Errorf("stored %d, want %d", len(fake.stored), tt.wantStored)
			}
			if fake.batchSizes[0] != 40 {
				t.Errorf("first batch of %d events, want 40", fake.batchSizes[0])
			}
			if fake.maxActive > 2 {
				t.Errorf("%d calls at once, above maxInFlight 2", fake.maxActive)
			}
			for id, n := range fake.sends {
				if n != 1 {
					t.Errorf("event %s reached the service %d times (a refused call does not count as received)", id, n)
				}
			}
			st := r.Stats()
			if st.Acknowledged != int64(tt.wantStored) || st.Rejected != int64(len(tt.wantRejected)) || st.Queued+st.InFlight != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Halves waiting for a slot are not sent after Close: what is left stays unsettled (spooled).
func TestReporterSplitsStopAtClose(t *testing.T) {
	fake := newFakeBudget()
	fake.batchCode = func([]string) connect.Code { return connect.CodeResourceExhausted } // even one event: retried for ever
	r := startTestReporter(t, fake.serve(t), WithMaxBatch(64), WithMaxInFlight(1), WithSpool(t.TempDir()))
	reportAll(t, r, ids("e", 64)...)
	eventually(t, "a few splits", func() bool {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return len(fake.batchSizes) >= 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var nf *NotFlushedError
	if err := r.Close(ctx); !errors.As(err, &nf) || nf.Events != 64 || !nf.Spooled {
		t.Fatalf("Close = %v, want all 64 events left in the spool", err)
	}
	fake.mu.Lock()
	calls := len(fake.batchSizes)
	fake.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.batchSizes) != calls {
		t.Errorf("%d calls after Close returned", len(fake.batchSizes)-calls)
	}
}

// A callback that panics changes nothing in the bookkeeping: the event is settled once, never
// sent again, and the reporter goes on.
func TestReporterGuardsCallbacks(t *testing.T) {
	fake := newFakeBudget()
	fake.eventCode = func(id string, _ int) connect.Code {
		if id == "bad" {
			return connect.CodeInvalidArgument
		}
		return 0
	}
	fake.gate = make(chan struct{})
	dir := t.TempDir()
	r := startTestReporter(t, fake.serve(t), WithSpool(dir), WithMaxInFlight(1), WithLinger(0), WithMaxBuffered(2),
		WithOverflow(DropOldest),
		WithOnRejected(func(SpendEvent, connect.Code, string) { panic("a bug in onRejected") }),
		WithOnDrop(func(SpendEvent) { panic("a bug in onDrop") }))
	reportAll(t, r, "bad")
	eventually(t, "bad in flight", func() bool { return r.Stats().InFlight == 1 })
	reportAll(t, r, "dropped", "ok") // the buffer is full: "dropped" goes, and onDrop panics
	close(fake.gate)
	flush(t, r)
	reportAll(t, r, "after")
	flush(t, r)
	st := r.Stats()
	if st.Rejected != 1 || st.Dropped != 1 || st.Acknowledged != 2 || st.Queued+st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
	fake.mu.Lock()
	if fake.sends["bad"] != 1 || fake.sends["dropped"] != 0 {
		t.Errorf("sends %v: the rejected event must not be sent again", fake.sends)
	}
	fake.mu.Unlock()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ns, _ := listSegments(dir); len(ns) != 0 {
		t.Errorf("segments %v left: every event was settled once", ns)
	}
}

// Flush after Close returns at once, and a second Close answers as the first.
func TestReporterAfterClose(t *testing.T) {
	fake := newFakeBudget()
	fake.batchCode = func([]string) connect.Code { return connect.CodeUnavailable }
	r := startTestReporter(t, fake.serve(t))
	reportAll(t, r, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	first := r.Close(ctx)
	var nf *NotFlushedError
	if !errors.As(first, &nf) || nf.Events != 1 || nf.Spooled {
		t.Fatalf("Close = %v, want 1 event lost (no spool)", first)
	}
	if second := r.Close(context.Background()); second != first {
		t.Errorf("second Close = %v, want the first's answer %v", second, first)
	}
	start := time.Now()
	if err := r.Flush(context.Background()); !errors.Is(err, errStopped) {
		t.Errorf("Flush after Close = %v, want errStopped", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Flush after Close took %s", d)
	}
	if ok, _ := r.Report(testEvent("late")); ok {
		t.Error("a closed reporter accepted an event")
	}
}
