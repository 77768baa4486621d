package adbudget

import (
	"encoding/base64"
	"testing"
	"time"
)

// fakeJWT builds an unsigned token with the given payload (the SDK never verifies).
func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestReadJWTTimes(t *testing.T) {
	tests := []struct {
		name           string
		token          string
		hasIat, hasExp bool
		iat, exp       int64
	}{
		{"iat and exp", fakeJWT(`{"sub":"a","iat":1700000000,"exp":1700000300}`), true, true, 1700000000, 1700000300},
		{"exp only", fakeJWT(`{"exp":1700000300}`), false, true, 0, 1700000300},
		{"fractional exp", fakeJWT(`{"exp":1700000300.5}`), false, true, 0, 1700000300},
		{"neither", fakeJWT(`{"sub":"a"}`), false, false, 0, 0},
		{"exp not a number", fakeJWT(`{"exp":"soon"}`), false, false, 0, 0},
		{"not a JWT", "opaque-token", false, false, 0, 0},
		{"payload not base64", "a.!!!.c", false, false, 0, 0},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", false, false, 0, 0},
		{"padded payload", "a." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1700000300}`)) + ".c", false, true, 0, 1700000300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readJWTTimes(tt.token)
			if c.hasIat != tt.hasIat || c.hasExp != tt.hasExp {
				t.Fatalf("hasIat, hasExp = %v, %v; want %v, %v", c.hasIat, c.hasExp, tt.hasIat, tt.hasExp)
			}
			if tt.hasIat && c.iat.Unix() != tt.iat {
				t.Errorf("iat = %d, want %d", c.iat.Unix(), tt.iat)
			}
			if tt.hasExp && c.exp.Unix() != tt.exp {
				t.Errorf("exp = %d, want %d", c.exp.Unix(), tt.exp)
			}
		})
	}
}

func TestScheduleToken(t *testing.T) {
	got := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	claims := func(iatAgo, expIn time.Duration, hasIat bool) jwtClaims {
		return jwtClaims{iat: got.Add(-iatAgo), exp: got.Add(expIn), hasIat: hasIat, hasExp: true}
	}
	tests := []struct {
		name             string
		c                jwtClaims
		refresh, expires time.Duration // after got; expires -1: unknown
	}{
		{"fresh 100 s token: at 80 s", claims(0, 100*time.Second, true), 80 * time.Second, 100 * time.Second},
		{"5 s token: at 4 s", claims(0, 5*time.Second, true), 4 * time.Second, 5 * time.Second},
		{"received 30 s into 100: 50 s later", claims(30*time.Second, 70*time.Second, true), 50 * time.Second, 70 * time.Second},
		{"received 90 s into 100: half the rest", claims(90*time.Second, 10*time.Second, true), 5 * time.Second, 10 * time.Second},
		{"issued in the future (skew): from receipt", claims(-10*time.Second, 110*time.Second, true), 80 * time.Second, 100 * time.Second},
		{"no iat: life from receipt", claims(0, 50*time.Second, false), 40 * time.Second, 50 * time.Second},
		{"expired on arrival: ask again now", claims(200*time.Second, -100*time.Second, true), 0, 0},
		{"no exp: 5 minutes", jwtClaims{}, 5 * time.Minute, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduleToken(tt.c, got)
			if d := s.refreshAt.Sub(got); d != tt.refresh {
				t.Errorf("refresh after %s, want %s", d, tt.refresh)
			}
			if tt.expires < 0 {
				if !s.expiresAt.IsZero() {
					t.Errorf("expires at %s, want unknown", s.expiresAt)
				}
			} else if d := s.expiresAt.Sub(got); d != tt.expires {
				t.Errorf("expires after %s, want %s", d, tt.expires)
			}
		})
	}
}
