package account_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/totp"
)

// tfEnv is an account env with two-factor sign-in on the same database.
type tfEnv struct {
	*env
	tf *account.TwoFactor
}

func newTFEnv(t *testing.T) *tfEnv {
	t.Helper()
	e := newEnv(t)
	tf := account.NewTwoFactor(account.TwoFactorConfig{Accounts: e.svc, Store: e.db.TwoFactor(),
		Sealer: keyring.NewAEAD(keyring.Ephemeral(), "totp-secret"), Now: e.clock.Now})
	return &tfEnv{env: e, tf: tf}
}

// enrol turns TOTP on for u and returns the secret and recovery codes. The
// confirming code is the one of the current step.
func (e *tfEnv) enrol(t *testing.T, u account.User) ([]byte, []string) {
	t.Helper()
	key, err := e.tf.Begin(ctx, u.ID, goodPassword, meta)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := e.tf.Confirm(ctx, u.ID, totp.Code(key.Secret, e.clock.Now()), meta)
	if err != nil {
		t.Fatal(err)
	}
	return key.Secret, codes
}

func TestTwoFactorVerifyPassword(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "vp@example.com", goodPassword)
	for _, tc := range []struct {
		name string
		id   int64
		pw   string
		want error
	}{
		{"right", u.ID, goodPassword, nil},
		{"wrong", u.ID, "not the password", account.ErrInvalidCredentials},
		{"empty", u.ID, "", account.ErrInvalidCredentials},
		{"too long", u.ID, strings.Repeat("a", account.MaxPasswordBytes+1), account.ErrInvalidCredentials},
		{"unknown user", 999, goodPassword, account.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.VerifyPassword(ctx, tc.id, tc.pw)
			if !errors.Is(err, tc.want) || (tc.want == nil && (err != nil || got.ID != u.ID)) {
				t.Fatalf("VerifyPassword = %+v, %v; want %v", got, err, tc.want)
			}
		})
	}
	e.hasher.busy.Store(true)
	if _, err := e.svc.VerifyPassword(ctx, u.ID, goodPassword); !errors.Is(err, account.ErrBusy) {
		t.Fatalf("busy hasher: %v", err)
	}
	e.hasher.busy.Store(false)
	if err := e.svc.SetDisabledByOperator(ctx, u.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyPassword(ctx, u.ID, goodPassword); !errors.Is(err, account.ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
}

func TestTwoFactorEnrolment(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "enrol@example.com", goodPassword)
	if on, err := e.tf.Enabled(ctx, u.ID); on || err != nil {
		t.Fatalf("Enabled before = %v, %v", on, err)
	}
	if _, err := e.tf.Begin(ctx, u.ID, "wrong password", meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("Begin(wrong password) = %v", err)
	}
	if ev := e.lastEvent(t, account.EventTwoFactorSetup); ev.Outcome != account.OutcomeFailure {
		t.Fatalf("setup failure event = %+v", ev)
	}
	if _, err := e.tf.Confirm(ctx, u.ID, "123456", meta); !errors.Is(err, account.ErrTwoFactorNoSetup) {
		t.Fatalf("Confirm without setup = %v", err)
	}
	key, err := e.tf.Begin(ctx, u.ID, goodPassword, meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(key.Secret) != totp.SecretSize || key.Issuer != "Gatehouse" || key.AccountName != u.Email {
		t.Fatalf("key = %q %q %d bytes", key.Issuer, key.AccountName, len(key.Secret))
	}
	if err := key.Validate(); err != nil {
		t.Fatal(err)
	}
	// Stored sealed: neither the bytes nor the base32 text are in the row.
	rec, err := e.db.TwoFactor().TOTP(ctx, u.ID)
	if err != nil || rec.Enabled() {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	if bytes.Contains(rec.Secret, key.Secret) || bytes.Contains(rec.Secret, []byte(totp.EncodeSecret(key.Secret))) {
		t.Fatal("the secret is stored in the clear")
	}
	again, err := e.tf.PendingKey(ctx, u.ID)
	if err != nil || !bytes.Equal(again.Secret, key.Secret) {
		t.Fatalf("PendingKey = %v", err)
	}
	// A pending setup does not turn sign-in's second step on.
	if on, _ := e.tf.Enabled(ctx, u.ID); on {
		t.Fatal("enabled before the first code")
	}
	now := e.clock.Now()
	for _, bad := range []string{"", "12345", "1234567", "abcdef", totp.Code(key.Secret, now.Add(-2*totp.Period)), strings.Repeat("1", 100)} {
		if bad == totp.Code(key.Secret, now) {
			continue
		}
		if _, err := e.tf.Confirm(ctx, u.ID, bad, meta); !errors.Is(err, account.ErrTwoFactorCode) {
			t.Fatalf("Confirm(%q) = %v", bad, err)
		}
	}
	codes, err := e.tf.Confirm(ctx, u.ID, totp.Code(key.Secret, now), meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	st, err := e.tf.Status(ctx, u.ID)
	if err != nil || !st.Enabled || st.RecoveryCodesLeft != 10 || !st.EnabledAt.Equal(now) {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if _, err := e.tf.Begin(ctx, u.ID, goodPassword, meta); !errors.Is(err, account.ErrTwoFactorOn) {
		t.Fatalf("Begin while on = %v", err)
	}
	if _, err := e.tf.PendingKey(ctx, u.ID); !errors.Is(err, account.ErrTwoFactorNoSetup) {
		t.Fatalf("PendingKey while on = %v", err)
	}
	// Only hashes of the recovery codes are stored.
	stored, _ := e.db.TwoFactor().RecoveryCodes(ctx, u.ID)
	for i, c := range stored {
		if !bytes.Equal(c.Hash, totp.HashRecoveryCode(codes[i])) {
			t.Fatalf("stored code %d is not the hash of the code shown", i)
		}
	}
	if ev := e.lastEvent(t, account.EventTwoFactorEnable); ev.Outcome != account.OutcomeSuccess || ev.UserID != u.ID {
		t.Fatalf("enable event = %+v", ev)
	}
}

// A second setup replaces a pending one: the first key no longer confirms.
func TestTwoFactorSetupReplaced(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "twice@example.com", goodPassword)
	first, _ := e.tf.Begin(ctx, u.ID, goodPassword, meta)
	second, _ := e.tf.Begin(ctx, u.ID, goodPassword, meta)
	now := e.clock.Now()
	if totp.Code(first.Secret, now) != totp.Code(second.Secret, now) {
		if _, err := e.tf.Confirm(ctx, u.ID, totp.Code(first.Secret, now), meta); !errors.Is(err, account.ErrTwoFactorCode) {
			t.Fatalf("Confirm with the replaced key = %v", err)
		}
	}
	if _, err := e.tf.Confirm(ctx, u.ID, totp.Code(second.Secret, now), meta); err != nil {
		t.Fatal(err)
	}
}

func TestTwoFactorVerifyCodes(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "codes@example.com", goodPassword)
	secret, recovery := e.enrol(t, u)
	at := func(steps int) string { return totp.Code(secret, e.clock.Now().Add(time.Duration(steps)*totp.Period)) }

	tests := []struct {
		name   string
		code   string
		ok     bool
		reason string // audit detail of a refusal
	}{
		{"the code that confirmed it", at(0), false, "replayed code"},
		{"empty", "", false, "empty code"},
		{"too long", strings.Repeat("1", account.MaxCodeInputBytes+1), false, "code too long"},
		{"five digits", "12345", false, "malformed code"},
		{"letters", "abcdef", false, "malformed code"},
		{"unicode digits", "١٢٣٤٥٦", false, "malformed code"},
		{"two steps ahead", at(2), false, "wrong code or outside the time window"},
		{"next step, with spaces", at(1)[:3] + " " + at(1)[3:], true, ""},
		{"same again", at(1), false, "replayed code"},
		{"older step after a newer one", at(0), false, "replayed code"},
		{"recovery code", recovery[0], true, ""},
		{"same recovery code again", recovery[0], false, "wrong or used recovery code"},
		{"recovery code typed loosely", strings.ToUpper(strings.ReplaceAll(recovery[1], "-", " ")), true, ""},
		{"made-up recovery code", "abcd-efgh-jkmn-pqrs", false, "wrong or used recovery code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.tf.Verify(ctx, u.ID, tc.code, meta)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify(%q) = %+v, %v; want ok=%v", tc.code, res, err, tc.ok)
			}
			ev := e.lastEvent(t, account.EventTwoFactorVerify)
			if tc.ok {
				if ev.Outcome != account.OutcomeSuccess {
					t.Fatalf("event = %+v", ev)
				}
				return
			}
			if !errors.Is(err, account.ErrTwoFactorCode) {
				t.Fatalf("error %v is not ErrTwoFactorCode", err)
			}
			if ev.Outcome != account.OutcomeFailure || ev.Detail != tc.reason {
				t.Fatalf("event = %+v, want detail %q", ev, tc.reason)
			}
			if tc.code != "" && strings.Contains(ev.Detail, tc.code) {
				t.Fatal("the code reached the audit trail")
			}
		})
	}
	st, _ := e.tf.Status(ctx, u.ID)
	if st.RecoveryCodesLeft != 8 {
		t.Fatalf("%d recovery codes left, want 8", st.RecoveryCodesLeft)
	}
	// Time moves on: the code of the new current step is accepted once.
	e.clock.Advance(3 * totp.Period)
	if res, err := e.tf.Verify(ctx, u.ID, at(0), meta); err != nil || res.Method != account.TwoFactorTOTP {
		t.Fatalf("later code: %+v, %v", res, err)
	}
	other := e.mustRegister(t, "nofactor@example.com", goodPassword)
	if _, err := e.tf.Verify(ctx, other.ID, "123456", meta); !errors.Is(err, account.ErrTwoFactorOff) {
		t.Fatalf("Verify without 2FA = %v", err)
	}
}

