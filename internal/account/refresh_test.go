package account_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// refreshEnv is an account environment with a refresh token service on the
// same database and clock.
type refreshEnv struct {
	*env
	rt *account.RefreshService
}

func newRefreshEnv(t *testing.T) *refreshEnv {
	t.Helper()
	e := newEnv(t)
	rt := account.NewRefreshService(account.RefreshConfig{
		Store: e.db.RefreshTokens(), Users: e.db.Users(), Record: e.svc.Record, TTL: 24 * time.Hour, Now: e.clock.Now,
	})
	return &refreshEnv{env: e, rt: rt}
}

// mustVerifiedUser creates an account whose address is verified.
func (e *refreshEnv) mustVerifiedUser(t *testing.T, email string) account.User {
	t.Helper()
	u, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: email, Password: goodPassword, Verified: true}, meta)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *refreshEnv) mustIssue(t *testing.T, u account.User) string {
	t.Helper()
	tok, rec, err := e.rt.Issue(ctx, u, e.clock.Now(), []string{"pwd"})
	if err != nil || rec.ID <= 0 || rec.UserID != u.ID {
		t.Fatalf("Issue = %q, %+v, %v", tok, rec, err)
	}
	return tok
}

func (e *refreshEnv) mustRotate(t *testing.T, tok string) (string, account.RefreshToken) {
	t.Helper()
	_, next, rec, err := e.rt.Rotate(ctx, tok, meta)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return next, rec
}

func TestRefreshTokenShape(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "ada@example.com")
	seen := map[string]bool{}
	for range 20 {
		tok := e.mustIssue(t, u)
		if len(tok) != account.RefreshTokenLength || seen[tok] {
			t.Fatalf("token %q: wrong length or repeated", tok)
		}
		if _, ok := account.HashRefreshToken(tok); !ok {
			t.Fatalf("HashRefreshToken(%q) refused an issued token", tok)
		}
		seen[tok] = true
	}
	// The database holds hashes, never the token.
	tok := e.mustIssue(t, u)
	var n int
	if err := e.db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM refresh_tokens WHERE token_hash = ? OR family_id = ? OR amr = ?", tok, tok, tok).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token found in the table (%d, %v)", n, err)
	}
	for _, bad := range []string{"", "short", tok + "A", tok[:42] + "=", tok[:42] + "+", tok[:42] + "/", strings.Repeat("é", 21) + "a", strings.Repeat("A", 43)} {
		if bad == strings.Repeat("A", 43) {
			if _, ok := account.HashRefreshToken(bad); !ok {
				t.Errorf("HashRefreshToken(%q) refused a well-formed string", bad)
			}
			continue
		}
		if _, ok := account.HashRefreshToken(bad); ok {
			t.Errorf("HashRefreshToken(%q) accepted", bad)
		}
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "ada@example.com")
	t1 := e.mustIssue(t, u)
	e.clock.Advance(time.Minute)
	t2, rec2 := e.mustRotate(t, t1)
	if t2 == t1 || !rec2.CreatedAt.Equal(e.clock.Now()) || !rec2.ExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("rotated token %+v", rec2)
	}
	e.clock.Advance(time.Minute)
	t3, rec3 := e.mustRotate(t, t2)
	if rec3.FamilyID != rec2.FamilyID || !rec3.AuthenticatedAt.Equal(start) {
		t.Fatalf("family or auth time not carried: %+v vs %+v", rec3, rec2)
	}
	// A second family of the same user is untouched by what follows.
	other := e.mustIssue(t, u)

	// t1 is spent: presenting it again revokes the family, t3 included.
	if _, _, _, err := e.rt.Rotate(ctx, t1, meta); !errors.Is(err, account.ErrRefreshReused) {
		t.Fatalf("reuse = %v, want ErrRefreshReused", err)
	}
	ev := e.lastEvent(t, account.EventRefreshReuse)
	if ev.UserID != u.ID || ev.Outcome != account.OutcomeDenied || ev.IP != meta.IP || !strings.Contains(ev.Detail, rec3.FamilyID) ||
		strings.Contains(ev.Detail, t1) || strings.Contains(ev.Detail, t3) {
		t.Fatalf("reuse event = %+v", ev)
	}
	if _, _, _, err := e.rt.Rotate(ctx, t3, meta); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("token of a revoked family = %v, want ErrRefreshInvalid", err)
	}
	e.mustRotate(t, other)
}

