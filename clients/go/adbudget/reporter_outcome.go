package adbudget

import "connectrpc.com/connect"

// outcome is what becomes of an event after one send.
type outcome int

const (
	outcomeAcked  outcome = iota // recorded, or a duplicate of an earlier send that counted
	outcomeRetry                 // send it again, same id and body, after a backoff
	outcomeReject                // refused for good: onRejected, rejected.jsonl
)

// classify maps the code of a failed event (or of the whole call) to what the reporter does
// (docs/sdk.md, Outcome per event). Transient codes are retried for ever: the event is already
// accepted and must not be lost. UNAUTHENTICATED is retried too, after the interceptor dropped
// the refused token. Every other code would fail again with the same body: retrying would block
// the queue for nothing.
func classify(code connect.Code) outcome {
	switch code {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted,
		connect.CodeAborted, connect.CodeInternal, connect.CodeUnknown, connect.CodeUnauthenticated:
		return outcomeRetry
	}
	return outcomeReject
}