// Many requests with one right code at once: exactly one is accepted, for a
// TOTP code and for a recovery code alike.
func TestTwoFactorConcurrentUse(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "race@example.com", goodPassword)
	secret, recovery := e.enrol(t, u)
	for _, code := range []string{totp.Code(secret, e.clock.Now().Add(totp.Period)), recovery[3]} {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.tf.Verify(ctx, u.ID, code, meta)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, account.ErrTwoFactorCode):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("one code accepted %d times", n)
		}
	}
}

// A sealed secret is bound to its user: moved to another account's row it
// does not open, and no code is accepted.
func TestTwoFactorSecretBoundToUser(t *testing.T) {
	e := newTFEnv(t)
	a := e.mustRegister(t, "a@example.com", goodPassword)
	b := e.mustRegister(t, "b@example.com", goodPassword)
	secret, _ := e.enrol(t, a)
	rec, _ := e.db.TwoFactor().TOTP(ctx, a.ID)
	if err := e.db.TwoFactor().SavePendingTOTP(ctx, b.ID, rec.Secret, start); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tf.PendingKey(ctx, b.ID); err == nil || errors.Is(err, account.ErrTwoFactorNoSetup) {
		t.Fatalf("PendingKey of a copied secret = %v, want an error", err)
	}
	if _, err := e.tf.Confirm(ctx, b.ID, totp.Code(secret, e.clock.Now().Add(totp.Period)), meta); err == nil || errors.Is(err, account.ErrTwoFactorCode) {
		t.Fatalf("Confirm with a copied secret = %v, want a sealing error", err)
	}
}

