package account_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/account/passkeytest"
	"github.com/gatehouse/gatehouse/internal/db"
)

const pkOrigin = "https://login.example.com"

type pkEnv struct {
	*env
	pk      *account.Passkeys
	mu      sync.Mutex
	notices []string
}

func newPKEnv(t testing.TB) *pkEnv {
	t.Helper()
	d := mustOpenDB(t)
	return newPKEnvOn(t, d)
}

func newPKEnvOn(t testing.TB, d *db.DB) *pkEnv {
	t.Helper()
	e := &env{db: d, hasher: &fakeHasher{}, clock: &fakeClock{t: start}}
	e.svc = account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(), Hasher: e.hasher,
		Policy: passwordPolicy{}, Now: e.clock.Now})
	pe := &pkEnv{env: e}
	base, _ := url.Parse(pkOrigin + "/auth/")
	pk, err := account.NewPasskeys(account.PasskeyConfig{Accounts: e.svc, Store: d.Passkeys(), BaseURL: base,
		Now: e.clock.Now, Notify: func(_ context.Context, u account.User, kind string) {
			pe.mu.Lock()
			defer pe.mu.Unlock()
			pe.notices = append(pe.notices, u.Email+" "+kind)
		}})
	if err != nil {
		t.Fatal(err)
	}
	pe.pk = pk
	return pe
}

// passwordPolicy accepts any password (the rules under test are not
// about passwords).
type passwordPolicy struct{}

func (passwordPolicy) Check(string, string) error { return nil }

var (
	sessA = []byte("session-binding-A")
	sessB = []byte("session-binding-B")
)

func newAuthn() *passkeytest.Authenticator { return &passkeytest.Authenticator{Origin: pkOrigin} }

// mustAddPasskey registers a new passkey of a for user u.
func (e *pkEnv) mustAddPasskey(t testing.TB, u account.User, a *passkeytest.Authenticator, name string) account.Passkey {
	t.Helper()
	opts, err := e.pk.BeginRegistration(ctx, u.ID, sessA)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := a.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.pk.FinishRegistration(ctx, u.ID, sessA, name, resp, meta)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return p
}

