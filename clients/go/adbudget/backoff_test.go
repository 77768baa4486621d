package adbudget

import (
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: 5 * time.Second}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for n, w := range want {
		if got := b.ceiling(n); got != w*time.Millisecond {
			t.Errorf("ceiling(%d) = %s, want %s", n, got, w*time.Millisecond)
		}
	}
	if got := b.ceiling(1 << 20); got != b.max {
		t.Errorf("ceiling(huge) = %s, want the cap", got)
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	tests := []struct {
		name string
		b    backoff
	}{
		{"calls", callBackoff},
		{"spend", spendBackoff},
		{"reconnect", reconnectBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n := 0; n < 12; n++ {
				c := tt.b.ceiling(n)
				// The extremes of the random source give the extremes of full jitter: 0 and the ceiling.
				if d := tt.b.delay(n, func(int64) int64 { return 0 }); d != 0 {
					t.Errorf("retry %d: lowest delay %s, want 0", n, d)
				}
				if d := tt.b.delay(n, func(k int64) int64 { return k - 1 }); d != c {
					t.Errorf("retry %d: highest delay %s, want %s", n, d, c)
				}
				for i := 0; i < 100; i++ {
					if d := tt.b.delay(n, jitter); d < 0 || d > c {
						t.Fatalf("retry %d: delay %s outside [0, %s]", n, d, c)
					}
				}
			}
			if tt.b.ceiling(100) > 10*time.Second {
				t.Errorf("cap %s above 10 s", tt.b.ceiling(100))
			}
		})
	}
}

// The schedules docs/sdk.md names: first ceiling and cap.
func TestBackoffSchedules(t *testing.T) {
	tests := []struct {
		name       string
		b          backoff
		first, cap time.Duration
	}{
		{"transport's UNAVAILABLE retries", callBackoff, 100 * time.Millisecond, 5 * time.Second},
		{"spend retries", spendBackoff, 100 * time.Millisecond, 10 * time.Second},
		{"stream reconnects", reconnectBackoff, 100 * time.Millisecond, 5 * time.Second},
		{"token renewal retries", tokenBackoff, time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.b.ceiling(0); got != tt.first {
			t.Errorf("%s: first ceiling %s, want %s", tt.name, got, tt.first)
		}
		if got := tt.b.ceiling(1); got != 2*tt.first {
			t.Errorf("%s: second ceiling %s, want %s (doubling)", tt.name, got, 2*tt.first)
		}
		if got := tt.b.ceiling(100); got != tt.cap {
			t.Errorf("%s: cap %s, want %s", tt.name, got, tt.cap)
		}
	}
}
