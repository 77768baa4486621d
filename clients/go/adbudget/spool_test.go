package adbudget

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testBrand    = "0190a000-0000-7000-8000-000000000001"
	testCampaign = "0190a000-0000-7000-8000-000000000002"
)

func testEvent(id string) SpendEvent {
	return SpendEvent{ID: id, BrandID: testBrand, CampaignID: testCampaign, AmountMicros: 1500,
		OccurredAt: time.UnixMilli(1_900_000_000_123)}
}

func TestSpoolLineFormat(t *testing.T) {
	e := testEvent("imp-1")
	e.AmountMicros = maxAmountMicros // the largest amount, written as a decimal string
	b, err := encodeSpoolLine(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"imp-1","brand":"` + testBrand + `","campaign":"` + testCampaign +
		`","micros":"1000000000000000","at":1900000000123}` + "\n"
	if string(b) != want {
		t.Fatalf("line\n%s\nwant\n%s", b, want)
	}
	back, err := decodeSpoolLine(b[:len(b)-1])
	if err != nil {
		t.Fatal(err)
	}
	if back != e {
		t.Errorf("read back %+v, want %+v", back, e)
	}
}

func TestParseSegment(t *testing.T) {
	line := func(id string) string {
		b, _ := encodeSpoolLine(testEvent(id))
		return string(b)
	}
	tests := []struct {
		name    string
		data    string
		ids     []string
		torn    string
		corrupt []string
	}{
		{"empty", "", nil, "", nil},
		{"whole lines", line("a") + line("b"), []string{"a", "b"}, "", nil},
		{"torn last line skipped", line("a") + line("b")[:30], []string{"a"}, line("b")[:30], nil},
		{"complete JSON without its newline is torn too", line("a") + strings.TrimSuffix(line("b"), "\n"), []string{"a"}, strings.TrimSuffix(line("b"), "\n"), nil},
		{"unreadable line in the middle is corrupt", line("a") + "{not json}\n" + line("c"), []string{"a", "c"}, "", []string{"{not json}"}},
		{"unreadable last whole line is corrupt, not torn", line("a") + "garbage\n", []string{"a"}, "", []string{"garbage"}},
		{"invalid event is corrupt", line("a") + `{"id":"x","brand":"b","campaign":"c","micros":"1","at":1}` + "\n", []string{"a"},
			"", []string{`{"id":"x","brand":"b","campaign":"c","micros":"1","at":1}`}},
		{"micros not a decimal", `{"id":"x","brand":"` + testBrand + `","campaign":"` + testCampaign + `","micros":"1e3","at":1}` + "\n", nil,
			"", []string{`{"id":"x","brand":"` + testBrand + `","campaign":"` + testCampaign + `","micros":"1e3","at":1}`}},
		{"empty lines ignored", "\n" + line("a") + "\n", []string{"a"}, "", nil},
		{"a line of spaces is corrupt", line("a") + "  \n", []string{"a"}, "", []string{"  "}},
		{"corrupt and torn", "x\n" + line("a") + "{", []string{"a"}, "{", []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseSegment([]byte(tt.data))
			var ids []string
			for _, e := range c.events {
				ids = append(ids, e.ID)
			}
			var corrupt []string
			for _, l := range c.corrupt {
				corrupt = append(corrupt, string(l))
			}
			if fmt.Sprintf("%q", ids) != fmt.Sprintf("%q", tt.ids) || string(c.torn) != tt.torn || fmt.Sprintf("%q", corrupt) != fmt.Sprintf("%q", tt.corrupt) {
				t.Errorf("ids %q torn %q corrupt %q; want %q %q %q", ids, c.torn, corrupt, tt.ids, tt.torn, tt.corrupt)
			}
		})
	}
}