func (e *pkEnv) beginLogin(t testing.TB, bind []byte) []byte {
	t.Helper()
	opts, err := e.pk.BeginLogin(ctx, bind)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "ada@example.com", false)
	a := newAuthn()
	a.Synced = true
	p := e.mustAddPasskey(t, u, a, "  My\tphone  ")
	if p.ID == 0 || p.Name != "My phone" || !p.Synced() || !p.UserVerified || p.AttestationType != "none" ||
		!bytes.Equal(p.CredentialID, a.Credentials[0].ID) {
		t.Fatalf("passkey = %+v", p)
	}
	// The user handle is 64 random bytes, not the email or the row id.
	h := a.Credentials[0].UserHandle
	if len(h) != 64 || bytes.Contains(h, []byte("ada")) {
		t.Fatalf("user handle = %x", h)
	}
	if ev := e.lastEvent(t, account.EventPasskeyAdd); ev.Outcome != account.OutcomeSuccess || ev.UserID != u.ID || !strings.Contains(ev.Detail, "synced") {
		t.Fatalf("audit = %+v", ev)
	}
	e.clock.Advance(time.Minute)
	resp, err := a.Get(e.beginLogin(t, sessB))
	if err != nil {
		t.Fatal(err)
	}
	got, used, err := e.pk.FinishLogin(ctx, sessB, resp, meta)
	if err != nil || got.ID != u.ID || used.ID != p.ID || used.SignCount != 1 || !used.LastUsedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("FinishLogin = %+v, %+v, %v", got, used, err)
	}
	if ev := e.lastEvent(t, account.EventLoginSuccess); ev.UserID != u.ID || !strings.HasPrefix(ev.Detail, "passkey") {
		t.Fatalf("audit = %+v", ev)
	}
	list, err := e.pk.List(ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].SignCount != 1 || list[0].LastUsedAt.IsZero() {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// A second passkey: the first is excluded from the options, the
	// default name counts.
	opts, _ := e.pk.BeginRegistration(ctx, u.ID, sessA)
	if !bytes.Contains(opts, []byte(`"excludeCredentials"`)) || !bytes.Contains(opts, []byte(`"residentKey":"required"`)) ||
		!bytes.Contains(opts, []byte(`"userVerification":"required"`)) || !bytes.Contains(opts, []byte(`"attestation":"none"`)) ||
		!bytes.Contains(opts, []byte(`"id":"login.example.com"`)) {
		t.Fatalf("registration options = %s", opts)
	}
	resp, _, _ = newAuthn().Create(opts)
	p2, err := e.pk.FinishRegistration(ctx, u.ID, sessA, "", resp, meta)
	if err != nil || p2.Name != "Passkey 2" || p2.Synced() {
		t.Fatalf("second passkey = %+v, %v", p2, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if strings.Join(e.notices, ",") != "ada@example.com passkey_added,ada@example.com passkey_added" {
		t.Fatalf("notices = %q", e.notices)
	}
}

// Forged and replayed registration answers are refused, and audited.
func TestPasskeyRegistrationRefused(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "reg@example.com", false)
	other := e.mustCreate(t, "other@example.com", false)
	tests := []struct {
		name string
		// forge returns the user id and binding to finish with, and the
		// answer.
		forge func(t *testing.T) (int64, []byte, []byte)
	}{
		{"wrong origin", func(t *testing.T) (int64, []byte, []byte) {
			a := newAuthn()
			a.Origin = "https://login.example.com.evil.test"
			return u.ID, sessA, mustCreateResp(t, e, u, a)
		}},
		{"http origin", func(t *testing.T) (int64, []byte, []byte) {
			a := newAuthn()
			a.Origin = "http://login.example.com"
			return u.ID, sessA, mustCreateResp(t, e, u, a)
		}},
		{"wrong relying party id", func(t *testing.T) (int64, []byte, []byte) {
			a := newAuthn()
			a.RPID = "evil.test"
			return u.ID, sessA, mustCreateResp(t, e, u, a)
		}},
		{"no user verification", func(t *testing.T) (int64, []byte, []byte) {
			a := newAuthn()
			a.NoUserVerification = true
			return u.ID, sessA, mustCreateResp(t, e, u, a)
		}},
		{"another session", func(t *testing.T) (int64, []byte, []byte) {
			return u.ID, sessB, mustCreateResp(t, e, u, newAuthn())
		}},
		{"another user", func(t *testing.T) (int64, []byte, []byte) {
			return other.ID, sessA, mustCreateResp(t, e, u, newAuthn())
		}},
		{"expired", func(t *testing.T) (int64, []byte, []byte) {
			resp := mustCreateResp(t, e, u, newAuthn())
			e.clock.Advance(account.PasskeyChallengeTTL)
			return u.ID, sessA, resp
		}},
		{"sign-in challenge", func(t *testing.T) (int64, []byte, []byte) {
			opts := e.beginLogin(t, sessA)
			opts = bytes.Replace(opts, []byte(`"rpId"`), []byte(`"rp":{"id":"login.example.com"},"user":{"id":"AAAA"},"x"`), 1)
			resp, _, err := newAuthn().Create(opts)
			if err != nil {
				t.Fatal(err)
			}
			return u.ID, sessA, resp
		}},
		{"unknown challenge", func(t *testing.T) (int64, []byte, []byte) {
			resp, _, _ := newAuthn().Create([]byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","rp":{"id":"login.example.com"},"user":{"id":"AAAA"}}}`))
			return u.ID, sessA, resp
		}},
		{"malformed JSON", func(t *testing.T) (int64, []byte, []byte) { return u.ID, sessA, []byte(`{"id":`) }},
		{"empty", func(t *testing.T) (int64, []byte, []byte) { return u.ID, sessA, nil }},
		{"too long", func(t *testing.T) (int64, []byte, []byte) {
			return u.ID, sessA, bytes.Repeat([]byte(" "), account.MaxPasskeyResponseBytes+1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.events(t, account.EventPasskeyAdd))
			uid, bind, resp := tc.forge(t)
			_, err := e.pk.FinishRegistration(ctx, uid, bind, "x", resp, meta)
			if !errors.Is(err, account.ErrPasskeyRefused) {
				t.Fatalf("FinishRegistration = %v, want ErrPasskeyRefused", err)
			}
			evs := e.events(t, account.EventPasskeyAdd)
			if len(evs) != before+1 || evs[0].Outcome != account.OutcomeFailure {
				t.Fatalf("audit = %+v", evs)
			}
		})
	}
	if ps, _ := e.pk.List(ctx, u.ID); len(ps) != 0 {
		t.Fatalf("a forged answer was stored: %+v", ps)
	}
	// A replayed answer: the first use succeeds, the second is refused.
	resp := mustCreateResp(t, e, u, newAuthn())
	if _, err := e.pk.FinishRegistration(ctx, u.ID, sessA, "", resp, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pk.FinishRegistration(ctx, u.ID, sessA, "", resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("replayed registration = %v", err)
	}
}

func mustCreateResp(t *testing.T, e *pkEnv, u account.User, a *passkeytest.Authenticator) []byte {
	t.Helper()
	resp, _, err := a.Create(mustRegOpts(t, e, u))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Forged, replayed and cloned sign-in answers are refused.
func TestPasskeySignInRefused(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "in@example.com", false)
	a := newAuthn()
	e.mustAddPasskey(t, u, a, "key")
	cred := a.Credentials[0]
	tests := []struct {
		name   string
		forge  func(t *testing.T) ([]byte, []byte) // binding, answer
		reason string
	}{
		{"wrong origin", func(t *testing.T) ([]byte, []byte) {
			f := *a
			f.Origin = "https://evil.test"
			return sessA, mustGet(t, &f, e.beginLogin(t, sessA))
		}, "verification failed"},
		{"wrong relying party id", func(t *testing.T) ([]byte, []byte) {
			f := *a
			f.RPID = "example.com"
			return sessA, mustGet(t, &f, e.beginLogin(t, sessA))
		}, "verification failed"},
		{"no user verification", func(t *testing.T) ([]byte, []byte) {
			f := *a
			f.NoUserVerification = true
			return sessA, mustGet(t, &f, e.beginLogin(t, sessA))
		}, "verification failed"},
		{"another session", func(t *testing.T) ([]byte, []byte) {
			return sessB, mustGet(t, a, e.beginLogin(t, sessA))
		}, "challenge of another session"},
		{"expired", func(t *testing.T) ([]byte, []byte) {
			resp := mustGet(t, a, e.beginLogin(t, sessA))
			e.clock.Advance(account.PasskeyChallengeTTL + time.Second)
			return sessA, resp
		}, "expired challenge"},
		{"unknown credential", func(t *testing.T) ([]byte, []byte) {
			stranger := newAuthn()
			stranger.Credentials = []*passkeytest.Credential{{ID: []byte("not-registered"), UserHandle: cred.UserHandle, RPID: cred.RPID, Key: cred.Key}}
			return sessA, mustGet(t, stranger, e.beginLogin(t, sessA))
		}, "verification failed"},
		{"unknown user handle", func(t *testing.T) ([]byte, []byte) {
			f := *cred
			f.UserHandle = bytes.Repeat([]byte{7}, 64)
			resp, err := a.GetWith(e.beginLogin(t, sessA), &f)
			if err != nil {
				t.Fatal(err)
			}
			return sessA, resp
		}, "verification failed"},
		{"signature by another key", func(t *testing.T) ([]byte, []byte) {
			other := newAuthn()
			if _, _, err := other.Create(mustRegOpts(t, e, u)); err != nil {
				t.Fatal(err)
			}
			f := *cred
			f.Key = other.Credentials[0].Key
			resp, err := a.GetWith(e.beginLogin(t, sessA), &f)
			if err != nil {
				t.Fatal(err)
			}
			return sessA, resp
		}, "verification failed"},
		{"registration challenge", func(t *testing.T) ([]byte, []byte) {
			opts := mustRegOpts(t, e, u)
			return sessA, mustGet(t, a, bytes.Replace(opts, []byte(`"rp":{`), []byte(`"rpId":"login.example.com","rp":{`), 1))
		}, "challenge of another ceremony"},
		{"malformed", func(t *testing.T) ([]byte, []byte) { return sessA, []byte(`{"id":"x","response":{}}`) }, "malformed response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bind, resp := tc.forge(t)
			_, _, err := e.pk.FinishLogin(ctx, bind, resp, meta)
			if !errors.Is(err, account.ErrPasskeyRefused) {
				t.Fatalf("FinishLogin = %v, want ErrPasskeyRefused", err)
			}
			if ev := e.lastEvent(t, account.EventLoginFailure); !strings.Contains(ev.Detail, tc.reason) {
				t.Fatalf("audit detail = %q, want %q", ev.Detail, tc.reason)
			}
		})
	}
	// Replay: the same answer twice.
	resp := mustGet(t, a, e.beginLogin(t, sessA))
	if _, _, err := e.pk.FinishLogin(ctx, sessA, resp, meta); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.pk.FinishLogin(ctx, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("replayed sign-in = %v", err)
	}
	// A counter going backwards (a cloned authenticator) is refused and
	// audited as a possible clone.
	cred.Counter = 0
	resp = mustGet(t, a, e.beginLogin(t, sessA))
	if _, _, err := e.pk.FinishLogin(ctx, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyClone) || !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("cloned sign-in = %v", err)
	}
	if ev := e.lastEvent(t, account.EventPasskeyClone); ev.UserID != u.ID || ev.Outcome != account.OutcomeDenied {
		t.Fatalf("clone audit = %+v", ev)
	}
	// A disabled account cannot sign in with its passkey.
	cred.Counter = 100
	if err := e.db.Users().SetDisabled(ctx, u.ID, true, start); err != nil {
		t.Fatal(err)
	}
	resp = mustGet(t, a, e.beginLogin(t, sessA))
	if _, _, err := e.pk.FinishLogin(ctx, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("disabled sign-in = %v", err)
	}
}

// An authenticator without a counter (always 0) signs in again and again.
func TestPasskeyNoCounter(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "zero@example.com", false)
	a := newAuthn()
	e.mustAddPasskey(t, u, a, "")
	a.Credentials[0].NoCounter = true
	for i := range 3 {
		resp := mustGet(t, a, e.beginLogin(t, sessA))
		if _, p, err := e.pk.FinishLogin(ctx, sessA, resp, meta); err != nil || p.SignCount != 0 {
			t.Fatalf("sign-in #%d = %+v, %v", i, p, err)
		}
	}
}

