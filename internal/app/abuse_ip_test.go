package app

import (
	"strings"
	"testing"
)

// Limits keyed by client IP cannot be dodged with a forged X-Forwarded-For:
// from an untrusted peer the header changes nothing; behind TRUSTED_PROXIES
// the rightmost address that is not a trusted proxy is the client, and what
// a client writes to its left changes nothing either. IPv6 clients count
// per /64.
func TestAbuseClientIP(t *testing.T) {
	n := 0
	register := func(ts *testServer, xff string) int {
		t.Helper()
		n++
		b := ts.browser()
		if xff != "" {
			b.hdr.Set("X-Forwarded-For", xff)
		}
		return b.submit("/register", "/register", "email", ipN("user", n)+"@example.com", "password", goodPassword).StatusCode
	}

	t.Run("untrusted peer", func(t *testing.T) {
		ts := startServer(t, "--register-limit=2/hour")
		for i, xff := range []string{"203.0.113.1", "203.0.113.2, 203.0.113.3", "198.51.100.7", "::1", ""} {
			want := 303
			if i >= 2 {
				want = 429
			}
			if got := register(ts, xff); got != want {
				t.Errorf("registration %d with X-Forwarded-For %q: %d, want %d", i+1, xff, got, want)
			}
		}
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		ts := startServer(t, "--register-limit=2/hour", "--trusted-proxies=127.0.0.1/32,10.0.0.0/8")
		for _, tt := range []struct {
			xff  string
			want int
		}{
			{"203.0.113.5", 303},
			{"6.6.6.6, 203.0.113.5", 303},             // a forged entry to the left of the proxy's
			{"7.7.7.7, 8.8.8.8, 203.0.113.5", 429},    // the same client, third time
			{"203.0.113.5, 10.1.2.3", 429},            // through a second trusted proxy
			{"203.0.113.6, 10.1.2.3, 127.0.0.1", 303}, // trusted hops are skipped
			{"2001:db8:1:2::1", 303},                  // IPv6: per /64
			{"2001:db8:1:2:ffff::9", 303},             //
			{"2001:db8:1:2:abcd::1", 429},             // the same /64
			{"2001:db8:1:3::1", 303},                  // another /64
			{"garbage, 203.0.113.9", 303},             // the walk stops at garbage, after the client
			{strings.Repeat("1.2.3.4, ", 500) + "203.0.113.9", 303},
			{"203.0.113.9", 429},
		} {
			if got := register(ts, tt.xff); got != tt.want {
				t.Errorf("X-Forwarded-For %.60q: %d, want %d", tt.xff, got, tt.want)
			}
		}

		// The client address is what the audit trail and the activity page
		// show.
		b := ts.from("6.6.6.6, 203.0.113.77")
		b.register("ip@example.com", goodPassword)
		b.signIn("ip@example.com", goodPassword)
		page := b.get("/account/activity").want(t, 200, "203.0.113.77")
		if strings.Contains(page.body, "6.6.6.6") {
			t.Error("the forged address reached the activity page")
		}
	})
}
