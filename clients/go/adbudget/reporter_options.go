package adbudget

import (
	"time"

	"connectrpc.com/connect"
)

// Overflow is what Report does when the reporter holds maxBuffered events not yet settled.
type Overflow int

const (
	// Reject answers false for the new event (default): the caller decides (serve without
	// billing, or not serve).
	Reject Overflow = iota
	// DropOldest drops the oldest queued event (counted, WithOnDrop called, its spool line
	// settled) to admit the new one.
	DropOldest
)

const (
	// defaultMaxBatch: 500 events make a RecordSpendBatch of about 60 KB, which the service
	// records in one transaction; half the service's limit of 1000, so a batch's latency stays
	// low.
	defaultMaxBatch = 500
	// maxBatchLimit is the service's limit on one RecordSpendBatch.
	maxBatchLimit = 1000
	// defaultLinger is how long a batch waits for company after its first event: 50 ms adds
	// little to when spend is counted and, at more than 10 000 events/s, fills batches anyway.
	defaultLinger = 50 * time.Millisecond
	// defaultMaxInFlight batches in flight keep a budget service replica busy over a round
	// trip without one ad server taking every connection slot of it.
	defaultMaxInFlight = 4
	// defaultMaxBuffered bounds memory (about 200 bytes an event: 20 MB) and how much spend is
	// unsent while the budget service is down (100 000 events: minutes of a busy ad server).
	defaultMaxBuffered = 100_000
)

type reporterConfig struct {
	common      commonConfig
	maxBatch    int
	linger      time.Duration
	maxInFlight int
	maxBuffered int
	overflow    Overflow
	spoolDir    string
	fsync       bool
	onRejected  func(e SpendEvent, code connect.Code, message string)
	onDrop      func(e SpendEvent)
	retry       backoff
}

func defaultReporterConfig() reporterConfig {
	return reporterConfig{
		common:      defaultCommon(),
		maxBatch:    defaultMaxBatch,
		linger:      defaultLinger,
		maxInFlight: defaultMaxInFlight,
		maxBuffered: defaultMaxBuffered,
		retry:       spendBackoff,
	}
}

type reporterOption func(*reporterConfig)

func (f reporterOption) applyReporter(c *reporterConfig) { f(c) }

// WithSpool keeps every accepted event in dir (a directory of its own) until it is settled, so
// a crash of the ad server loses nothing it accepted: the next reporter on dir sends it again.
func WithSpool(dir string) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.spoolDir = dir })
}

// WithFsync fsyncs every spool write: the spool then survives a crash of the machine, not only
// of the process, at the cost of one fsync per Report.
func WithFsync(on bool) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.fsync = on })
}

// WithMaxBuffered bounds the events accepted but not yet settled (default 100 000); past it
// the overflow policy applies.
func WithMaxBuffered(n int) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.maxBuffered = n })
}

// WithOverflow sets what Report does at maxBuffered (default [Reject]).
func WithOverflow(o Overflow) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.overflow = o })
}

// WithOnRejected calls f for every event the service refused for good (INVALID_ARGUMENT,
// NOT_FOUND, PERMISSION_DENIED, ALREADY_EXISTS, ...): nothing accepted leaves silently.
func WithOnRejected(f func(e SpendEvent, code connect.Code, message string)) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.onRejected = f })
}

// WithOnDrop calls f for every event dropped by the [DropOldest] policy.
func WithOnDrop(f func(e SpendEvent)) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.onDrop = f })
}

// WithMaxBatch sets how many events a batch carries at most (default 500, at most 1000).
func WithMaxBatch(n int) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.maxBatch = n })
}

// WithLinger sets how long a batch waits after its first event (default 50 ms).
func WithLinger(d time.Duration) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.linger = d })
}

// WithMaxInFlight sets how many batches may be in flight at once (default 4).
func WithMaxInFlight(n int) ReporterOption {
	return reporterOption(func(c *reporterConfig) { c.maxInFlight = n })
}
