package adbudget

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
)

// segmentEvents is how many events a segment holds before a new one starts (docs/sdk.md): a
// segment is deleted only once all its events are settled, so smaller segments free disk sooner
// under a steady flow; 10 000 lines (about 1.7 MB) keep the file count low.
const segmentEvents = 10_000

// rejectedName is the file of events the service refused (and of spool lines that were not
// events), kept for a person to look at.
const rejectedName = "rejected.jsonl"

// tornName is the file of torn last fragments found at start, kept for a person: their reports
// never answered, so they are not sent, but a damaged file loses nothing in silence.
const tornName = "torn.jsonl"

// spool is the reporter's write-ahead log (docs/sdk.md, Spool): every accepted event is a line
// of the current segment before Report answers, and a segment is deleted once every event in it
// is acknowledged or rejected and a newer one exists. Not safe for concurrent use: the reporter
// calls it under its lock.
type spool struct {
	dir    string
	fsync  bool
	logger *slog.Logger
	unlock func()

	cur      *os.File
	curN     int64
	curCount int   // lines appended to cur
	curSize  int64 // bytes in cur: where a failed write is cut back to
	// broken: a failed write could not be cut back either; the next append starts a new
	// segment, so no line ever follows the torn bytes.
	broken bool

	pending  map[int64]int // events not yet settled, by segment
	rejected *os.File      // opened at the first rejection
}

// spooled is an event read back from a segment at start, to be sent again.
type spooled struct {
	event   SpendEvent
	segment int64
}

// openSpool takes dir's lock, reads back every event of every segment (those already counted
// come back as duplicates) and starts a new segment: never appending to an old one, whose last
// line may be torn.
func openSpool(dir string, fsync bool, logger *slog.Logger) (*spool, []spooled, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("adbudget: spool %s: %w", dir, err)
	}
	unlock, err := lockSpool(dir)
	if err != nil {
		return nil, nil, err
	}
	s := &spool{dir: dir, fsync: fsync, logger: logger, unlock: unlock, pending: map[int64]int{}}
	replay, last, err := s.readBack()
	if err == nil {
		err = s.startSegment(last + 1)
	}
	if err != nil {
		if s.rejected != nil {
			_ = s.rejected.Close()
		}
		unlock()
		return nil, nil, err
	}
	return s, replay, nil
}

// readBack reads every segment, oldest first; it returns the events and the newest segment's
// number (0 when there is none).
func (s *spool) readBack() ([]spooled, int64, error) {
	ns, err := listSegments(s.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("adbudget: spool %s: %w", s.dir, err)
	}
	var out []spooled
	var last int64
	for _, n := range ns {
		last = n
		c, err := readSegment(s.dir, n)
		if err != nil {
			return nil, 0, fmt.Errorf("adbudget: spool %s: %w", s.dir, err)
		}
		// Kept before anything is sent or deleted: if they cannot be kept, the start fails
		// rather than lose them in silence.
		if err := s.keepUnread(n, c); err != nil {
			return nil, 0, fmt.Errorf("adbudget: spool %s: %w", s.dir, err)
		}
		if len(c.events) == 0 {
			s.remove(n) // nothing to send: a newer segment is about to exist
			continue
		}
		s.pending[n] = len(c.events)
		for _, e := range c.events {
			out = append(out, spooled{event: e, segment: n})
		}
	}
	return out, last, nil
}

