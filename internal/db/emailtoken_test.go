package db_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

func TestEmailTokenStoreSQLite(t *testing.T)   { runEmailStoreSuite(t, openSQLite) }
func TestEmailTokenStorePostgres(t *testing.T) { runEmailStoreSuite(t, openPostgres) }

func runEmailStoreSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"SaveAndLookup", testTokenSaveAndLookup},
		{"OneLivePerPurpose", testTokenOneLive},
		{"DecoyLeavesNothing", testTokenDecoy},
		{"UseOnceAndExpiry", testTokenUseOnce},
		{"ConcurrentUse", testTokenConcurrentUse},
		{"ChangeEmail", testTokenChangeEmail},
		{"DeleteAndPurge", testTokenDeleteAndPurge},
		{"Devices", testDevices},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var tokenSeq atomic.Int64

// newToken returns a stored-form token for u (no real verifier is needed
// at this level: the store never sees one).
func newToken(u account.User, purpose account.TokenPurpose, email string, created time.Time, ttl time.Duration) account.EmailToken {
	n := tokenSeq.Add(1)
	h := sha256.Sum256([]byte(fmt.Sprint("verifier", n)))
	return account.EmailToken{
		Selector: fmt.Sprintf("selector%014d", n), Purpose: purpose, UserID: u.ID, Email: email, EmailKey: account.EmailKey(email),
		Hash: h[:], CreatedAt: created, ExpiresAt: created.Add(ttl),
	}
}

func mustSave(t *testing.T, d *db.DB, tok account.EmailToken) {
	t.Helper()
	if err := d.EmailTokens().SaveToken(ctx, tok, true); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
}

func testTokenSaveAndLookup(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	tok := newToken(u, account.TokenResetPassword, u.Email, t0, 30*time.Minute)
	mustSave(t, d, tok)
	got, err := d.EmailTokens().TokenBySelector(ctx, tok.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if got.Selector != tok.Selector || got.Purpose != account.TokenResetPassword || got.UserID != u.ID ||
		got.Email != u.Email || got.EmailKey != "ada@example.com" || !bytes.Equal(got.Hash, tok.Hash) ||
		!got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) || !got.ExpiresAt.Equal(t0.Add(30*time.Minute).Truncate(time.Microsecond)) ||
		!got.UsedAt.IsZero() {
		t.Fatalf("TokenBySelector = %+v", got)
	}
	if _, err := d.EmailTokens().TokenBySelector(ctx, "nope"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("unknown selector: %v", err)
	}
	// A token for no account is refused (the foreign key, checked at commit).
	if err := d.EmailTokens().SaveToken(ctx, newToken(account.User{ID: 999}, account.TokenVerifyEmail, "x@example.com", t0, time.Hour), true); err == nil {
		t.Fatal("SaveToken for an unknown user succeeded")
	}
}

func testTokenOneLive(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	old := newToken(u, account.TokenResetPassword, u.Email, t0, time.Hour)
	verify := newToken(u, account.TokenVerifyEmail, u.Email, t0, time.Hour)
	mustSave(t, d, old)
	mustSave(t, d, verify)
	newer := newToken(u, account.TokenResetPassword, u.Email, t0.Add(time.Minute), time.Hour)
	mustSave(t, d, newer)
	if _, err := d.EmailTokens().TokenBySelector(ctx, old.Selector); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("older reset token still there: %v", err)
	}
	for _, s := range []string{newer.Selector, verify.Selector} {
		if _, err := d.EmailTokens().TokenBySelector(ctx, s); err != nil {
			t.Fatalf("token %s gone: %v", s, err)
		}
	}
	// Concurrent issues for one user and purpose leave exactly one.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := d.EmailTokens().SaveToken(ctx, newToken(u, account.TokenResetPassword, u.Email, t0.Add(time.Duration(i)*time.Second), time.Hour), true); err != nil {
				t.Errorf("concurrent SaveToken: %v", err)
			}
		})
	}
	wg.Wait()
	var n int
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM email_tokens WHERE user_id = "+fmt.Sprint(u.ID)+" AND purpose = 'reset'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reset tokens after concurrent issues = %d, %v; want 1", n, err)
	}
}

