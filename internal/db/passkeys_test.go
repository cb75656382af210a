package db_test

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

// The passkey repository, run unchanged against both engines.
func TestPasskeyRepositorySQLite(t *testing.T)   { runPasskeySuite(t, openSQLite) }
func TestPasskeyRepositoryPostgres(t *testing.T) { runPasskeySuite(t, openPostgres) }

func runPasskeySuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"Handles", testPasskeyHandles},
		{"AddListRenameDelete", testPasskeyCRUD},
		{"UniqueAcrossUsers", testPasskeyUnique},
		{"Limit", testPasskeyLimit},
		{"CounterCompareAndSet", testPasskeyCounter},
		{"ConcurrentUse", testPasskeyConcurrentUse},
		{"Challenges", testPasskeyChallenges},
		{"ConcurrentTake", testPasskeyConcurrentTake},
		{"CascadeOnUserDelete", testPasskeyCascade},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func pkHandle(b byte) []byte { return bytes.Repeat([]byte{b}, account.PasskeyHandleBytes) }

// mustPasskeyUser creates a user with a handle made of b.
func mustPasskeyUser(t *testing.T, d *db.DB, email string, b byte) account.User {
	t.Helper()
	u := mustCreate(t, d, email)
	if _, err := d.Passkeys().EnsureUserHandle(ctx, u.ID, pkHandle(b), t0); err != nil {
		t.Fatal(err)
	}
	return u
}

func newPasskey(userID int64, credID string) account.Passkey {
	return account.Passkey{UserID: userID, CredentialID: []byte(credID), PublicKey: []byte("cose-" + credID),
		AttestationType: "none", AAGUID: make([]byte, 16), SignCount: 0, UserVerified: true,
		BackupEligible: true, BackupState: true, Transports: []string{"internal", "hybrid"}, Name: "Laptop", CreatedAt: t0}
}

func mustAddPasskey(t *testing.T, d *db.DB, p account.Passkey) account.Passkey {
	t.Helper()
	p, err := d.Passkeys().AddPasskey(ctx, p, account.MaxPasskeysPerUser)
	if err != nil {
		t.Fatalf("AddPasskey: %v", err)
	}
	return p
}

func testPasskeyHandles(t *testing.T, d *db.DB) {
	r := d.Passkeys()
	u := mustCreate(t, d, "h@example.com")
	if _, err := r.UserHandle(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("UserHandle before = %v", err)
	}
	got, err := r.EnsureUserHandle(ctx, u.ID, pkHandle(1), t0)
	if err != nil || !bytes.Equal(got, pkHandle(1)) {
		t.Fatalf("EnsureUserHandle = %x, %v", got, err)
	}
	// A second call keeps the first handle.
	if got, err := r.EnsureUserHandle(ctx, u.ID, pkHandle(2), t0); err != nil || !bytes.Equal(got, pkHandle(1)) {
		t.Fatalf("EnsureUserHandle again = %x, %v", got, err)
	}
	if id, err := r.UserIDByHandle(ctx, pkHandle(1)); err != nil || id != u.ID {
		t.Fatalf("UserIDByHandle = %d, %v", id, err)
	}
	if _, err := r.UserIDByHandle(ctx, pkHandle(2)); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("UserIDByHandle(unknown) = %v", err)
	}
	// Handles are unique and exactly 64 bytes.
	v := mustCreate(t, d, "v@example.com")
	if _, err := r.EnsureUserHandle(ctx, v.ID, pkHandle(1), t0); err == nil {
		t.Fatal("a second user got the same handle")
	}
	if _, err := r.EnsureUserHandle(ctx, v.ID, []byte("short"), t0); err == nil {
		t.Fatal("a short handle was stored")
	}
}