func TestTwoFactorDisableRegenerateReset(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "off@example.com", goodPassword)
	secret, recovery := e.enrol(t, u)
	next := totp.Code(secret, e.clock.Now().Add(totp.Period))

	if err := e.tf.Disable(ctx, u.ID, "wrong password", next, meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("Disable(wrong password) = %v", err)
	}
	if err := e.tf.Disable(ctx, u.ID, goodPassword, wrongCode(next), meta); !errors.Is(err, account.ErrTwoFactorCode) {
		t.Fatalf("Disable(wrong code) = %v", err)
	}
	if err := e.tf.Disable(ctx, u.ID, goodPassword, "", meta); !errors.Is(err, account.ErrTwoFactorCode) {
		t.Fatalf("Disable(no code) = %v", err)
	}
	if on, _ := e.tf.Enabled(ctx, u.ID); !on {
		t.Fatal("turned off without password and code")
	}

	// New recovery codes: the old ones stop working.
	if _, err := e.tf.RegenerateRecoveryCodes(ctx, u.ID, "wrong password", meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("Regenerate(wrong password) = %v", err)
	}
	fresh, err := e.tf.RegenerateRecoveryCodes(ctx, u.ID, goodPassword, meta)
	if err != nil || len(fresh) != 10 {
		t.Fatalf("Regenerate = %d, %v", len(fresh), err)
	}
	if _, err := e.tf.Verify(ctx, u.ID, recovery[0], meta); !errors.Is(err, account.ErrTwoFactorCode) {
		t.Fatalf("an old recovery code still works: %v", err)
	}

	// A recovery code can turn it off too (the device is lost).
	if err := e.tf.Disable(ctx, u.ID, goodPassword, fresh[0], meta); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.tf.Enabled(ctx, u.ID); on {
		t.Fatal("still on")
	}
	if ev := e.lastEvent(t, account.EventTwoFactorDisable); ev.Outcome != account.OutcomeSuccess {
		t.Fatalf("disable event = %+v", ev)
	}
	if err := e.tf.Disable(ctx, u.ID, goodPassword, next, meta); !errors.Is(err, account.ErrTwoFactorOff) {
		t.Fatalf("Disable when off = %v", err)
	}
	if _, err := e.tf.RegenerateRecoveryCodes(ctx, u.ID, goodPassword, meta); !errors.Is(err, account.ErrTwoFactorOff) {
		t.Fatalf("Regenerate when off = %v", err)
	}

	// An admin reset needs nothing from the user, and says whether it
	// changed anything.
	admin := e.mustCreate(t, "root@example.com", true)
	e.enrol(t, u)
	for _, want := range []bool{true, false} {
		wasOn, err := e.tf.Reset(ctx, u.ID, admin.ID, meta)
		if err != nil || wasOn != want {
			t.Fatalf("Reset = %v, %v; want %v", wasOn, err, want)
		}
	}
	ev := e.lastEvent(t, account.EventTwoFactorReset)
	if ev.UserID != u.ID || ev.ActorID != admin.ID || ev.Outcome != account.OutcomeSuccess {
		t.Fatalf("reset event = %+v", ev)
	}
	if _, err := e.tf.Reset(ctx, u.ID, 0, meta); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent(t, account.EventTwoFactorReset); !strings.Contains(ev.Detail, "operator") {
		t.Fatalf("operator reset event = %+v", ev)
	}
}