func TestSegmentNumber(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		ok   bool
	}{
		{"segment-1.jsonl", 1, true},
		{"segment-10000.jsonl", 10000, true},
		{"segment-.jsonl", 0, false},
		{"segment-1.json", 0, false},
		{"segment--1.jsonl", 0, false},
		{"rejected.jsonl", 0, false},
		{"lock", 0, false},
	}
	for _, tt := range tests {
		n, ok := segmentNumber(tt.name)
		if n != tt.n || ok != tt.ok {
			t.Errorf("segmentNumber(%q) = %d, %v; want %d, %v", tt.name, n, ok, tt.n, tt.ok)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestSpoolLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, replay, err := openSpool(dir, true, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(replay) != 0 {
		t.Fatalf("a new spool replays %d events", len(replay))
	}
	if _, _, err := openSpool(dir, false, discardLogger()); err == nil || !strings.Contains(err.Error(), "already open in this process") {
		t.Fatalf("a second reporter on a held spool: %v, want an error", err)
	}
	var segs []int64
	for i := 0; i < 3; i++ {
		seg, err := s.append(testEvent("e" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
	}
	// A torn write, as a crash in the middle of one would leave.
	if _, err := s.cur.WriteString(`{"id":"torn","bra`); err != nil {
		t.Fatal(err)
	}
	s.settle(segs[0]) // settled before the crash: still in the file, comes back as a duplicate
	s.cur.Close()     // the process dies: no close(), the lock stays
	forgetHeld(t, dir)
	lockPath := filepath.Join(dir, spoolLockName)
	if err := os.WriteFile(lockPath, []byte("999999999\n"), 0o600); err != nil { // a dead holder
		t.Fatal(err)
	}

	s2, replay, err := openSpool(dir, false, discardLogger())
	if err != nil {
		t.Fatalf("a lock of a dead process must be taken over: %v", err)
	}
	if got := len(replay); got != 3 {
		t.Fatalf("replayed %d events, want 3 (the torn line skipped)", got)
	}
	torn, err := os.ReadFile(filepath.Join(dir, tornName))
	if want := fmt.Sprintf(`{"raw":"{\"id\":\"torn\",\"bra","segment":%d}`+"\n", segs[0]); err != nil || string(torn) != want {
		t.Errorf("torn.jsonl = %q, %v; want %q", torn, err, want)
	}
	if s2.curN != segs[0]+1 {
		t.Errorf("new segment %d, want %d: never append after a torn line", s2.curN, segs[0]+1)
	}
	for _, r := range replay {
		s2.settle(r.segment)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(segs[0]))); !os.IsNotExist(err) {
		t.Errorf("the settled old segment still exists (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(s2.curN))); err != nil {
		t.Errorf("the current segment must stay: %v", err)
	}
	if err := s2.reject(testEvent("r"), 3, "bad"); err != nil {
		t.Fatal(err)
	}
	s2.close()
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Errorf("close left the lock (%v)", err)
	}
	if ns, _ := listSegments(dir); len(ns) != 0 {
		t.Errorf("segments %v left after a close with everything settled", ns)
	}
	rej, err := os.ReadFile(filepath.Join(dir, rejectedName))
	if err != nil || !strings.Contains(string(rej), `"id":"r"`) || !strings.Contains(string(rej), `"code":"InvalidArgument"`) {
		t.Errorf("rejected.jsonl = %q, %v", rej, err)
	}
}

func TestSpoolRotates(t *testing.T) {
	dir := t.TempDir()
	s, _, err := openSpool(dir, false, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	first := s.curN
	var firstSegs []int64
	for i := 0; i < segmentEvents+1; i++ {
		seg, err := s.append(testEvent("e" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if i < segmentEvents {
			firstSegs = append(firstSegs, seg)
		}
	}
	if s.curN != first+1 {
		t.Fatalf("after %d events the segment is %d, want %d", segmentEvents+1, s.curN, first+1)
	}
	for _, seg := range firstSegs {
		s.settle(seg)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(first))); !os.IsNotExist(err) {
		t.Errorf("a full, settled segment with a newer one must be deleted (%v)", err)
	}
}

// forgetHeld makes this process forget it holds dir's lock, as a process that died would.
func forgetHeld(t *testing.T, dir string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	heldLocks.Lock()
	delete(heldLocks.dirs, real)
	heldLocks.Unlock()
}

// A whole line that is not an event is copied to rejected.jsonl (CorruptSpoolLine), the torn
// fragment to torn.jsonl; the events around them are sent; nothing is dropped in silence.
func TestSpoolKeepsWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	line := func(id string) string {
		b, _ := encodeSpoolLine(testEvent(id))
		return string(b)
	}
	data := line("a") + "garbage\n" + line("b") + "{\"id\":\"c\"\n" + line("d")[:20]
	if err := os.WriteFile(filepath.Join(dir, segmentName(7)), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	// A segment of nothing but corrupt lines: kept, then deleted as settled.
	if err := os.WriteFile(filepath.Join(dir, segmentName(8)), []byte("\x00\x00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, replay, err := openSpool(dir, false, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range replay {
		got = append(got, fmt.Sprintf("%s@%d", r.event.ID, r.segment))
	}
	if fmt.Sprint(got) != "[a@7 b@7]" {
		t.Errorf("replayed %v, want a and b of segment 7", got)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(8))); !os.IsNotExist(err) {
		t.Errorf("a segment without events must go once its lines are kept (%v)", err)
	}
	s.close()
	rej, err := os.ReadFile(filepath.Join(dir, rejectedName))
	want := `{"raw":"garbage","code":"CorruptSpoolLine","segment":7}` + "\n" +
		`{"raw":"{\"id\":\"c\"","code":"CorruptSpoolLine","segment":7}` + "\n" +
		`{"raw":"\u0000\u0000","code":"CorruptSpoolLine","segment":8}` + "\n"
	if err != nil || string(rej) != want {
		t.Errorf("rejected.jsonl =\n%s(%v), want\n%s", rej, err, want)
	}
	torn, err := os.ReadFile(filepath.Join(dir, tornName))
	if want := `{"raw":` + fmt.Sprintf("%q", line("d")[:20]) + `,"segment":7}` + "\n"; err != nil || string(torn) != want {
		t.Errorf("torn.jsonl = %q (%v), want %q", torn, err, want)
	}
}

// If rejected.jsonl cannot be written, the start fails rather than lose a corrupt line.
func TestSpoolStartFailsWhenItCannotKeepACorruptLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, rejectedName), 0o700); err != nil { // not a file: cannot be opened for writing
		t.Fatal(err)
	}
	if _, _, err := openSpool(dir, false, discardLogger()); err == nil || !strings.Contains(err.Error(), "corrupt line") {
		t.Fatalf("openSpool = %v, want an error about the corrupt line", err)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(1))); err != nil {
		t.Errorf("the segment must stay: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, spoolLockName)); !os.IsNotExist(err) {
		t.Errorf("a failed start must free the lock (%v)", err)
	}
	// And the directory can be opened again once the problem is fixed.
	if err := os.Remove(filepath.Join(dir, rejectedName)); err != nil {
		t.Fatal(err)
	}
	s, replay, err := openSpool(dir, false, discardLogger())
	if err != nil || len(replay) != 0 {
		t.Fatalf("after the fix: %d events, %v", len(replay), err)
	}
	s.close()
}

func TestSpoolLock(t *testing.T) {
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Skipf("no sleep command to stand for a live process: %v", err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	tests := []struct {
		name    string
		lock    string // the lock file's content before; "" for none
		wantErr string // "" when the lock is taken
	}{
		{"no lock", "", ""},
		{"a dead process's lock is taken over", "2147483646\n", ""},
		{"our own pid is an earlier life's (pid 1 in a container)", strconv.Itoa(os.Getpid()), ""},
		{"a lock that is not a pid is taken over", "garbage", ""},
		{"a live process's lock is an error", strconv.Itoa(sleeper.Process.Pid), "in use by process " + strconv.Itoa(sleeper.Process.Pid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, spoolLockName)
			if tt.lock != "" {
				if err := os.WriteFile(path, []byte(tt.lock), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			release, err := lockSpool(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("lockSpool = %v, want an error with %q", err, tt.wantErr)
				}
				if b, _ := os.ReadFile(path); string(b) != tt.lock {
					t.Errorf("the holder's lock was changed to %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
				t.Errorf("lock holds %q, want our pid", b)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files left besides the lock: %v", entries)
			}
			release()
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("release left the lock (%v)", err)
			}
		})
	}
}

func TestSpoolLockIsOnePerDirectoryInThisProcess(t *testing.T) {
	dir := t.TempDir()
	release, err := lockSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{dir, link, dir + "/."} {
		if _, err := lockSpool(other); err == nil || !strings.Contains(err.Error(), "already open in this process") {
			t.Errorf("lockSpool(%s) = %v, want already open in this process", other, err)
		}
	}
	// A lock taken over by another process (ours was stale to it) is not freed by us.
	path := filepath.Join(dir, spoolLockName)
	if err := os.WriteFile(path, []byte("2147483646"), 0o600); err != nil {
		t.Fatal(err)
	}
	release()
	if b, err := os.ReadFile(path); err != nil || string(b) != "2147483646" {
		t.Errorf("release freed another's lock: %q, %v", b, err)
	}
	// Released in this process: the directory can be taken again (the dead holder's lock too).
	release, err = lockSpool(link)
	if err != nil {
		t.Fatal(err)
	}
	release()
}
