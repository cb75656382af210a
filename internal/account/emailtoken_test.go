package account_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/password"
)

// countingStore counts the transactions of an EmailTokenStore, to show
// that the paths of a reset request do the same work.
type countingStore struct {
	account.EmailTokenStore
	saves, commits atomic.Int32
}

func (s *countingStore) SaveToken(ctx context.Context, t account.EmailToken, commit bool) error {
	s.saves.Add(1)
	if commit {
		s.commits.Add(1)
	}
	return s.EmailTokenStore.SaveToken(ctx, t, commit)
}

func newTokens(e *env) (*account.EmailTokens, *countingStore) {
	cs := &countingStore{EmailTokenStore: e.db.EmailTokens()}
	return account.NewEmailTokens(e.svc, cs), cs
}

func mustIssue(t *testing.T, et *account.EmailTokens, p account.TokenPurpose, u account.User, email string, ttl time.Duration) string {
	t.Helper()
	tok, err := et.Issue(ctx, p, u, email, ttl)
	if err != nil || len(tok) != 64 {
		t.Fatalf("Issue(%s) = %q, %v", p, tok, err)
	}
	return tok
}

func TestEmailTokenVerify(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "Ada@Example.com", goodPassword)
	tok := mustIssue(t, et, account.TokenVerifyEmail, u, u.Email, 48*time.Hour)

	if _, got, err := et.Check(ctx, account.TokenVerifyEmail, tok); err != nil || got.ID != u.ID {
		t.Fatalf("Check = %v, %v", got.ID, err)
	}
	e.clock.Advance(time.Minute)
	v, err := et.VerifyEmail(ctx, tok, meta)
	if err != nil || !v.EmailVerified() || !v.EmailVerifiedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("VerifyEmail = %+v, %v", v, err)
	}
	if _, err := et.VerifyEmail(ctx, tok, meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("second VerifyEmail = %v", err)
	}
	evs := e.events(t, account.EventEmailVerify)
	if len(evs) != 2 || evs[1].Outcome != account.OutcomeSuccess || evs[0].Detail != "token already used" {
		t.Fatalf("audit = %+v", evs)
	}
	for _, ev := range evs {
		if strings.Contains(ev.String(), tok) || strings.Contains(ev.String(), tok[:22]) {
			t.Fatalf("the token is in the audit trail: %s", ev)
		}
	}
}

func TestEmailTokenExpiry(t *testing.T) {
	for _, tc := range []struct {
		purpose account.TokenPurpose
		ttl     time.Duration
	}{
		{account.TokenVerifyEmail, 48 * time.Hour},
		{account.TokenResetPassword, 30 * time.Minute},
		{account.TokenChangeEmail, 48 * time.Hour},
	} {
		t.Run(string(tc.purpose), func(t *testing.T) {
			e := newEnv(t)
			et, _ := newTokens(e)
			u := e.mustRegister(t, "ada@example.com", goodPassword)
			email := u.Email
			if tc.purpose == account.TokenChangeEmail {
				email = "new@example.com"
			}
			tok := mustIssue(t, et, tc.purpose, u, email, tc.ttl)
			e.clock.Advance(tc.ttl - time.Microsecond)
			if _, _, err := et.Check(ctx, tc.purpose, tok); err != nil {
				t.Fatalf("just before expiry: %v", err)
			}
			e.clock.Advance(time.Microsecond)
			var err error
			switch tc.purpose {
			case account.TokenVerifyEmail:
				_, err = et.VerifyEmail(ctx, tok, meta)
			case account.TokenResetPassword:
				_, err = et.ResetPassword(ctx, tok, "a brand new passphrase", meta)
			case account.TokenChangeEmail:
				_, _, err = et.ConfirmEmailChange(ctx, tok, meta)
			}
			if !errors.Is(err, account.ErrTokenInvalid) {
				t.Fatalf("at expiry: %v", err)
			}
			if ev := e.lastEvent(t, map[account.TokenPurpose]account.EventName{
				account.TokenVerifyEmail: account.EventEmailVerify, account.TokenResetPassword: account.EventPasswordReset,
				account.TokenChangeEmail: account.EventEmailChange}[tc.purpose]); ev.Detail != "token expired" {
				t.Fatalf("audit detail %q", ev.Detail)
			}
			if got, _ := e.svc.UserByID(ctx, u.ID); got.Email != "ada@example.com" || got.EmailVerified() {
				t.Fatalf("an expired token changed the account: %+v", got)
			}
		})
	}
}