// swapSource is a keyring.Source whose ring a test replaces.
type swapSource struct {
	mu sync.Mutex
	r  *keyring.Ring
}

func (s *swapSource) Ring() *keyring.Ring { s.mu.Lock(); defer s.mu.Unlock(); return s.r }
func (s *swapSource) set(t *testing.T, keys ...keyring.Key) {
	t.Helper()
	r, err := keyring.NewStatic(keys...)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.r = r
	s.mu.Unlock()
}

// Secrets in use move to the current key at each accepted code, so that
// retiring an old key after a rotation does not lock out active users.
func TestTwoFactorKeyRotation(t *testing.T) {
	e := newEnv(t)
	src := &swapSource{}
	old, next := keyring.Generate(), keyring.Generate()
	next.Created = old.Created.Add(time.Hour)
	src.set(t, old)
	tf := account.NewTwoFactor(account.TwoFactorConfig{Accounts: e.svc, Store: e.db.TwoFactor(),
		Sealer: keyring.NewAEAD(src, "totp-secret"), Now: e.clock.Now})
	te := &tfEnv{env: e, tf: tf}
	active := e.mustRegister(t, "active@example.com", goodPassword)
	idle := e.mustRegister(t, "idle@example.com", goodPassword)
	secret, _ := te.enrol(t, active)
	te.enrol(t, idle)

	src.set(t, old, next) // rotate
	if _, err := tf.Verify(ctx, active.ID, totp.Code(secret, e.clock.Now().Add(totp.Period)), meta); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	old.Retired = next.Created.Add(time.Hour)
	src.set(t, old, next) // retire the old key
	e.clock.Advance(3 * totp.Period)
	if _, err := tf.Verify(ctx, active.ID, totp.Code(secret, e.clock.Now()), meta); err != nil {
		t.Fatalf("after retiring the old key: %v", err)
	}
	// A secret never used since the rotation cannot be opened: an error,
	// not an accepted (or a merely wrong) code.
	_, err := tf.Verify(ctx, idle.ID, "123456", meta)
	if err == nil || errors.Is(err, account.ErrTwoFactorCode) {
		t.Fatalf("idle user after retirement: %v", err)
	}
}