func testPasskeyCRUD(t *testing.T, d *db.DB) {
	r := d.Passkeys()
	u := mustPasskeyUser(t, d, "crud@example.com", 1)
	if ps, err := r.Passkeys(ctx, u.ID); err != nil || len(ps) != 0 {
		t.Fatalf("Passkeys before = %v, %v", ps, err)
	}
	a := mustAddPasskey(t, d, newPasskey(u.ID, "cred-a"))
	b := newPasskey(u.ID, "cred-b")
	b.BackupEligible, b.BackupState, b.Transports, b.AAGUID, b.SignCount = false, false, nil, nil, 7
	b = mustAddPasskey(t, d, b)
	if a.ID <= 0 || b.ID <= a.ID {
		t.Fatalf("ids %d, %d", a.ID, b.ID)
	}
	ps, err := r.Passkeys(ctx, u.ID)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Passkeys = %v, %v", ps, err)
	}
	got := ps[0]
	if got.ID != a.ID || got.UserID != u.ID || string(got.CredentialID) != "cred-a" || string(got.PublicKey) != "cose-cred-a" ||
		got.AttestationType != "none" || len(got.AAGUID) != 16 || !got.UserVerified || !got.Synced() || !got.BackupState ||
		len(got.Transports) != 2 || got.Transports[1] != "hybrid" || got.Name != "Laptop" ||
		!got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) || !got.LastUsedAt.IsZero() {
		t.Fatalf("passkey a = %+v", got)
	}
	if got := ps[1]; got.Synced() || got.BackupState || got.Transports != nil || got.SignCount != 7 || len(got.AAGUID) != 0 {
		t.Fatalf("passkey b = %+v", got)
	}
	if err := r.RenamePasskey(ctx, u.ID, a.ID, "Phone"); err != nil {
		t.Fatal(err)
	}
	other := mustPasskeyUser(t, d, "other@example.com", 2)
	for _, tc := range []struct {
		name     string
		uid, id  int64
		wantName string
	}{
		{"other user's", other.ID, a.ID, ""},
		{"unknown id", u.ID, 99999, ""},
	} {
		if err := r.RenamePasskey(ctx, tc.uid, tc.id, "x"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("RenamePasskey(%s) = %v", tc.name, err)
		}
		if _, err := r.DeletePasskey(ctx, tc.uid, tc.id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeletePasskey(%s) = %v", tc.name, err)
		}
	}
	del, err := r.DeletePasskey(ctx, u.ID, a.ID)
	if err != nil || del.Name != "Phone" || string(del.CredentialID) != "cred-a" {
		t.Fatalf("DeletePasskey = %+v, %v", del, err)
	}
	if n, err := r.DeletePasskeys(ctx, u.ID); err != nil || n != 1 {
		t.Fatalf("DeletePasskeys = %d, %v", n, err)
	}
	if ps, _ := r.Passkeys(ctx, u.ID); len(ps) != 0 {
		t.Fatalf("after delete: %v", ps)
	}
}

func testPasskeyUnique(t *testing.T, d *db.DB) {
	u := mustPasskeyUser(t, d, "u1@example.com", 1)
	v := mustPasskeyUser(t, d, "u2@example.com", 2)
	mustAddPasskey(t, d, newPasskey(u.ID, "same"))
	for _, uid := range []int64{u.ID, v.ID} {
		if _, err := d.Passkeys().AddPasskey(ctx, newPasskey(uid, "same"), 20); !errors.Is(err, account.ErrPasskeyTaken) {
			t.Errorf("AddPasskey(same credential, user %d) = %v, want ErrPasskeyTaken", uid, err)
		}
	}
	// A user without a handle cannot get a passkey.
	w := mustCreate(t, d, "nohandle@example.com")
	if _, err := d.Passkeys().AddPasskey(ctx, newPasskey(w.ID, "w"), 20); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("AddPasskey(no handle) = %v", err)
	}
}

