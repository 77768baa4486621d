package adbudget

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// SpendEvent is one spend of a campaign, such as one billed impression.
type SpendEvent struct {
	// ID makes recording idempotent: the budget service counts a (brand, ID) once, ever. Use the
	// ad server's own impression or billing id; 1 to 128 characters.
	ID string
	// BrandID and CampaignID are UUIDs; the campaign must belong to the brand.
	BrandID    string
	CampaignID string
	// AmountMicros is the spend in micros of the brand's currency: more than 0, at most 10^15.
	AmountMicros int64
	// OccurredAt decides the local day and month the spend counts toward. Zero: stamped with the
	// reporter's clock when reported. Kept to the millisecond (the spool's and the server's
	// precision), so every send of the event carries the same body.
	OccurredAt time.Time
}

// maxAmountMicros is the budget service's limit on one event: 10^15 micros, a billion units.
const maxAmountMicros = 1_000_000_000_000_000

// maxEventIDLen is the budget service's limit on an event id, in characters.
const maxEventIDLen = 128

// ErrInvalidEvent is wrapped by the error Report returns for an event the service would refuse.
var ErrInvalidEvent = errors.New("adbudget: invalid spend event")

// validate checks what the budget service would refuse (INVALID_ARGUMENT) before the event is
// accepted: such an event can never be counted, and the caller should hear it at once rather
// than through onRejected.
func (e *SpendEvent) validate() error {
	n := utf8.RuneCountInString(e.ID)
	switch {
	case n < 1 || n > maxEventIDLen:
		return fmt.Errorf("%w: the id must have 1 to %d characters, not %d", ErrInvalidEvent, maxEventIDLen, n)
	case !isUUID(e.BrandID):
		return fmt.Errorf("%w: brand id %q is not a UUID", ErrInvalidEvent, e.BrandID)
	case !isUUID(e.CampaignID):
		return fmt.Errorf("%w: campaign id %q is not a UUID", ErrInvalidEvent, e.CampaignID)
	case e.AmountMicros <= 0 || e.AmountMicros > maxAmountMicros:
		return fmt.Errorf("%w: the amount must be more than 0 and at most 10^15 micros, not %d", ErrInvalidEvent, e.AmountMicros)
	}
	return nil
}

// isUUID says whether s is a UUID in its canonical text form (8-4-4-4-12 hex digits), as the
// service's validation requires.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
