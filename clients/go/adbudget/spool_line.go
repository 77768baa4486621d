package adbudget

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"connectrpc.com/connect"
)

// spoolLine is one line of a spool segment (docs/sdk.md, Spool), the format both SDKs write and
// read: {"id":..,"brand":..,"campaign":..,"micros":"<decimal>","at":<ms since the epoch>}.
// micros is a string because a JSON number loses precision past 2^53 in JavaScript.
type spoolLine struct {
	ID       string `json:"id"`
	Brand    string `json:"brand"`
	Campaign string `json:"campaign"`
	Micros   string `json:"micros"`
	At       int64  `json:"at"`
}

// rejectedLine is one line of rejected.jsonl: the event's spool line, why the service refused
// it, and when (ms since the epoch), as the TypeScript SDK writes it.
type rejectedLine struct {
	spoolLine
	Code       string `json:"code"`
	Message    string `json:"message"`
	RejectedAt int64  `json:"rejectedAt"`
}

// encodeSpoolLine is the line of an event, newline included: written with a single write, so a
// line without its newline is one whose write did not complete.
func encodeSpoolLine(e SpendEvent) ([]byte, error) {
	b, err := json.Marshal(lineOf(e))
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func lineOf(e SpendEvent) spoolLine {
	return spoolLine{
		ID:       e.ID,
		Brand:    e.BrandID,
		Campaign: e.CampaignID,
		Micros:   strconv.FormatInt(e.AmountMicros, 10),
		At:       e.OccurredAt.UnixMilli(),
	}
}

// decodeSpoolLine reads one line (without its newline) back into the event it was written for.
func decodeSpoolLine(b []byte) (SpendEvent, error) {
	var l spoolLine
	if err := json.Unmarshal(b, &l); err != nil {
		return SpendEvent{}, err
	}
	micros, err := strconv.ParseInt(l.Micros, 10, 64)
	if err != nil {
		return SpendEvent{}, fmt.Errorf("micros %q: %w", l.Micros, err)
	}
	e := SpendEvent{
		ID:           l.ID,
		BrandID:      l.Brand,
		CampaignID:   l.Campaign,
		AmountMicros: micros,
		OccurredAt:   time.UnixMilli(l.At),
	}
	if err := e.validate(); err != nil {
		return SpendEvent{}, err
	}
	return e, nil
}

// encodeRejectedLine is the rejected.jsonl line of an event: its spool line plus the code and
// message of the refusal.
func encodeRejectedLine(e SpendEvent, code connect.Code, msg string, at time.Time) ([]byte, error) {
	return encodeJSONLine(rejectedLine{spoolLine: lineOf(e), Code: codeName(code), Message: msg, RejectedAt: at.UnixMilli()})
}

// corruptLine is the rejected.jsonl line of a whole spool line that is not an event: its bytes,
// the code CorruptSpoolLine (docs/sdk.md) and its segment.
type corruptLine struct {
	Raw     string `json:"raw"`
	Code    string `json:"code"`
	Segment int64  `json:"segment"`
}

// corruptSpoolLineCode is the code of a corrupt spool line in rejected.jsonl.
const corruptSpoolLineCode = "CorruptSpoolLine"

// tornLine is the torn.jsonl line of a segment's torn last fragment: its bytes and its segment.
type tornLine struct {
	Raw     string `json:"raw"`
	Segment int64  `json:"segment"`
}

// codeName is a code as rejected.jsonl names it, the same in both SDKs: the Connect code's
// name in CamelCase ("PermissionDenied", as @connectrpc/connect's Code enum spells it).
func codeName(code connect.Code) string {
	var b strings.Builder
	upper := true
	for _, r := range code.String() {
		switch {
		case r == '_':
			upper = true
		case upper:
			b.WriteRune(unicode.ToUpper(r))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// encodeJSONLine is v as one JSON line, newline included.
func encodeJSONLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