func TestEmailTokenBadInput(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	reset := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	verify := mustIssue(t, et, account.TokenVerifyEmail, u, u.Email, time.Hour)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct{ name, raw string }{
		{"empty", ""},
		{"short", reset[:63]},
		{"long", reset + "A"},
		{"padded", reset[:62] + "=="},
		{"spaces", " " + reset[1:]},
		{"non-base64", strings.Repeat("!", 64)},
		{"non-UTF-8", "\xff" + reset[1:]},
		{"tampered verifier", flip(reset, 60)},
		{"tampered selector", flip(reset, 3)},
		{"other purpose", verify},
		{"oversized", strings.Repeat("A", 1<<16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := et.ResetPassword(ctx, tc.raw, "a brand new passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
				t.Fatalf("ResetPassword = %v", err)
			}
		})
	}
	// Nothing changed: the real token still works, once.
	if _, err := et.ResetPassword(ctx, reset, "a brand new passphrase", meta); err != nil {
		t.Fatal(err)
	}
}

func TestEmailTokenNewerVoidsOlder(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	first := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	verify := mustIssue(t, et, account.TokenVerifyEmail, u, u.Email, time.Hour)
	e.clock.Advance(time.Second)
	second := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	if _, err := et.ResetPassword(ctx, first, "a brand new passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("older token = %v", err)
	}
	if _, _, err := et.Check(ctx, account.TokenVerifyEmail, verify); err != nil {
		t.Fatalf("a token of another purpose was voided: %v", err)
	}
	if _, err := et.ResetPassword(ctx, second, "a brand new passphrase", meta); err != nil {
		t.Fatalf("newer token = %v", err)
	}
}

func TestEmailTokenPasswordChangeVoidsReset(t *testing.T) {
	for _, how := range []string{"change password", "void", "sign out everywhere"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			et, _ := newTokens(e)
			u := e.mustRegister(t, "ada@example.com", goodPassword)
			tok := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
			e.clock.Advance(time.Second)
			switch how {
			case "change password":
				if _, err := e.svc.ChangePassword(ctx, u.ID, goodPassword, "another good passphrase", meta); err != nil {
					t.Fatal(err)
				}
			case "void":
				if err := et.VoidResetTokens(ctx, u.ID); err != nil {
					t.Fatal(err)
				}
			case "sign out everywhere":
				if _, err := e.svc.RevokeSessions(ctx, u.ID, meta); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := et.ResetPassword(ctx, tok, "a brand new passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
				t.Fatalf("ResetPassword after %s = %v", how, err)
			}
		})
	}
}

