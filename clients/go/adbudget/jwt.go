package adbudget

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// jwtClaims are the two claims that decide when a token is renewed.
type jwtClaims struct {
	iat, exp       time.Time
	hasIat, hasExp bool
}

// readJWTTimes reads `iat` and `exp` from a JWT's payload WITHOUT verifying its signature: the
// SDK only schedules renewal with them; the server verifies. A token that is not a JWT, or whose
// payload has neither claim, yields zero claims (and is renewed after tokenLifeWithoutExp).
func readJWTTimes(token string) jwtClaims {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return jwtClaims{}
	}
	// base64url without padding (RFC 7515); tolerate padding some encoders leave.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return jwtClaims{}
	}
	var raw struct {
		Iat *json.Number `json:"iat"`
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return jwtClaims{}
	}
	var c jwtClaims
	c.iat, c.hasIat = numericDate(raw.Iat)
	c.exp, c.hasExp = numericDate(raw.Exp)
	return c
}

// numericDate reads a JWT NumericDate: seconds since the epoch, possibly fractional (RFC 7519).
func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