// No audit event of two-factor sign-in ever holds a code or the secret.
func TestTwoFactorAuditHoldsNoSecrets(t *testing.T) {
	e := newTFEnv(t)
	u := e.mustRegister(t, "quiet@example.com", goodPassword)
	secret, recovery := e.enrol(t, u)
	_, _ = e.tf.Verify(ctx, u.ID, recovery[2], meta)
	_, _ = e.tf.Verify(ctx, u.ID, recovery[2], meta)
	_, _ = e.tf.Verify(ctx, u.ID, totp.Code(secret, e.clock.Now().Add(totp.Period)), meta)
	evs, err := e.svc.ListAudit(ctx, account.AuditFilter{UserID: u.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		s := ev.String()
		for _, secretText := range append([]string{totp.EncodeSecret(secret), goodPassword}, recovery...) {
			if strings.Contains(s, secretText) {
				t.Fatalf("event %s holds a secret", s)
			}
		}
	}
}

// wrongCode returns a 6-digit code that differs from c.
func wrongCode(c string) string {
	last := (c[5]-'0'+1)%10 + '0'
	return c[:5] + string(rune(last))
}

// FuzzTwoFactorVerify feeds arbitrary input as a second-factor code: never a
// panic, a refusal is always ErrTwoFactorCode, and nothing is accepted but
// a code of the window or an unused recovery code.
func FuzzTwoFactorVerify(f *testing.F) {
	d := mustOpenDB(f)
	clock := &fakeClock{t: start}
	svc := account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(), Hasher: &fakeHasher{}, Policy: password.Policy{}, Now: clock.Now})
	tf := account.NewTwoFactor(account.TwoFactorConfig{Accounts: svc, Store: d.TwoFactor(),
		Sealer: keyring.NewAEAD(keyring.Ephemeral(), "totp-secret"), Now: clock.Now})
	reg, err := svc.Register(ctx, account.RegisterInput{Email: "fuzz@example.com", Password: goodPassword}, meta)
	if err != nil {
		f.Fatal(err)
	}
	key, err := tf.Begin(ctx, reg.User.ID, goodPassword, meta)
	if err != nil {
		f.Fatal(err)
	}
	recovery, err := tf.Confirm(ctx, reg.User.ID, totp.Code(key.Secret, start), meta)
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{}
	for _, c := range recovery {
		valid[c] = true
	}
	for _, seed := range []string{"", "123456", " 1 2 3 4 5 6 ", "12345", "1234567", "abcdef", "١٢٣٤٥٦",
		strings.ToUpper(recovery[0]), recovery[1] + "x", strings.Repeat("9", 65), "\x00\xff", totp.Code(key.Secret, start.Add(totp.Period))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		_, err := tf.Verify(ctx, reg.User.ID, input, meta)
		if err != nil {
			if !errors.Is(err, account.ErrTwoFactorCode) {
				t.Fatalf("Verify(%q) = %v, want ErrTwoFactorCode", input, err)
			}
			return
		}
		if c, err := totp.NormalizeCode(input); err == nil {
			for _, d := range []time.Duration{0, totp.Period} {
				if c == totp.Code(key.Secret, start.Add(d)) {
					return
				}
			}
		}
		if c, err := totp.NormalizeRecoveryCode(input); err == nil && valid[c] {
			return
		}
		t.Fatalf("Verify accepted %q", input)
	})
}
