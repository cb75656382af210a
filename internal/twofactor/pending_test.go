package twofactor

import (
	"testing"
	"time"
)

func TestTwoFactorPendingExpiryRule(t *testing.T) {
	since := time.Unix(1_800_000_000, 0)
	p := pendingSignIn{UserID: 1, Since: since}
	for _, tc := range []struct {
		after time.Duration
		want  bool
	}{
		{0, false},
		{4*time.Minute + 59*time.Second, false},
		{5 * time.Minute, true},
		{time.Hour, true},
		{-30 * time.Second, false}, // another instance's clock a little ahead
		{-2 * time.Minute, true},   // a start time in the future is not trusted
	} {
		if got := p.expired(since.Add(tc.after)); got != tc.want {
			t.Errorf("expired after %v = %v, want %v", tc.after, got, tc.want)
		}
	}
}
