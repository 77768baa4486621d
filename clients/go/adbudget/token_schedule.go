package adbudget

import "time"

const (
	// tokenRefreshShare is the share of a token's life (exp - iat) after which it is renewed:
	// 80% leaves a fifth of the life for the renewal to succeed (and be retried) before the old
	// token expires, and a call sent just before the renewal still arrives with a valid token.
	tokenRefreshShare = 0.8
	// tokenLifeWithoutExp is when a token without `exp` is asked for again (docs/sdk.md): the SDK
	// cannot tell when it expires, and 5 minutes bounds how long a revoked one is kept.
	tokenLifeWithoutExp = 5 * time.Minute
)

// tokenTimes says when a token is asked for again and until when it may still be sent.
type tokenTimes struct {
	refreshAt time.Time
	expiresAt time.Time // zero: unknown (no exp), usable until replaced
}

// scheduleToken computes a token's renewal from its claims and from `got`, when the source
// handed it over (time.Now(), with its monotonic reading: the results are compared with later
// time.Now() readings, so a wall-clock jump does not move them).
//
// Renewal comes at iat + 80% of (exp - iat), the token's age being read on the wall clock at
// `got`. A token handed over already past that point is asked for again halfway through what
// remains of its life, so a source that keeps returning the same ageing token is not called on
// every request.
func scheduleToken(c jwtClaims, got time.Time) tokenTimes {
	if !c.hasExp {
		return tokenTimes{refreshAt: got.Add(tokenLifeWithoutExp)}
	}
	wall := got.Round(0) // wall clock only, to compare with the claims
	life := c.exp.Sub(wall)
	age := time.Duration(0)
	if c.hasIat && c.exp.After(c.iat) {
		life = c.exp.Sub(c.iat)
		age = min(max(wall.Sub(c.iat), 0), life)
	}
	if life <= 0 {
		// Expired when it came: send it anyway (the server judges), ask again next time.
		return tokenTimes{refreshAt: got, expiresAt: got}
	}
	remaining := life - age
	untilRefresh := time.Duration(float64(life)*tokenRefreshShare) - age
	if untilRefresh <= 0 {
		untilRefresh = remaining / 2
	}
	return tokenTimes{refreshAt: got.Add(untilRefresh), expiresAt: got.Add(remaining)}
}
