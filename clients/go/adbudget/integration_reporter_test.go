package adbudget_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	budgetv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1"
)

const (
	// childEnv selects the reporter child's mode: "report" or "drain".
	childEnv = "ADBUDGET_TEST_REPORTER_CHILD"
	// killAfter accepted events the parent SIGKILLs the reporting child.
	killAfter = 2000
	// childEvents is the most the child reports: below a segment's 10 000 events, so no segment
	// is deleted and the spool at the kill holds every event the child ever accepted.
	childEvents = 9000
	// eventMicros is each event's amount.
	eventMicros = 1000
)

// A reporter SIGKILLed while its events are in flight loses nothing it accepted: a second
// reporter on its spool sends them again, and the service counts each exactly once.
func TestIntegrationReporterSurvivesSIGKILL(t *testing.T) {
	sys := integrationSystem(t)
	ctx := t.Context()
	campaignID := sys.createCampaign(t, "spool", nil).GetId()
	run := randomRun()
	dir := t.TempDir()
	env := []string{"ADBUDGET_TEST_CHILD_SPOOL=" + dir, "ADBUDGET_TEST_CHILD_RUN=" + run, "ADBUDGET_TEST_CHILD_CAMPAIGN=" + campaignID}

	// 1. A child reports in a loop and prints what Report accepted; killed once 2000 are printed.
	child := childCommand(ctx, "report", env)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	printed := map[int]bool{}
	killed := false
	killErr := make(chan error, 1)
	var other strings.Builder // the child's test output, should it fail
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		i, ok := strings.CutPrefix(lines.Text(), "ACCEPTED ")
		if !ok {
			other.WriteString(lines.Text() + "\n")
			continue
		}
		n, err := strconv.Atoi(i)
		if err != nil {
			t.Fatalf("child printed %q", lines.Text())
		}
		printed[n] = true
		if !killed && len(printed) >= killAfter {
			// SIGKILL (no deferred code, no flush) a random 0-5 ms later, while reading on: the
			// child is then anywhere in its loop, not just after a printed batch (the kernel
			// tends to run the reader woken by that batch's write before the writer again).
			killed = true
			time.AfterFunc(time.Duration(mrand.Int64N(int64(5*time.Millisecond))), func() { killErr <- child.Process.Kill() })
		}
	}
	if killed {
		if err := <-killErr; err != nil {
			t.Fatalf("SIGKILL: %v; the child's output:\n%s%s", err, other.String(), stderr.String())
		}
	}
	// Reaped before the drain starts: a zombie's pid still looks alive to the spool's lock.
	werr := child.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(werr, &exit) || exit.ProcessState.String() != "signal: killed" {
		t.Fatalf("the child was not SIGKILLed as planned (killed %v, wait %v); output:\n%s%s", killed, werr, other.String(), stderr.String())
	}

	// 2. The spool as the kill left it: every event whose write completed.
	spooled, torn := readSpoolIDs(t, dir)
	if len(spooled) == 0 {
		t.Fatal("the spool is empty at the kill")
	}
	for i := range printed {
		if !spooled[fmt.Sprintf("%s-%d", run, i)] {
			t.Fatalf("event %d was accepted but is not in the spool", i)
		}
	}

	// 3. A second child drains the spool: it sends every event again and flushes.
	drain := childCommand(ctx, "drain", env)
	out, err := drain.CombinedOutput()
	if err != nil {
		t.Fatalf("drain child: %v\n%s", err, out)
	}
	var stats struct{ Replayed, Acknowledged, Duplicates, Rejected int64 }
	for _, l := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(l, "STATS "); ok {
			if err := json.Unmarshal([]byte(s), &stats); err != nil {
				t.Fatalf("drain stats %q: %v", s, err)
			}
		}
	}
	fresh := stats.Acknowledged - stats.Duplicates
	if stats.Replayed != int64(len(spooled)) || stats.Acknowledged != stats.Replayed || stats.Rejected != 0 {
		t.Fatalf("drain stats %+v: want all %d spooled events acknowledged, none rejected", stats, len(spooled))
	}
	if fresh == 0 {
		t.Fatalf("the drain recorded nothing new (stats %+v): the kill came after everything was sent, so it proved nothing", stats)
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the drain left its lock (%v)", err)
	}
	if left, _ := readSpoolIDs(t, dir); len(left) != 0 {
		t.Errorf("%d events still in the spool after the drain: settled segments must be deleted", len(left))
	}

	// 4. The service holds every spooled event exactly once, and nothing else.
	events, err := sys.spendEvents(ctx, campaignID)
	if err != nil {
		t.Fatalf("ListSpendEvents: %v", err)
	}
	stored := map[string]int{}
	for _, e := range events {
		stored[e.GetEventId()]++
		if e.GetAmountMicros() != eventMicros {
			t.Errorf("event %s stored with %d micros", e.GetEventId(), e.GetAmountMicros())
		}
	}
	for id, n := range stored {
		if n != 1 || !spooled[id] {
			t.Errorf("event %s stored %d times (in the spool: %v)", id, n, spooled[id])
		}
	}
	for id := range spooled {
		if stored[id] != 1 {
			t.Errorf("accepted event %s stored %d times", id, stored[id])
		}
	}
	// Report is called in order, so the spool holds a prefix of the ids: 0..len-1.
	for i := range len(spooled) {
		if !spooled[fmt.Sprintf("%s-%d", run, i)] {
			t.Fatalf("the spool lacks event %d of %d: not a prefix", i, len(spooled))
		}
	}
	spend, err := sys.adminBudget().GetCampaignSpend(ctx, connect.NewRequest(&budgetv1.GetCampaignSpendRequest{BrandId: sys.brandID, CampaignId: campaignID}))
	if err != nil {
		t.Fatalf("GetCampaignSpend: %v", err)
	}
	if want := int64(len(spooled)) * eventMicros; spend.Msg.GetSpentMicros() != want || spend.Msg.GetEventCount() != int64(len(spooled)) {
		t.Errorf("GetCampaignSpend: %d micros in %d events, want %d in %d", spend.Msg.GetSpentMicros(), spend.Msg.GetEventCount(), want, len(spooled))
	}
	t.Logf("kill test: %d accepted and printed before the SIGKILL, %d in the spool at the kill (%d accepted after the last print; torn last line: %v); "+
		"drain replayed %d: %d recorded fresh, %d duplicates, %d rejected; stored %d exactly once, %d micros",
		len(printed), len(spooled), len(spooled)-len(printed), torn, stats.Replayed, fresh, stats.Duplicates, stats.Rejected,
		len(stored), spend.Msg.GetSpentMicros())
}

// childCommand runs this test binary as a reporter child (TestIntegrationReporterChild).
func childCommand(ctx context.Context, mode string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestIntegrationReporterChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	return cmd
}

func randomRun() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "kill-" + hex.EncodeToString(b)
}

// readSpoolIDs reads the event ids of every complete line of the spool's segments, with its
// own reading of the format of docs/sdk.md (not the SDK's), and says whether a torn last line
// was seen.
func readSpoolIDs(t *testing.T, dir string) (map[string]bool, bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "segment-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	torn := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		complete, rest, _ := cutLastNewline(data)
		torn = torn || len(rest) > 0
		for _, line := range bytes.Split(complete, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var l struct {
				ID     string `json:"id"`
				Micros string `json:"micros"`
			}
			if err := json.Unmarshal(line, &l); err != nil || l.Micros != strconv.Itoa(eventMicros) {
				t.Fatalf("spool line %q: %v", line, err)
			}
			ids[l.ID] = true
		}
	}
	return ids, torn
}

// cutLastNewline splits data after its last newline: the complete lines, and a torn rest.
func cutLastNewline(data []byte) (complete, rest []byte, found bool) {
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 {
		return nil, data, false
	}
	return data[:i], data[i+1:], true
}