func testPasskeyLimit(t *testing.T, d *db.DB) {
	u := mustPasskeyUser(t, d, "lim@example.com", 1)
	for i := range 3 {
		if _, err := d.Passkeys().AddPasskey(ctx, newPasskey(u.ID, string(rune('a'+i))), 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Passkeys().AddPasskey(ctx, newPasskey(u.ID, "d"), 3); !errors.Is(err, account.ErrPasskeyLimit) {
		t.Fatalf("AddPasskey over the limit = %v", err)
	}
}

func testPasskeyCounter(t *testing.T, d *db.DB) {
	r := d.Passkeys()
	u := mustPasskeyUser(t, d, "ctr@example.com", 1)
	zero := mustAddPasskey(t, d, newPasskey(u.ID, "zero"))
	p := newPasskey(u.ID, "counted")
	p.SignCount = 5
	p = mustAddPasskey(t, d, p)
	t1 := t0.Add(time.Minute)
	tests := []struct {
		name  string
		uid   int64
		id    int64
		count uint32
		want  bool
	}{
		{"no counter, stays 0", u.ID, zero.ID, 0, true},
		{"no counter, again", u.ID, zero.ID, 0, true},
		{"forward", u.ID, p.ID, 6, true},
		{"same value", u.ID, p.ID, 6, false},
		{"backwards", u.ID, p.ID, 3, false},
		{"back to 0", u.ID, p.ID, 0, false},
		{"far forward", u.ID, p.ID, 1 << 31, true},
		{"max uint32", u.ID, p.ID, 1<<32 - 1, true},
		{"other user", u.ID + 1000, zero.ID, 1, false},
		{"zero starts counting", u.ID, zero.ID, 1, true},
		{"zero then back to 0", u.ID, zero.ID, 0, false},
	}
	for _, tc := range tests {
		got, err := r.UsePasskey(ctx, tc.uid, tc.id, tc.count, false, t1)
		if err != nil || got != tc.want {
			t.Errorf("%s: UsePasskey = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	ps, _ := r.Passkeys(ctx, u.ID)
	if ps[1].SignCount != 1<<32-1 || ps[1].BackupState || !ps[1].LastUsedAt.Equal(t1.Truncate(time.Microsecond)) {
		t.Fatalf("after use: %+v", ps[1])
	}
}

func testPasskeyConcurrentUse(t *testing.T, d *db.DB) {
	u := mustPasskeyUser(t, d, "cc@example.com", 1)
	p := newPasskey(u.ID, "c")
	p.SignCount = 1
	p = mustAddPasskey(t, d, p)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := d.Passkeys().UsePasskey(ctx, u.ID, p.ID, 2, true, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one counter value succeeded, want 1", wins.Load())
	}
}

func newChallenge(b byte, userID int64) account.PasskeyChallenge {
	return account.PasskeyChallenge{ChallengeHash: bytes.Repeat([]byte{b}, 32), BindingHash: bytes.Repeat([]byte{9}, 32),
		Kind: account.PasskeyRegister, UserID: userID, State: []byte(`{"challenge":"x"}`), ExpiresAt: t0.Add(5 * time.Minute)}
}

func testPasskeyChallenges(t *testing.T, d *db.DB) {
	r := d.Passkeys()
	u := mustCreate(t, d, "ch@example.com")
	if err := r.SaveChallenge(ctx, newChallenge(1, u.ID)); err != nil {
		t.Fatal(err)
	}
	anon := newChallenge(2, 0)
	anon.Kind, anon.ExpiresAt = account.PasskeyLogin, t0.Add(time.Minute)
	if err := r.SaveChallenge(ctx, anon); err != nil {
		t.Fatal(err)
	}
	c, err := r.TakeChallenge(ctx, bytes.Repeat([]byte{1}, 32))
	if err != nil || c.UserID != u.ID || c.Kind != account.PasskeyRegister || string(c.State) != `{"challenge":"x"}` ||
		!c.ExpiresAt.Equal(t0.Add(5*time.Minute).Truncate(time.Microsecond)) || len(c.BindingHash) != 32 {
		t.Fatalf("TakeChallenge = %+v, %v", c, err)
	}
	if _, err := r.TakeChallenge(ctx, bytes.Repeat([]byte{1}, 32)); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("second TakeChallenge = %v, want ErrNotFound", err)
	}
	// Purging at t0+2min removes the anonymous one (expired at t0+1min).
	if n, err := r.PurgeChallenges(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("PurgeChallenges = %d, %v", n, err)
	}
	if _, err := r.TakeChallenge(ctx, bytes.Repeat([]byte{2}, 32)); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("purged challenge taken: %v", err)
	}
}

func testPasskeyConcurrentTake(t *testing.T, d *db.DB) {
	r := d.Passkeys()
	if err := r.SaveChallenge(ctx, newChallenge(3, 0)); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := r.TakeChallenge(ctx, bytes.Repeat([]byte{3}, 32))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, account.ErrNotFound):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent takes succeeded, want 1", wins.Load())
	}
}

func testPasskeyCascade(t *testing.T, d *db.DB) {
	u := mustPasskeyUser(t, d, "gone@example.com", 1)
	mustAddPasskey(t, d, newPasskey(u.ID, "gone"))
	if err := d.Passkeys().SaveChallenge(ctx, newChallenge(4, u.ID)); err != nil {
		t.Fatal(err)
	}
	q := "DELETE FROM users WHERE id = ?"
	if d.Dialect() == db.Postgres {
		q = "DELETE FROM users WHERE id = $1"
	}
	if _, err := d.SQL().ExecContext(ctx, q, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"passkeys", "webauthn_users", "passkey_challenges"} {
		var n int
		if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s rows after the user was deleted = %d, %v", table, n, err)
		}
	}
}
