package adbudget_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/adbudget/adbudget/clients/go/adbudget"
)

// TestIntegrationReporterChild is the child process of TestIntegrationReporterSurvivesSIGKILL,
// run by re-executing the test binary. Without its marker it does nothing (and passes: the
// driver fails on a skip).
func TestIntegrationReporterChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	sys := integrationSystem(t)
	dir, run, campaignID := os.Getenv("ADBUDGET_TEST_CHILD_SPOOL"), os.Getenv("ADBUDGET_TEST_CHILD_RUN"), os.Getenv("ADBUDGET_TEST_CHILD_CAMPAIGN")
	r, err := adbudget.NewSpendReporter(context.Background(), sys.http, sys.budgetURL, adbudget.StaticToken(sys.adServerToken),
		adbudget.WithSpool(dir), adbudget.WithClock(sys.now), adbudget.WithLogger(logger("reporter-child-"+mode)))
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "report":
		reportUntilKilled(t, r, sys.brandID, campaignID, run)
	case "drain":
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("flush: %v (stats %+v)", err, r.Stats())
		}
		st := r.Stats()
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(st)
		fmt.Printf("STATS %s\n", b)
	default:
		t.Fatalf("unknown child mode %q", mode)
	}
}

// reportUntilKilled reports events <run>-<i> in order, as fast as it can, and prints each
// accepted index in batches of 100 (a write per batch), then waits for the SIGKILL. The kill
// lands anywhere in the loop: events accepted after the last printed batch are in the spool but
// unknown to the parent. The pipe to the parent (64 KiB, some 4 600 lines) holds the child back
// while the parent reads, so it is far short of its cap when the kill comes.
func reportUntilKilled(t *testing.T, r *adbudget.SpendReporter, brandID, campaignID, run string) {
	out := bufio.NewWriter(os.Stdout)
	for i := range childEvents {
		ok, err := r.Report(adbudget.SpendEvent{ID: fmt.Sprintf("%s-%d", run, i), BrandID: brandID, CampaignID: campaignID, AmountMicros: eventMicros})
		if err != nil || !ok {
			t.Fatalf("Report %d: %v, %v", i, ok, err)
		}
		fmt.Fprintf(out, "ACCEPTED %d\n", i)
		if i%100 == 99 {
			_ = out.Flush()
		}
	}
	_ = out.Flush()
	time.Sleep(time.Hour) // the parent kills us
}