func mustCreateTB(tb testing.TB, e *pkEnv, email string) account.User {
	tb.Helper()
	u, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: email, Password: goodPassword}, meta)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func mustRegOpts(t *testing.T, e *pkEnv, u account.User) []byte {
	t.Helper()
	opts, err := e.pk.BeginRegistration(ctx, u.ID, sessA)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func mustGet(t *testing.T, a *passkeytest.Authenticator, opts []byte) []byte {
	t.Helper()
	resp, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestPasskeySecondFactor(t *testing.T) {
	e := newPKEnv(t)
	victim := e.mustCreate(t, "victim@example.com", false)
	attacker := e.mustCreate(t, "attacker@example.com", false)
	va, aa := newAuthn(), newAuthn()
	if _, err := e.pk.BeginSecondFactor(ctx, victim.ID, sessA); !errors.Is(err, account.ErrPasskeyNone) {
		t.Fatalf("BeginSecondFactor without passkeys = %v", err)
	}
	e.mustAddPasskey(t, victim, va, "v")
	e.mustAddPasskey(t, attacker, aa, "a")
	opts, err := e.pk.BeginSecondFactor(ctx, victim.ID, sessA)
	if err != nil || !bytes.Contains(opts, []byte(`"allowCredentials"`)) {
		t.Fatalf("BeginSecondFactor = %s, %v", opts, err)
	}
	// The attacker answers the victim's challenge with their own passkey.
	resp, err := aa.GetWith(opts, aa.Credentials[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pk.FinishSecondFactor(ctx, victim.ID, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("another user's credential = %v", err)
	}
	// Nor can the attacker use the victim's challenge for themselves.
	opts, _ = e.pk.BeginSecondFactor(ctx, victim.ID, sessA)
	resp, _ = aa.GetWith(opts, aa.Credentials[0])
	if _, err := e.pk.FinishSecondFactor(ctx, attacker.ID, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("victim's challenge used by another user = %v", err)
	}
	// A discoverable sign-in answer is not a second-factor answer.
	resp = mustGet(t, va, e.beginLogin(t, sessA))
	if _, err := e.pk.FinishSecondFactor(ctx, victim.ID, sessA, resp, meta); !errors.Is(err, account.ErrPasskeyRefused) {
		t.Fatalf("sign-in answer as second factor = %v", err)
	}
	opts, _ = e.pk.BeginSecondFactor(ctx, victim.ID, sessA)
	p, err := e.pk.FinishSecondFactor(ctx, victim.ID, sessA, mustGet(t, va, opts), meta)
	if err != nil || p.UserID != victim.ID {
		t.Fatalf("FinishSecondFactor = %+v, %v", p, err)
	}
	if ev := e.lastEvent(t, account.EventTwoFactorVerify); ev.Outcome != account.OutcomeSuccess || !strings.HasPrefix(ev.Detail, "passkey") {
		t.Fatalf("audit = %+v", ev)
	}
}

func TestPasskeyManage(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "m@example.com", false)
	v := e.mustCreate(t, "v@example.com", false)
	p := e.mustAddPasskey(t, u, newAuthn(), "old")
	long := strings.Repeat("é", 100)
	tests := []struct {
		name     string
		uid, id  int64
		in, want string
		err      error
	}{
		{"rename", u.ID, p.ID, "  new\nname ", "new name", nil},
		{"control characters", u.ID, p.ID, "a\x00b\u202e", `a\x00b\u202e`, nil},
		{"empty keeps", u.ID, p.ID, "   ", `a\x00b\u202e`, nil},
		{"bounded", u.ID, p.ID, long, strings.Repeat("é", account.MaxPasskeyName), nil},
		{"other user's", v.ID, p.ID, "x", "", account.ErrNotFound},
		{"unknown", u.ID, 9999, "x", "", account.ErrNotFound},
	}
	for _, tc := range tests {
		err := e.pk.Rename(ctx, tc.uid, tc.id, tc.in, meta)
		if !errors.Is(err, tc.err) {
			t.Fatalf("%s: Rename = %v, want %v", tc.name, err, tc.err)
		}
		if tc.err == nil {
			ps, _ := e.pk.List(ctx, u.ID)
			if ps[0].Name != tc.want {
				t.Fatalf("%s: name = %q, want %q", tc.name, ps[0].Name, tc.want)
			}
		}
	}
	if err := e.pk.Remove(ctx, v.ID, p.ID, meta); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Remove(other user's) = %v", err)
	}
	if err := e.pk.Remove(ctx, u.ID, p.ID, meta); err != nil {
		t.Fatal(err)
	}
	if has, err := e.pk.Has(ctx, u.ID); has || err != nil {
		t.Fatalf("Has after remove = %v, %v", has, err)
	}
	if ev := e.lastEvent(t, account.EventPasskeyRemove); ev.UserID != u.ID {
		t.Fatalf("audit = %+v", ev)
	}
	e.mu.Lock()
	last := e.notices[len(e.notices)-1]
	e.mu.Unlock()
	if last != "m@example.com passkey_removed" {
		t.Fatalf("notice = %q", last)
	}
}

// An admin's reset of the second factor removes the passkeys too.
func TestPasskeyResetByAdmin(t *testing.T) {
	e := newPKEnv(t)
	u := e.mustCreate(t, "r@example.com", false)
	e.mustAddPasskey(t, u, newAuthn(), "")
	e.mustAddPasskey(t, u, newAuthn(), "")
	tf := account.NewTwoFactor(account.TwoFactorConfig{Accounts: e.svc, Store: e.db.TwoFactor(), Sealer: nopSealer{},
		Passkeys: e.db.Passkeys(), Now: e.clock.Now})
	wasOn, err := tf.Reset(ctx, u.ID, 0, meta)
	if err != nil || !wasOn {
		t.Fatalf("Reset = %v, %v", wasOn, err)
	}
	if has, _ := e.pk.Has(ctx, u.ID); has {
		t.Fatal("passkeys survived the reset")
	}
	if ev := e.lastEvent(t, account.EventTwoFactorReset); !strings.Contains(ev.Detail, "2 passkeys removed") {
		t.Fatalf("audit = %+v", ev)
	}
}

type nopSealer struct{}

func (nopSealer) Seal(p, _ []byte) ([]byte, error) { return p, nil }
func (nopSealer) Open(p, _ []byte) ([]byte, error) { return p, nil }

func TestPasskeyCredentialKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"AbC-_9"}`, "AbC-_9"},
		{`{"id":"AbC="}`, "AbC="},
		{`{"id":"not base64!"}`, ""},
		{`{"id":""}`, ""},
		{`{}`, ""},
		{`[`, ""},
		{`{"id":"` + strings.Repeat("A", 1401) + `"}`, ""},
	}
	for _, tc := range tests {
		if got := account.PasskeyCredentialKey([]byte(tc.in)); got != tc.want {
			t.Errorf("PasskeyCredentialKey(%.30s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewPasskeysBaseURL(t *testing.T) {
	e := newPKEnv(t)
	for _, tc := range []struct {
		url  string
		rpID string
		ok   bool
	}{
		{"https://auth.example.com", "auth.example.com", true},
		{"http://localhost:8080/", "localhost", true},
		{"https://192.0.2.1/", "", false},
	} {
		u, _ := url.Parse(tc.url)
		pk, err := account.NewPasskeys(account.PasskeyConfig{Accounts: e.svc, Store: e.db.Passkeys(), BaseURL: u})
		if (err == nil) != tc.ok || (err == nil && pk.RPID() != tc.rpID) {
			t.Errorf("NewPasskeys(%s) = %v, %v", tc.url, pk, err)
		}
	}
}

// Whatever a client posts, the finish steps refuse it cleanly: no panic,
// no other error than ErrPasskeyRefused.
func FuzzPasskeyFinishLogin(f *testing.F) {
	e := newPKEnv(f)
	u := mustCreateTB(f, e, "fuzz@example.com")
	a := newAuthn()
	e.mustAddPasskey(f, u, a, "")
	opts, _ := e.pk.BeginLogin(ctx, sessA)
	resp, _ := a.Get(opts)
	f.Add(resp)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":""}}`))
	f.Add([]byte(`{"response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFBQSJ9"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, err := e.pk.FinishLogin(ctx, sessA, body, meta)
		if err != nil && !errors.Is(err, account.ErrPasskeyRefused) {
			t.Fatalf("FinishLogin = %v", err)
		}
		_, err = e.pk.FinishSecondFactor(ctx, u.ID, sessA, body, meta)
		if err != nil && !errors.Is(err, account.ErrPasskeyRefused) {
			t.Fatalf("FinishSecondFactor = %v", err)
		}
	})
}

// fuzzRegistration returns an environment with a user and a valid
// registration answer for the fuzz targets' corpus.
func fuzzRegistration(f *testing.F) (*pkEnv, account.User, []byte) {
	e := newPKEnv(f)
	u := mustCreateTB(f, e, "fuzz-reg@example.com")
	opts, err := e.pk.BeginRegistration(ctx, u.ID, sessA)
	if err != nil {
		f.Fatal(err)
	}
	resp, _, err := newAuthn().Create(opts)
	if err != nil {
		f.Fatal(err)
	}
	return e, u, resp
}

// The same for registration answers (client data JSON and attestation
// object, CBOR).
func FuzzPasskeyFinishRegistration(f *testing.F) {
	e, u, resp := fuzzRegistration(f)
	f.Add(resp)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := e.pk.FinishRegistration(ctx, u.ID, sessA, "fuzz", body, meta)
		if err != nil && !errors.Is(err, account.ErrPasskeyRefused) && !errors.Is(err, account.ErrPasskeyLimit) {
			t.Fatalf("FinishRegistration = %v", err)
		}
	})
}

// Malformed client data JSON and attestation objects (CBOR) inside an
// otherwise well-formed registration answer are refused cleanly.
func FuzzPasskeyClientDataAndAttestation(f *testing.F) {
	e, u, resp := fuzzRegistration(f)
	var v struct {
		Response struct{ ClientDataJSON, AttestationObject string }
	}
	if err := json.Unmarshal(resp, &v); err != nil {
		f.Fatal(err)
	}
	cdj, _ := base64.RawURLEncoding.DecodeString(v.Response.ClientDataJSON)
	att, _ := base64.RawURLEncoding.DecodeString(v.Response.AttestationObject)
	f.Add(cdj, att)
	f.Add([]byte(`{"type":"webauthn.create","challenge":"","origin":"https://login.example.com"}`), []byte{0xa0})
	f.Add([]byte(`null`), []byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, cdj, att []byte) {
		body, _ := json.Marshal(map[string]any{"id": "AAAA", "rawId": "AAAA", "type": "public-key",
			"response": map[string]string{"clientDataJSON": base64.RawURLEncoding.EncodeToString(cdj),
				"attestationObject": base64.RawURLEncoding.EncodeToString(att)}})
		_, err := e.pk.FinishRegistration(ctx, u.ID, sessA, "", body, meta)
		if err != nil && !errors.Is(err, account.ErrPasskeyRefused) && !errors.Is(err, account.ErrPasskeyLimit) {
			t.Fatalf("FinishRegistration = %v", err)
		}
	})
}