func TestRefreshRefusals(t *testing.T) {
	tests := []struct {
		name string
		// spoil acts after the token was issued.
		spoil func(t *testing.T, e *refreshEnv, u account.User)
	}{
		{"expired", func(t *testing.T, e *refreshEnv, u account.User) { e.clock.Advance(24 * time.Hour) }},
		{"password changed", func(t *testing.T, e *refreshEnv, u account.User) {
			e.clock.Advance(time.Second)
			if _, err := e.svc.ChangePassword(ctx, u.ID, goodPassword, "another fine passphrase", meta); err != nil {
				t.Fatal(err)
			}
		}},
		{"signed out everywhere", func(t *testing.T, e *refreshEnv, u account.User) {
			e.clock.Advance(time.Microsecond)
			if _, err := e.svc.RevokeSessions(ctx, u.ID, meta); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled", func(t *testing.T, e *refreshEnv, u account.User) {
			if err := e.svc.SetDisabledByOperator(ctx, u.ID, true, meta); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled and enabled", func(t *testing.T, e *refreshEnv, u account.User) {
			e.clock.Advance(time.Second)
			_ = e.svc.SetDisabledByOperator(ctx, u.ID, true, meta)
			_ = e.svc.SetDisabledByOperator(ctx, u.ID, false, meta)
		}},
		{"address unverified", func(t *testing.T, e *refreshEnv, u account.User) {
			if err := e.db.Users().SetEmailVerified(ctx, u.ID, time.Time{}, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoked", func(t *testing.T, e *refreshEnv, u account.User) {
			if n, err := e.rt.RevokeUser(ctx, u.ID); err != nil || n != 1 {
				t.Fatalf("RevokeUser = %d, %v", n, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRefreshEnv(t)
			u := e.mustVerifiedUser(t, "ada@example.com")
			tok := e.mustIssue(t, u)
			tc.spoil(t, e, u)
			if _, _, _, err := e.rt.Rotate(ctx, tok, meta); !errors.Is(err, account.ErrRefreshInvalid) {
				t.Fatalf("Rotate = %v, want ErrRefreshInvalid", err)
			}
			if evs := e.events(t, account.EventRefreshReuse); len(evs) != 0 {
				t.Fatalf("a refusal was audited as reuse: %+v", evs)
			}
		})
	}
	// A token issued after the cut-off is fine.
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "bo@example.com")
	e.clock.Advance(time.Second)
	if _, err := e.svc.RevokeSessions(ctx, u.ID, meta); err != nil {
		t.Fatal(err)
	}
	e.mustRotate(t, e.mustIssue(t, u))
}

func TestRefreshMalformedAndUnknown(t *testing.T) {
	e := newRefreshEnv(t)
	for _, tok := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 10000), "eyJhbGciOiJFZERTQSJ9.e30.sig"} {
		if _, _, _, err := e.rt.Rotate(ctx, tok, meta); !errors.Is(err, account.ErrRefreshInvalid) {
			t.Errorf("Rotate(%.20q) = %v", tok, err)
		}
		if err := e.rt.Revoke(ctx, tok, meta); err != nil {
			t.Errorf("Revoke(%.20q) = %v, want nil", tok, err)
		}
	}
}

func TestRefreshRevoke(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "ada@example.com")
	t1 := e.mustIssue(t, u)
	t2, _ := e.mustRotate(t, t1)
	// Revoking any token of the family, even a spent one, ends it.
	if err := e.rt.Revoke(ctx, t1, meta); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent(t, account.EventRefreshRevoke); ev.UserID != u.ID || ev.Outcome != account.OutcomeSuccess {
		t.Fatalf("revoke event = %+v", ev)
	}
	if _, _, _, err := e.rt.Rotate(ctx, t2, meta); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("Rotate after Revoke = %v", err)
	}
	// Revoking again is a no-op, and is not audited twice.
	if err := e.rt.Revoke(ctx, t2, meta); err != nil {
		t.Fatal(err)
	}
	if evs := e.events(t, account.EventRefreshRevoke); len(evs) != 1 {
		t.Fatalf("%d revoke events, want 1", len(evs))
	}
}

func TestRefreshConcurrentRotation(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "ada@example.com")
	tok := e.mustIssue(t, u)
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		wins, reuses   int
		issued         []string
		unexpectedErrs []error
	)
	for range 6 {
		wg.Go(func() {
			_, next, _, err := e.rt.Rotate(ctx, tok, meta)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				issued = append(issued, next)
			case errors.Is(err, account.ErrRefreshReused), errors.Is(err, account.ErrRefreshInvalid):
				reuses++
			default:
				unexpectedErrs = append(unexpectedErrs, err)
			}
		})
	}
	wg.Wait()
	if len(unexpectedErrs) > 0 || wins != 1 || reuses != 5 {
		t.Fatalf("wins %d, refused %d, errors %v", wins, reuses, unexpectedErrs)
	}
	// Two parties used one token: the family is gone, the winner's new token too.
	if _, _, _, err := e.rt.Rotate(ctx, issued[0], meta); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("winner's token after concurrent reuse = %v", err)
	}
}

func TestRefreshPurge(t *testing.T) {
	e := newRefreshEnv(t)
	u := e.mustVerifiedUser(t, "ada@example.com")
	e.mustIssue(t, u)
	e.mustIssue(t, u)
	e.clock.Advance(12 * time.Hour)
	live := e.mustIssue(t, u)
	e.clock.Advance(13 * time.Hour)
	if n, err := e.rt.Purge(ctx); err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2", n, err)
	}
	e.mustRotate(t, live)
}

func TestRefreshServiceNeedsStores(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewRefreshService without stores did not panic")
		}
	}()
	account.NewRefreshService(account.RefreshConfig{})
}

func TestRefreshIssueChecks(t *testing.T) {
	e := newRefreshEnv(t)
	if _, _, err := e.rt.Issue(ctx, account.User{}, start, nil); err == nil {
		t.Error("Issue without a user succeeded")
	}
	u := e.mustVerifiedUser(t, "ada@example.com")
	if _, _, err := e.rt.Issue(ctx, u, start, []string{strings.Repeat("x", 200)}); err == nil {
		t.Error("Issue with an over-long amr succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := e.rt.Issue(cctx, u, start, nil); err == nil {
		t.Error("Issue with a cancelled context succeeded")
	}
}