func testTokenDecoy(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	real := newToken(u, account.TokenResetPassword, u.Email, t0, time.Hour)
	mustSave(t, d, real)
	for _, uid := range []int64{0, u.ID} {
		decoy := newToken(account.User{ID: uid}, account.TokenResetPassword, "decoy@invalid", t0, time.Hour)
		if err := d.EmailTokens().SaveToken(ctx, decoy, false); err != nil {
			t.Fatalf("decoy for user %d: %v", uid, err)
		}
		if _, err := d.EmailTokens().TokenBySelector(ctx, decoy.Selector); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("decoy stored: %v", err)
		}
	}
	// Rolled back, so the real token was not deleted either.
	if _, err := d.EmailTokens().TokenBySelector(ctx, real.Selector); err != nil {
		t.Fatalf("decoy removed the real token: %v", err)
	}
}

func testTokenUseOnce(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	tok := newToken(u, account.TokenVerifyEmail, u.Email, t0, time.Hour)
	mustSave(t, d, tok)
	s := d.EmailTokens()
	// At the expiry instant the token is dead.
	if ok, err := s.UseToken(ctx, tok.Selector, t0.Add(time.Hour)); ok || err != nil {
		t.Fatalf("UseToken at expiry = %v, %v", ok, err)
	}
	if ok, err := s.UseToken(ctx, tok.Selector, t0.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("UseToken = %v, %v", ok, err)
	}
	if ok, err := s.UseToken(ctx, tok.Selector, t0.Add(2*time.Minute)); ok || err != nil {
		t.Fatalf("UseToken again = %v, %v", ok, err)
	}
	got, _ := s.TokenBySelector(ctx, tok.Selector)
	if !got.UsedAt.Equal(t0.Add(time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("UsedAt = %v", got.UsedAt)
	}
	if ok, err := s.UseToken(ctx, "unknown", t0); ok || err != nil {
		t.Fatalf("UseToken(unknown) = %v, %v", ok, err)
	}
	// A new token of the purpose may be issued after one was used.
	mustSave(t, d, newToken(u, account.TokenVerifyEmail, u.Email, t0.Add(3*time.Minute), time.Hour))
}

func testTokenConcurrentUse(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	tok := newToken(u, account.TokenResetPassword, u.Email, t0, time.Hour)
	mustSave(t, d, tok)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, err := d.EmailTokens().UseToken(ctx, tok.Selector, t0.Add(time.Second))
			if err != nil {
				t.Errorf("UseToken: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 20 concurrent uses won, want 1", wins.Load())
	}
}

func testTokenChangeEmail(t *testing.T, d *db.DB) {
	a := mustCreate(t, d, "a@example.com")
	b := mustCreate(t, d, "b@example.com")
	s := d.EmailTokens()
	now := t0.Add(time.Minute)

	// B's address is taken: nothing changes and the token stays usable.
	toB := newToken(a, account.TokenChangeEmail, "B@example.com", t0, time.Hour)
	mustSave(t, d, toB)
	if ok, err := s.ChangeEmail(ctx, toB.Selector, a.ID, toB.Email, toB.EmailKey, now); ok || !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("ChangeEmail to a taken address = %v, %v", ok, err)
	}
	if got, _ := s.TokenBySelector(ctx, toB.Selector); !got.UsedAt.IsZero() {
		t.Fatal("the token was used by a failed change")
	}
	if got := mustUser(t, d, a.ID); got.Email != "a@example.com" {
		t.Fatalf("A's address changed to %s", got.Email)
	}

	tok := newToken(a, account.TokenChangeEmail, "New@Example.com", t0, time.Hour)
	mustSave(t, d, tok)
	// The token of A never changes B.
	if ok, err := s.ChangeEmail(ctx, tok.Selector, b.ID, tok.Email, tok.EmailKey, now); ok || err != nil {
		t.Fatalf("ChangeEmail for another user = %v, %v", ok, err)
	}
	if ok, err := s.ChangeEmail(ctx, tok.Selector, a.ID, tok.Email, tok.EmailKey, now); !ok || err != nil {
		t.Fatalf("ChangeEmail = %v, %v", ok, err)
	}
	got := mustUser(t, d, a.ID)
	if got.Email != "New@Example.com" || !got.EmailVerifiedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("after change: %+v", got)
	}
	if c, err := d.Users().CredentialsByEmailKey(ctx, "new@example.com"); err != nil || c.User.ID != a.ID {
		t.Fatalf("lookup by new key: %+v, %v", c.User, err)
	}
	if _, err := d.Users().CredentialsByEmailKey(ctx, "a@example.com"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("old key still finds the account: %v", err)
	}
	// Used once.
	if ok, err := s.ChangeEmail(ctx, tok.Selector, a.ID, tok.Email, tok.EmailKey, now); ok || err != nil {
		t.Fatalf("ChangeEmail again = %v, %v", ok, err)
	}
	// Expired.
	late := newToken(b, account.TokenChangeEmail, "late@example.com", t0, time.Minute)
	mustSave(t, d, late)
	if ok, err := s.ChangeEmail(ctx, late.Selector, b.ID, late.Email, late.EmailKey, t0.Add(time.Minute)); ok || err != nil {
		t.Fatalf("ChangeEmail with an expired token = %v, %v", ok, err)
	}
	// A token of another purpose is not a change token.
	v := newToken(b, account.TokenVerifyEmail, "other@example.com", t0, time.Hour)
	mustSave(t, d, v)
	if ok, err := s.ChangeEmail(ctx, v.Selector, b.ID, v.Email, v.EmailKey, now); ok || err != nil {
		t.Fatalf("ChangeEmail with a verify token = %v, %v", ok, err)
	}
}

