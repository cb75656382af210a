package app

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/api"
)

// Issue 15 item 7: the token endpoints never wait for the next second after
// a cut-off moved. An access token carries its issue time to the
// microsecond ("iat_us"), so one issued in the cut-off's own second is
// ordered against it exactly: after it, it works at /api/v1/me at once;
// before it, it is refused. The handlers' clock is injected; the cut-off is
// set by the real clock and read back.
func TestAPICutOffSameSecond(t *testing.T) {
	ts := startTwoFactorServer(t)
	apiVerifiedUser(ts.testServer, "ada@example.com")
	ctx := context.Background()
	u, err := ts.d.accounts.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u, err = ts.d.accounts.RevokeSessions(ctx, u.ID, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	cut := u.SessionsValidAfter
	at := func(d time.Duration) {
		ts.clock.mu.Lock()
		ts.clock.t = cut.Add(d)
		ts.clock.mu.Unlock()
	}
	tests := []struct {
		name   string
		offset time.Duration // issue time minus the cut-off
		ok     bool
	}{
		{"a microsecond before the cut-off", -time.Microsecond, false},
		{"a second before the cut-off", -time.Second, false},
		{"at the cut-off", 0, true},
		{"a microsecond after the cut-off", time.Microsecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at(tt.offset)
			pair := apiMustTokens(t, ts.testServer, "ada@example.com", goodPassword)
			at(2 * time.Second) // verified later, as a client would
			if tt.ok {
				apiMe(t, ts.testServer, pair.AccessToken).want(t, http.StatusOK)
			} else {
				apiWantInvalidToken(t, apiMe(t, ts.testServer, pair.AccessToken), api.ProblemInvalidToken)
			}
			if !tt.ok {
				return
			}
			// A refresh in the cut-off's second, after it, gets a token
			// that works at once too.
			at(tt.offset + time.Microsecond)
			fresh := apiMustRefresh(t, ts.testServer, pair.RefreshToken)
			at(2 * time.Second)
			apiMe(t, ts.testServer, fresh.AccessToken).want(t, http.StatusOK)
		})
	}
}