func TestEmailTokenResetPassword(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	tok := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	e.clock.Advance(time.Minute)

	// A password the policy refuses leaves the token usable.
	_, err := et.ResetPassword(ctx, tok, "short", meta)
	if fieldErrors(err)[account.FieldPassword] == "" {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := et.ResetPassword(ctx, tok, "ada@example.com", meta); fieldErrors(err)[account.FieldPassword] == "" {
		t.Fatalf("email as password: %v", err)
	}
	got, err := et.ResetPassword(ctx, tok, "a brand new passphrase", meta)
	if err != nil {
		t.Fatal(err)
	}
	now := start.Add(time.Minute)
	if !got.SessionsValidAfter.Equal(now) || !got.EmailVerifiedAt.Equal(now) {
		t.Fatalf("after reset: %+v", got)
	}
	if _, err := e.svc.Authenticate(ctx, "ADA@example.com", "a brand new passphrase", meta); err != nil {
		t.Fatalf("sign in with the new password: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, "ada@example.com", goodPassword, meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := et.ResetPassword(ctx, tok, "yet another passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("token used twice: %v", err)
	}
	if ev := e.lastEvent(t, account.EventPasswordReset); ev.Outcome != account.OutcomeFailure || ev.Detail != "token already used" {
		t.Fatalf("audit = %+v", ev)
	}

	// A disabled account cannot be reset.
	admin := e.mustCreate(t, "root@example.com", true)
	tok = mustIssue(t, et, account.TokenResetPassword, got, got.Email, time.Hour)
	if err := e.svc.SetDisabled(ctx, admin, u.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := et.ResetPassword(ctx, tok, "yet another passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("reset of a disabled account: %v", err)
	}
}

func TestEmailTokenResetConcurrent(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	tok := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := et.ResetPassword(ctx, tok, "concurrent passphrase "+string(rune('a'+i)), meta)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, account.ErrTokenInvalid):
				t.Errorf("ResetPassword: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 20 concurrent resets succeeded, want 1", wins.Load())
	}
}

func TestEmailTokenRequestResetEqualWork(t *testing.T) {
	e := newEnv(t)
	et, cs := newTokens(e)
	u := e.mustRegister(t, "Ada@Example.com", goodPassword)
	off := e.mustRegister(t, "off@example.com", goodPassword)
	admin := e.mustCreate(t, "root@example.com", true)
	if err := e.svc.SetDisabled(ctx, admin, off.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		send  bool
	}{
		{"ada@example.com", true},
		{" ADA@EXAMPLE.COM ", true},
		{"nobody@example.com", false},
		{"off@example.com", false},
	} {
		cs.saves.Store(0)
		cs.commits.Store(0)
		r, err := et.RequestPasswordReset(ctx, tc.email, time.Hour, meta)
		if err != nil || r.Send != tc.send {
			t.Fatalf("RequestPasswordReset(%q) = %+v, %v", tc.email, r, err)
		}
		if cs.saves.Load() != 1 {
			t.Errorf("%q: %d store transactions, want 1 on every path", tc.email, cs.saves.Load())
		}
		if got := cs.commits.Load() == 1; got != tc.send {
			t.Errorf("%q: committed %v", tc.email, got)
		}
		if tc.send {
			// Mail goes to the stored address, not to what was typed.
			if r.User.Email != u.Email || len(r.Token) != 64 {
				t.Fatalf("%q: %+v", tc.email, r)
			}
		} else if r.Token != "" || r.User.ID != 0 {
			t.Fatalf("%q: a result for no account: %+v", tc.email, r)
		}
	}
	if _, err := et.RequestPasswordReset(ctx, "not an address", time.Hour, meta); fieldErrors(err)[account.FieldEmail] == "" {
		t.Fatalf("malformed address: %v", err)
	}
	if ev := e.lastEvent(t, account.EventPasswordResetRequest); ev.Outcome != account.OutcomeFailure {
		t.Fatalf("audit = %+v", ev)
	}
}

func TestEmailTokenVerifyBoundToAddress(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	verify := mustIssue(t, et, account.TokenVerifyEmail, u, u.Email, time.Hour)
	reset := mustIssue(t, et, account.TokenResetPassword, u, u.Email, time.Hour)
	change := mustIssue(t, et, account.TokenChangeEmail, u, "new@example.com", time.Hour)
	if _, _, err := et.ConfirmEmailChange(ctx, change, meta); err != nil {
		t.Fatal(err)
	}
	// The old links went to the old address: they are void.
	if _, err := et.VerifyEmail(ctx, verify, meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("verify link of the old address: %v", err)
	}
	if _, err := et.ResetPassword(ctx, reset, "a brand new passphrase", meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("reset link of the old address: %v", err)
	}
}

func TestEmailTokenChange(t *testing.T) {
	e := newEnv(t)
	et, _ := newTokens(e)
	a := e.mustRegister(t, "a@example.com", goodPassword)
	b := e.mustRegister(t, "b@example.com", goodPassword)

	for _, tc := range []struct {
		name, pw, email string
		fields          []string
	}{
		{"wrong password", "wrong password!", "x@example.com", []string{account.FieldPassword}},
		{"overlong password", strings.Repeat("p", 2000), "x@example.com", []string{account.FieldPassword}},
		{"bad address", goodPassword, "not an address", []string{account.FieldNewEmail}},
		{"look-alike address", goodPassword, "\u0430@example.com", []string{account.FieldNewEmail}},
		{"same address", goodPassword, "A@EXAMPLE.com", []string{account.FieldNewEmail}},
		{"both", "nope nope nope", "", []string{account.FieldPassword, account.FieldNewEmail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := et.RequestEmailChange(ctx, a.ID, tc.pw, tc.email, time.Hour, meta)
			f := fieldErrors(err)
			if len(f) != len(tc.fields) {
				t.Fatalf("errors %v, want %v", f, tc.fields)
			}
			for _, k := range tc.fields {
				if f[k] == "" {
					t.Fatalf("errors %v, want %v", f, tc.fields)
				}
			}
		})
	}

	// Two pending changes, to different addresses: each confirms its own.
	ca, err := et.RequestEmailChange(ctx, a.ID, goodPassword, " New-A@Example.com ", time.Hour, meta)
	if err != nil || ca.NewEmail != "New-A@Example.com" || ca.User.Email != "a@example.com" {
		t.Fatalf("RequestEmailChange = %+v, %v", ca, err)
	}
	cb, err := et.RequestEmailChange(ctx, b.ID, goodPassword, "new-b@example.com", time.Hour, meta)
	if err != nil {
		t.Fatal(err)
	}
	// Requesting changes nothing yet.
	if got, _ := e.svc.UserByID(ctx, a.ID); got.Email != "a@example.com" {
		t.Fatalf("address changed before confirmation: %s", got.Email)
	}
	// A change token is no verification or reset token.
	if _, err := et.VerifyEmail(ctx, cb.Token, meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("change token as verify token: %v", err)
	}
	before, after, err := et.ConfirmEmailChange(ctx, cb.Token, meta)
	if err != nil || before.ID != b.ID || before.Email != "b@example.com" || after.Email != "new-b@example.com" || !after.EmailVerified() {
		t.Fatalf("ConfirmEmailChange(B) = %+v, %+v, %v", before, after, err)
	}
	if _, after, err = et.ConfirmEmailChange(ctx, ca.Token, meta); err != nil || after.ID != a.ID || after.Email != "New-A@Example.com" {
		t.Fatalf("ConfirmEmailChange(A) = %+v, %v", after, err)
	}
	if _, _, err := et.ConfirmEmailChange(ctx, ca.Token, meta); !errors.Is(err, account.ErrTokenInvalid) {
		t.Fatalf("confirmed twice: %v", err)
	}
	if ev := e.lastEvent(t, account.EventEmailChange); ev.Detail != "token already used" {
		t.Fatalf("audit = %+v", ev)
	}

	// Two pending changes to one address: the first confirmation wins, the
	// second fails without changing its account.
	c1, err := et.RequestEmailChange(ctx, a.ID, goodPassword, "shared@example.com", time.Hour, meta)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := et.RequestEmailChange(ctx, b.ID, goodPassword, "SHARED@example.com", time.Hour, meta)
	if err != nil {
		t.Fatalf("a taken address was refused at request time: %v", err)
	}
	if _, _, err := et.ConfirmEmailChange(ctx, c2.Token, meta); err != nil {
		t.Fatal(err)
	}
	if _, _, err := et.ConfirmEmailChange(ctx, c1.Token, meta); !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("confirming a taken address: %v", err)
	}
	if got, _ := e.svc.UserByID(ctx, a.ID); got.Email != "New-A@Example.com" {
		t.Fatalf("A changed to %s", got.Email)
	}
	if got, _ := e.svc.UserByID(ctx, b.ID); got.Email != "SHARED@example.com" {
		t.Fatalf("B is %s", got.Email)
	}
}

