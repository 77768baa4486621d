package adbudget

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// fastRetry shrinks the reporter's backoff for tests.
func fastRetry() ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.retry = backoff{base: time.Millisecond, max: 5 * time.Millisecond} })
}

func startTestReporter(t *testing.T, url string, opts ...ReporterOption) *SpendReporter {
	t.Helper()
	r, err := NewSpendReporter(context.Background(), NewHTTPClient(), url, StaticToken("tok"), append([]ReporterOption{fastRetry()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func reportAll(t *testing.T, r *SpendReporter, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if ok, err := r.Report(testEvent(id)); !ok || err != nil {
			t.Fatalf("Report(%s) = %v, %v", id, ok, err)
		}
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func flush(t *testing.T, r *SpendReporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, r.Stats())
	}
}

func TestReporterBatches(t *testing.T) {
	fake := newFakeBudget()
	r := startTestReporter(t, fake.serve(t))
	reportAll(t, r, ids("e", 1200)...)
	flush(t, r)
	if fake.storedCount() != 1200 {
		t.Fatalf("stored %d events, want 1200", fake.storedCount())
	}
	for _, n := range fake.batchSizes {
		if n > defaultMaxBatch {
			t.Errorf("a batch of %d events, above %d", n, defaultMaxBatch)
		}
	}
	if st := r.Stats(); st.Accepted != 1200 || st.Acknowledged != 1200 || st.Queued+st.InFlight != 0 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestReporterLinger(t *testing.T) {
	fake := newFakeBudget()
	r := startTestReporter(t, fake.serve(t), WithLinger(80*time.Millisecond))
	start := time.Now()
	reportAll(t, r, "one")
	eventually(t, "the lone event sent", func() bool { return fake.storedCount() == 1 })
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Errorf("a lone event left after %s, before its linger of 80 ms", d)
	}
}

func TestReporterRetriesAndRejects(t *testing.T) {
	fake := newFakeBudget()
	fake.failCalls = []connect.Code{connect.CodeUnavailable, connect.CodeInternal}
	fake.eventCode = func(id string, send int) connect.Code {
		switch {
		case id == "bad":
			return connect.CodeInvalidArgument
		case id == "exists":
			return connect.CodeAlreadyExists
		case id == "flaky" && send <= 2:
			return connect.CodeUnavailable
		case id == "throttled" && send <= 1:
			return connect.CodeResourceExhausted
		}
		return 0
	}
	dir := t.TempDir()
	var mu sync.Mutex
	var rejected []string
	r := startTestReporter(t, fake.serve(t), WithSpool(dir), WithOnRejected(func(e SpendEvent, code connect.Code, _ string) {
		mu.Lock()
		defer mu.Unlock()
		rejected = append(rejected, e.ID+":"+code.String())
	}))
	reportAll(t, r, "ok", "bad", "flaky", "exists", "throttled")
	flush(t, r)
	mu.Lock()
	got := strings.Join(rejected, ",")
	mu.Unlock()
	if got != "bad:invalid_argument,exists:already_exists" {
		t.Errorf("rejected %q", got)
	}
	if fake.storedCount() != 3 {
		t.Errorf("stored %d events, want ok, flaky and throttled", fake.storedCount())
	}
	st := r.Stats()
	if st.Acknowledged != 3 || st.Rejected != 2 || st.Retries < 5+2+1 {
		t.Errorf("stats %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(dir, rejectedName))
	if err != nil || strings.Count(string(b), "\n") != 2 {
		t.Errorf("rejected.jsonl: %q, %v", b, err)
	}
}

func TestReporterSpoolReplaysAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	down := newFakeBudget()
	down.failCalls = make([]connect.Code, 1_000_000)
	for i := range down.failCalls {
		down.failCalls[i] = connect.CodeUnavailable
	}
	r1, err := NewSpendReporter(context.Background(), NewHTTPClient(), down.serve(t), StaticToken("tok"), fastRetry(), WithSpool(dir))
	if err != nil {
		t.Fatal(err)
	}
	reportAll(t, r1, ids("e", 10)...)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var nf *NotFlushedError
	if err := r1.Close(ctx); !errors.As(err, &nf) || nf.Events != 10 || !nf.Spooled {
		t.Fatalf("Close with the service down: %v, want 10 events kept in the spool", err)
	}
	if ok, _ := r1.Report(testEvent("late")); ok {
		t.Error("a closed reporter accepted an event")
	}

	up := newFakeBudget()
	url := up.serve(t)
	r2 := startTestReporter(t, url, WithSpool(dir))
	flush(t, r2)
	if st := r2.Stats(); st.Replayed != 10 || st.Acknowledged != 10 || st.Duplicates != 0 {
		t.Errorf("second start: stats %+v", st)
	}
	if err := r2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A close with everything settled leaves nothing to send again.
	r3 := startTestReporter(t, url, WithSpool(dir))
	flush(t, r3)
	if st := r3.Stats(); st.Replayed != 0 {
		t.Errorf("third start replayed %d: the settled segments should be gone", st.Replayed)
	}
	if up.storedCount() != 10 {
		t.Errorf("stored %d, want 10", up.storedCount())
	}
}

func TestReporterOverflow(t *testing.T) {
	tests := []struct {
		name        string
		overflow    Overflow
		wantAccept  bool
		wantDropped []string
	}{
		{"reject", Reject, false, nil},
		{"drop oldest", DropOldest, true, []string{"e-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBudget()
			fake.gate = make(chan struct{}) // every call waits: e-0 stays in flight
			var mu sync.Mutex
			var dropped []string
			r := startTestReporter(t, fake.serve(t), WithMaxInFlight(1), WithLinger(0), WithMaxBuffered(3),
				WithOverflow(tt.overflow), WithOnDrop(func(e SpendEvent) {
					mu.Lock()
					defer mu.Unlock()
					dropped = append(dropped, e.ID)
				}))
			reportAll(t, r, "e-0")
			eventually(t, "e-0 in flight", func() bool { return r.Stats().InFlight == 1 })
			reportAll(t, r, "e-1", "e-2")
			ok, err := r.Report(testEvent("e-3"))
			if err != nil || ok != tt.wantAccept {
				t.Fatalf("Report at the limit = %v, %v; want %v", ok, err, tt.wantAccept)
			}
			mu.Lock()
			if fmt.Sprint(dropped) != fmt.Sprint(tt.wantDropped) {
				t.Errorf("dropped %v, want %v", dropped, tt.wantDropped)
			}
			mu.Unlock()
			close(fake.gate)
			flush(t, r)
			if st := r.Stats(); st.Dropped != int64(len(tt.wantDropped)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestReportValidates(t *testing.T) {
	ok := testEvent("x")
	tests := []struct {
		name   string
		change func(*SpendEvent)
	}{
		{"empty id", func(e *SpendEvent) { e.ID = "" }},
		{"id of 129 characters", func(e *SpendEvent) { e.ID = strings.Repeat("é", 129) }},
		{"brand not a UUID", func(e *SpendEvent) { e.BrandID = "acme" }},
		{"campaign not a UUID", func(e *SpendEvent) { e.CampaignID = "0190a000-0000-7000-8000-00000000000g" }},
		{"zero amount", func(e *SpendEvent) { e.AmountMicros = 0 }},
		{"negative amount", func(e *SpendEvent) { e.AmountMicros = -1 }},
		{"amount past 10^15", func(e *SpendEvent) { e.AmountMicros = maxAmountMicros + 1 }},
	}
	r := startTestReporter(t, newFakeBudget().serve(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.change(&e)
			if accepted, err := r.Report(e); accepted || !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("Report = %v, %v; want an ErrInvalidEvent", accepted, err)
			}
		})
	}
	e := ok
	e.ID = strings.Repeat("é", 128)
	e.AmountMicros = maxAmountMicros
	e.OccurredAt = time.Time{}
	if accepted, err := r.Report(e); !accepted || err != nil {
		t.Errorf("the largest valid event: %v, %v", accepted, err)
	}
}
