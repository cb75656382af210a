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

// The two-factor repository, run unchanged against both engines.
func TestTwoFactorRepositorySQLite(t *testing.T)   { runTwoFactorSuite(t, openSQLite) }
func TestTwoFactorRepositoryPostgres(t *testing.T) { runTwoFactorSuite(t, openPostgres) }

func runTwoFactorSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"PendingEnable", testTwoFactorPendingEnable},
		{"StepCompareAndSet", testTwoFactorStep},
		{"RecoveryCodes", testTwoFactorRecoveryCodes},
		{"Delete", testTwoFactorDelete},
		{"ConcurrentStep", testTwoFactorConcurrentStep},
		{"ConcurrentRecoveryCode", testTwoFactorConcurrentRecovery},
		{"CascadeAndForeignKeys", testTwoFactorForeignKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func tfUser(t *testing.T, d *db.DB, email string) account.User {
	t.Helper()
	u, err := d.Users().CreateUser(ctx, newUser(email, t0))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func tfHashes(prefix string, n int) [][]byte {
	hs := make([][]byte, n)
	for i := range hs {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		hs[i] = h[:]
	}
	return hs
}

func testTwoFactorPendingEnable(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfUser(t, d, "tf@example.com")
	if _, err := r.TOTP(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("TOTP before setup = %v, want ErrNotFound", err)
	}
	if err := r.SavePendingTOTP(ctx, u.ID, []byte("sealed-1"), t0); err != nil {
		t.Fatal(err)
	}
	// A second setup replaces the first while it is pending.
	if err := r.SavePendingTOTP(ctx, u.ID, []byte("sealed-2"), t0.Add(1)); err != nil {
		t.Fatal(err)
	}
	rec, err := r.TOTP(ctx, u.ID)
	if err != nil || rec.Enabled() || !bytes.Equal(rec.Secret, []byte("sealed-2")) || rec.LastStep != 0 || rec.UserID != u.ID {
		t.Fatalf("pending record = %+v, %v", rec, err)
	}
	// Confirming the replaced secret fails; the current one succeeds once.
	if err := r.EnableTOTP(ctx, u.ID, []byte("sealed-1"), 10, tfHashes("a", 10), t0); !errors.Is(err, account.ErrTwoFactorNoSetup) {
		t.Fatalf("EnableTOTP(old secret) = %v", err)
	}
	if err := r.EnableTOTP(ctx, u.ID, []byte("sealed-2"), 10, tfHashes("a", 10), t0); err != nil {
		t.Fatal(err)
	}
	if err := r.EnableTOTP(ctx, u.ID, []byte("sealed-2"), 11, tfHashes("b", 10), t0); !errors.Is(err, account.ErrTwoFactorNoSetup) {
		t.Fatalf("EnableTOTP twice = %v", err)
	}
	rec, err = r.TOTP(ctx, u.ID)
	if err != nil || !rec.Enabled() || rec.LastStep != 10 || !rec.EnabledAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("enabled record = %+v, %v", rec, err)
	}
	// An enabled secret is never replaced by a new setup.
	if err := r.SavePendingTOTP(ctx, u.ID, []byte("sealed-3"), t0); !errors.Is(err, account.ErrTwoFactorOn) {
		t.Fatalf("SavePendingTOTP while on = %v", err)
	}
	codes, err := r.RecoveryCodes(ctx, u.ID)
	if err != nil || len(codes) != 10 {
		t.Fatalf("RecoveryCodes = %d, %v", len(codes), err)
	}
}

func tfEnabledUser(t *testing.T, d *db.DB, email string, step int64) account.User {
	t.Helper()
	u := tfUser(t, d, email)
	r := d.TwoFactor()
	if err := r.SavePendingTOTP(ctx, u.ID, []byte("s"), t0); err != nil {
		t.Fatal(err)
	}
	if err := r.EnableTOTP(ctx, u.ID, []byte("s"), step, tfHashes(email, 10), t0); err != nil {
		t.Fatal(err)
	}
	return u
}

func testTwoFactorStep(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfEnabledUser(t, d, "step@example.com", 100)
	pending := tfUser(t, d, "pending@example.com")
	if err := r.SavePendingTOTP(ctx, pending.ID, []byte("s"), t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user int64
		step int64
		want bool
	}{
		{u.ID, 100, false}, // the step that confirmed it
		{u.ID, 99, false},  // older
		{u.ID, 101, true},
		{u.ID, 101, false}, // replayed
		{u.ID, 103, true},
		{u.ID, 102, false}, // older than the newest used
		{pending.ID, 5, false},
		{999999, 5, false},
	} {
		got, err := r.UseTOTPStep(ctx, tc.user, tc.step, []byte("s"), []byte("s"), t0)
		if err != nil || got != tc.want {
			t.Errorf("UseTOTPStep(user %d, %d) = %v, %v; want %v", tc.user, tc.step, got, err, tc.want)
		}
	}
	if rec, _ := r.TOTP(ctx, u.ID); rec.LastStep != 103 {
		t.Errorf("LastStep = %d, want 103", rec.LastStep)
	}
	// The secret is stored resealed; a stale sealed value changes nothing.
	if ok, err := r.UseTOTPStep(ctx, u.ID, 104, []byte("s"), []byte("s2"), t0); !ok || err != nil {
		t.Fatalf("UseTOTPStep with reseal = %v, %v", ok, err)
	}
	if ok, err := r.UseTOTPStep(ctx, u.ID, 105, []byte("s"), []byte("s3"), t0); ok || err != nil {
		t.Fatalf("UseTOTPStep with a replaced secret = %v, %v", ok, err)
	}
	if rec, _ := r.TOTP(ctx, u.ID); string(rec.Secret) != "s2" || rec.LastStep != 104 {
		t.Errorf("after reseal: secret %q, step %d", rec.Secret, rec.LastStep)
	}
}

func testTwoFactorRecoveryCodes(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfEnabledUser(t, d, "rc@example.com", 1)
	other := tfEnabledUser(t, d, "rc2@example.com", 1)
	codes, _ := r.RecoveryCodes(ctx, u.ID)
	if len(codes) != 10 || !bytes.Equal(codes[0].Hash, tfHashes("rc@example.com", 1)[0]) {
		t.Fatalf("codes = %+v", codes)
	}
	if ok, err := r.UseRecoveryCode(ctx, other.ID, codes[0].ID, t0); ok || err != nil {
		t.Fatalf("another user's code: %v, %v", ok, err)
	}
	if ok, err := r.UseRecoveryCode(ctx, u.ID, codes[0].ID, t0); !ok || err != nil {
		t.Fatalf("first use: %v, %v", ok, err)
	}
	if ok, err := r.UseRecoveryCode(ctx, u.ID, codes[0].ID, t0); ok || err != nil {
		t.Fatalf("second use: %v, %v", ok, err)
	}
	if left, _ := r.RecoveryCodes(ctx, u.ID); len(left) != 9 {
		t.Fatalf("left = %d, want 9", len(left))
	}
	if err := r.ReplaceRecoveryCodes(ctx, u.ID, tfHashes("new", 10), t0); err != nil {
		t.Fatal(err)
	}
	left, _ := r.RecoveryCodes(ctx, u.ID)
	if len(left) != 10 || !bytes.Equal(left[0].Hash, tfHashes("new", 1)[0]) {
		t.Fatalf("after replace: %d codes", len(left))
	}
	if n, _ := r.RecoveryCodes(ctx, other.ID); len(n) != 10 {
		t.Fatalf("other user's codes changed: %d", len(n))
	}
	off := tfUser(t, d, "off@example.com")
	if err := r.ReplaceRecoveryCodes(ctx, off.ID, tfHashes("x", 10), t0); !errors.Is(err, account.ErrTwoFactorOff) {
		t.Fatalf("ReplaceRecoveryCodes without 2FA = %v", err)
	}
	if n, _ := r.RecoveryCodes(ctx, off.ID); len(n) != 0 {
		t.Fatalf("codes stored for a user without 2FA: %d", len(n))
	}
}

func testTwoFactorDelete(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfEnabledUser(t, d, "del@example.com", 1)
	pending := tfUser(t, d, "delp@example.com")
	_ = r.SavePendingTOTP(ctx, pending.ID, []byte("s"), t0)
	for _, tc := range []struct {
		user int64
		want bool
	}{{u.ID, true}, {u.ID, false}, {pending.ID, false}, {999999, false}} {
		got, err := r.DeleteTwoFactor(ctx, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("DeleteTwoFactor(%d) = %v, %v; want %v", tc.user, got, err, tc.want)
		}
	}
	if _, err := r.TOTP(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("TOTP after delete = %v", err)
	}
	if codes, _ := r.RecoveryCodes(ctx, u.ID); len(codes) != 0 {
		t.Fatalf("%d recovery codes left after delete", len(codes))
	}
	// Enrolling again works after a delete.
	if err := r.SavePendingTOTP(ctx, u.ID, []byte("again"), t0); err != nil {
		t.Fatal(err)
	}
}

// tfWins runs try from 8 goroutines at once and counts the successes.
func tfWins(t *testing.T, try func() (bool, error)) int32 {
	var n atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := try()
			if err != nil {
				t.Error(err)
			}
			if ok {
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load()
}

// Two requests accepting codes of one step at once: exactly one wins.
func testTwoFactorConcurrentStep(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfEnabledUser(t, d, "race@example.com", 1)
	for step := int64(2); step < 12; step++ {
		n := tfWins(t, func() (bool, error) { return r.UseTOTPStep(ctx, u.ID, step, []byte("s"), []byte("s"), t0) })
		if n != 1 {
			t.Fatalf("step %d accepted %d times", step, n)
		}
	}
}

func testTwoFactorConcurrentRecovery(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	u := tfEnabledUser(t, d, "racerc@example.com", 1)
	codes, _ := r.RecoveryCodes(ctx, u.ID)
	for _, c := range codes[:3] {
		if n := tfWins(t, func() (bool, error) { return r.UseRecoveryCode(ctx, u.ID, c.ID, t0) }); n != 1 {
			t.Fatalf("recovery code %d used %d times", c.ID, n)
		}
	}
}

func testTwoFactorForeignKeys(t *testing.T, d *db.DB) {
	r := d.TwoFactor()
	if err := r.SavePendingTOTP(ctx, 424242, []byte("s"), t0); err == nil {
		t.Fatal("a secret was stored for a user that does not exist")
	}
	u := tfEnabledUser(t, d, "fk@example.com", 1)
	// Deleting the user (not something the app does today) takes the
	// second factor with it.
	del := `DELETE FROM users WHERE id = ?`
	if d.Dialect() == db.Postgres {
		del = `DELETE FROM users WHERE id = $1`
	}
	if _, err := d.Writer().ExecContext(ctx, del, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.TOTP(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("TOTP of a deleted user = %v", err)
	}
	if codes, _ := r.RecoveryCodes(ctx, u.ID); len(codes) != 0 {
		t.Fatal("recovery codes outlived their user")
	}
}