// FuzzEmailTokenCheck feeds arbitrary text to the token check: never a
// panic, never an error other than ErrTokenInvalid, and success only for
// the token that was issued.
func FuzzEmailTokenCheck(f *testing.F) {
	d := mustOpenDB(f)
	svc := account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(), Hasher: &fakeHasher{}, Policy: password.Policy{}})
	et := account.NewEmailTokens(svc, d.EmailTokens())
	reg, err := svc.Register(ctx, account.RegisterInput{Email: "ada@example.com", Password: goodPassword}, meta)
	if err != nil {
		f.Fatal(err)
	}
	tok, err := et.Issue(ctx, account.TokenResetPassword, reg.User, reg.User.Email, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", tok, tok[:63], tok + "=", strings.ToUpper(tok), tok[:22] + strings.Repeat("A", 42), strings.Repeat("A", 64), "\xff" + tok[1:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, u, err := et.Check(ctx, account.TokenResetPassword, raw)
		if raw == tok {
			if err != nil || u.ID != reg.User.ID {
				t.Fatalf("the real token failed: %v", err)
			}
			return
		}
		if !errors.Is(err, account.ErrTokenInvalid) {
			t.Fatalf("Check(%q) = %v, want ErrTokenInvalid", raw, err)
		}
		if _, _, err := et.Check(ctx, account.TokenVerifyEmail, raw); !errors.Is(err, account.ErrTokenInvalid) {
			t.Fatalf("Check(verify, %q) = %v", raw, err)
		}
	})
}