func (s *spool) startSegment(n int64) error {
	f, err := os.OpenFile(filepath.Join(s.dir, segmentName(n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("adbudget: spool: %w", err)
	}
	if s.fsync {
		// The new name must survive a machine crash too, not just the lines in it.
		if err := syncDir(s.dir); err != nil {
			_ = f.Close()
			return fmt.Errorf("adbudget: spool: %w", err)
		}
	}
	prev := s.cur
	s.cur, s.curN, s.curCount, s.curSize, s.broken = f, n, 0, 0, false
	if prev != nil {
		_ = prev.Close()
		s.settledIfDone(n - 1)
	}
	return nil
}

// append writes an event's line with one write (and an fsync with WithFsync) and says which
// segment holds it. The line is in the OS's hands when append returns, so a SIGKILL of the
// process right after loses nothing. A write that fails (a full disk) is cut back to the size
// before it and the event is not accepted: no fragment stays for the next line to join, and no
// whole line of an event Report refused is sent by the next start.
func (s *spool) append(e SpendEvent) (int64, error) {
	if s.curCount >= segmentEvents || s.broken {
		if err := s.startSegment(s.curN + 1); err != nil {
			return 0, err
		}
	}
	line, err := encodeSpoolLine(e)
	if err != nil {
		return 0, err
	}
	_, err = s.cur.Write(line)
	if err == nil && s.fsync {
		err = s.cur.Sync()
	}
	if err != nil {
		if terr := s.cur.Truncate(s.curSize); terr != nil {
			s.broken = true
			s.logger.Error("adbudget: spool: cannot cut back a failed write; continuing in a new segment",
				"segment", segmentName(s.curN), "err", terr)
		}
		return 0, fmt.Errorf("adbudget: spool: %w", err)
	}
	s.curSize += int64(len(line))
	s.curCount++
	s.pending[s.curN]++
	return s.curN, nil
}

// settle records that one event of segment n was acknowledged, rejected or dropped.
func (s *spool) settle(n int64) {
	s.pending[n]--
	s.settledIfDone(n)
}

// settledIfDone deletes segment n once none of its events is pending and a newer one exists.
func (s *spool) settledIfDone(n int64) {
	if s.pending[n] > 0 || n >= s.curN {
		return
	}
	delete(s.pending, n)
	s.remove(n)
}

func (s *spool) remove(n int64) {
	if err := os.Remove(filepath.Join(s.dir, segmentName(n))); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.logger.Warn("adbudget: spool: cannot delete a settled segment", "segment", segmentName(n), "err", err)
	}
}

// reject appends a refused event to rejected.jsonl.
func (s *spool) reject(e SpendEvent, code connect.Code, msg string) error {
	line, err := encodeRejectedLine(e, code, msg, time.Now())
	if err != nil {
		return err
	}
	return s.appendRejected(line)
}

// keepUnread copies what segment n held besides events: each corrupt whole line to
// rejected.jsonl (code CorruptSpoolLine), the torn last fragment to torn.jsonl (docs/sdk.md).
func (s *spool) keepUnread(n int64, c segmentContent) error {
	for _, raw := range c.corrupt {
		s.logger.Warn("adbudget: spool: a line that is not an event; kept in "+rejectedName, "segment", segmentName(n), "line", fmt.Sprintf("%.80q", raw))
		line, err := encodeJSONLine(corruptLine{Raw: string(raw), Code: corruptSpoolLineCode, Segment: n})
		if err == nil {
			err = s.appendRejected(line)
		}
		if err != nil {
			return fmt.Errorf("cannot keep a corrupt line of %s in %s: %w", segmentName(n), rejectedName, err)
		}
	}
	if len(c.torn) == 0 {
		return nil
	}
	s.logger.Info("adbudget: spool: skipped a torn last line (its report never answered); kept in "+tornName, "segment", segmentName(n))
	line, err := encodeJSONLine(tornLine{Raw: string(c.torn), Segment: n})
	if err == nil {
		err = appendFile(filepath.Join(s.dir, tornName), line, s.fsync)
	}
	if err != nil {
		return fmt.Errorf("cannot keep the torn line of %s in %s: %w", segmentName(n), tornName, err)
	}
	return nil
}

// appendRejected appends a line to rejected.jsonl, opened at its first use and kept open.
func (s *spool) appendRejected(line []byte) error {
	if s.rejected == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, rejectedName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		s.rejected = f
	}
	if _, err := s.rejected.Write(line); err != nil {
		return err
	}
	if s.fsync {
		return s.rejected.Sync()
	}
	return nil
}

// appendFile appends one line to the file at path (created when absent).
func appendFile(path string, line []byte, fsync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if err == nil && fsync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// close closes the files and releases the lock. Segments with pending events stay for the next
// start. The current segment is deleted too when all its events are settled: nothing will be
// appended to it any more, and keeping it would only have the next start send every one of its
// events again, each answered as a duplicate.
func (s *spool) close() {
	if s.cur != nil {
		_ = s.cur.Close()
		if s.pending[s.curN] == 0 {
			s.remove(s.curN)
		}
	}
	if s.rejected != nil {
		_ = s.rejected.Close()
	}
	s.unlock()
}

// syncDir fsyncs a directory, so the entries created in it survive a machine crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