func testTokenDeleteAndPurge(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	reset := newToken(u, account.TokenResetPassword, u.Email, t0, time.Hour)
	verify := newToken(u, account.TokenVerifyEmail, u.Email, t0, 10*time.Minute)
	mustSave(t, d, reset)
	mustSave(t, d, verify)
	s := d.EmailTokens()
	if err := s.DeleteTokens(ctx, u.ID, account.TokenResetPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenBySelector(ctx, reset.Selector); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("reset token not deleted: %v", err)
	}
	if n, err := s.PurgeTokens(ctx, t0.Add(10*time.Minute)); n != 0 || err != nil {
		t.Fatalf("Purge before expiry = %d, %v", n, err)
	}
	if n, err := s.PurgeTokens(ctx, t0.Add(11*time.Minute)); n != 1 || err != nil {
		t.Fatalf("Purge after expiry = %d, %v", n, err)
	}
}

func testDevices(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ada@example.com")
	other := mustCreate(t, d, "bob@example.com")
	s := d.Devices()
	if got, err := s.KnownDevices(ctx, u.ID, 10); err != nil || len(got) != 0 {
		t.Fatalf("KnownDevices(new user) = %v, %v", got, err)
	}
	for i := range 5 {
		if err := s.AddDevice(ctx, u.ID, []byte{byte(i)}, t0.Add(time.Duration(i)*time.Minute), 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDevice(ctx, other.ID, []byte{9}, t0, 3); err != nil {
		t.Fatal(err)
	}
	got, err := s.KnownDevices(ctx, u.ID, 10)
	if err != nil || len(got) != 3 || got[0].MAC[0] != 4 || got[2].MAC[0] != 2 {
		t.Fatalf("KnownDevices after pruning to 3 = %+v, %v", got, err)
	}
	if err := s.TouchDevice(ctx, got[2].ID, []byte{42}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.KnownDevices(ctx, u.ID, 10)
	if got[0].MAC[0] != 42 || !got[0].LastSeen.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("after touch: %+v", got)
	}
	if got, _ := s.KnownDevices(ctx, other.ID, 10); len(got) != 1 {
		t.Fatalf("another user's devices were pruned: %+v", got)
	}
}
