//go:build linux

package adbudget

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A write cut short (here by RLIMIT_FSIZE, as a full disk would) is cut back: the event is not
// accepted, no fragment stays for the next line to join, and the next append continues in the
// same segment.
func TestSpoolCutsBackAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	s, _, err := openSpool(dir, false, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := s.append(testEvent("a")); err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	// Room for 20 more bytes: the next line is written in part, then the write fails (Go
	// ignores SIGXFSZ, so it is EFBIG).
	limit := syscall.Rlimit{Cur: uint64(s.curSize) + 20, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skip(err)
	}
	_, werr := s.append(testEvent("b"))
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if werr == nil {
		t.Fatal("append past the file size limit succeeded")
	}
	if _, err := s.append(testEvent("c")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, segmentName(s.curN)))
	if err != nil {
		t.Fatal(err)
	}
	c := parseSegment(data)
	var ids []string
	for _, e := range c.events {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "a,c" || len(c.corrupt) != 0 || len(c.torn) != 0 {
		t.Errorf("segment holds %v, corrupt %q, torn %q; want a and c only", ids, c.corrupt, c.torn)
	}
	if s.pending[s.curN] != 2 {
		t.Errorf("pending %d, want 2: the failed event was not accepted", s.pending[s.curN])
	}
}
