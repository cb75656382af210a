package db_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

// The refresh token repository, run unchanged against both engines.
func TestRefreshTokensSQLite(t *testing.T)   { runRefreshSuite(t, openSQLite) }
func TestRefreshTokensPostgres(t *testing.T) { runRefreshSuite(t, openPostgres) }

func runRefreshSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"InsertLookup", testRefreshInsertLookup},
		{"RotateOnce", testRefreshRotateOnce},
		{"RotateRefusesRevokedExpired", testRefreshRotateRefuses},
		{"ConcurrentRotate", testRefreshConcurrentRotate},
		{"RevokeFamilyAndUser", testRefreshRevoke},
		{"DeleteExpired", testRefreshDeleteExpired},
		{"Constraints", testRefreshConstraints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var refreshSeq atomic.Int64

// refreshRec returns a token record with a unique hash.
func refreshRec(userID int64, family string, created time.Time) account.RefreshToken {
	h := sha256.Sum256([]byte("token-" + strconv.FormatInt(refreshSeq.Add(1), 10)))
	return account.RefreshToken{
		Hash: h[:], FamilyID: family, UserID: userID, AuthenticatedAt: created, AMR: []string{"pwd", "otp"},
		CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
	}
}

func mustInsertRefresh(t *testing.T, d *db.DB, rec account.RefreshToken) account.RefreshToken {
	t.Helper()
	id, err := d.RefreshTokens().InsertRefreshToken(ctx, rec)
	if err != nil || id <= 0 {
		t.Fatalf("InsertRefreshToken = %d, %v", id, err)
	}
	rec.ID = id
	return rec
}

func mustRefresh(t *testing.T, d *db.DB, hash []byte) account.RefreshToken {
	t.Helper()
	got, err := d.RefreshTokens().RefreshTokenByHash(ctx, hash)
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	return got
}

func testRefreshInsertLookup(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ana@example.com")
	rec := mustInsertRefresh(t, d, refreshRec(u.ID, "fam1", t0))
	got := mustRefresh(t, d, rec.Hash)
	want := t0.Truncate(time.Microsecond)
	if got.ID != rec.ID || !bytes.Equal(got.Hash, rec.Hash) || got.FamilyID != "fam1" || got.UserID != u.ID ||
		!got.AuthenticatedAt.Equal(want) || !got.CreatedAt.Equal(want) || !got.ExpiresAt.Equal(want.Add(24*time.Hour)) ||
		!got.UsedAt.IsZero() || !got.RevokedAt.IsZero() || !slices.Equal(got.AMR, []string{"pwd", "otp"}) {
		t.Fatalf("RefreshTokenByHash = %+v\nwant %+v", got, rec)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v", got.CreatedAt.Location())
	}
	other := sha256.Sum256([]byte("unknown"))
	for _, h := range [][]byte{other[:], nil, {}} {
		if _, err := d.RefreshTokens().RefreshTokenByHash(ctx, h); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("RefreshTokenByHash(%x) = %v, want ErrNotFound", h, err)
		}
	}
}

func testRefreshRotateOnce(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "ben@example.com")
	first := mustInsertRefresh(t, d, refreshRec(u.ID, "fam", t0))
	now := t0.Add(time.Minute)
	second := refreshRec(u.ID, "fam", now)
	ok, err := d.RefreshTokens().RotateRefreshToken(ctx, first.ID, now, second)
	if err != nil || !ok {
		t.Fatalf("RotateRefreshToken = %v, %v", ok, err)
	}
	if got := mustRefresh(t, d, first.Hash); !got.UsedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("first UsedAt = %v, want %v", got.UsedAt, now)
	}
	if got := mustRefresh(t, d, second.Hash); got.FamilyID != "fam" || !got.UsedAt.IsZero() {
		t.Fatalf("second = %+v", got)
	}
	// The spent token cannot be spent again, and nothing is stored then.
	third := refreshRec(u.ID, "fam", now)
	ok, err = d.RefreshTokens().RotateRefreshToken(ctx, first.ID, now.Add(time.Second), third)
	if err != nil || ok {
		t.Fatalf("second RotateRefreshToken = %v, %v; want false", ok, err)
	}
	if _, err := d.RefreshTokens().RefreshTokenByHash(ctx, third.Hash); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("a failed rotation stored its new token: %v", err)
	}
}

func testRefreshRotateRefuses(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "cy@example.com")
	r := d.RefreshTokens()
	revoked := mustInsertRefresh(t, d, refreshRec(u.ID, "revoked", t0))
	if n, err := r.RevokeRefreshFamily(ctx, "revoked", t0); err != nil || n != 1 {
		t.Fatalf("RevokeRefreshFamily = %d, %v", n, err)
	}
	expired := mustInsertRefresh(t, d, refreshRec(u.ID, "expired", t0))
	tests := []struct {
		name string
		id   int64
		now  time.Time
	}{
		{"revoked", revoked.ID, t0.Add(time.Minute)},
		{"expired", expired.ID, expired.ExpiresAt},
		{"unknown", 999999, t0},
	}
	for _, tc := range tests {
		next := refreshRec(u.ID, "x", tc.now)
		if ok, err := r.RotateRefreshToken(ctx, tc.id, tc.now, next); err != nil || ok {
			t.Errorf("%s: RotateRefreshToken = %v, %v; want false", tc.name, ok, err)
		}
	}
}

func testRefreshConcurrentRotate(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "dee@example.com")
	first := mustInsertRefresh(t, d, refreshRec(u.ID, "race", t0))
	var (
		wg   sync.WaitGroup
		wins atomic.Int32
	)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			ok, err := d.RefreshTokens().RotateRefreshToken(ctx, first.ID, t0.Add(time.Second), refreshRec(u.ID, "race", t0))
			if err != nil {
				errs <- err
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent rotations won, want exactly 1", wins.Load())
	}
	var n int
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM refresh_tokens WHERE family_id = 'race'").Scan(&n); err != nil || n != 2 {
		t.Fatalf("family has %d tokens (%v), want 2", n, err)
	}
}

func testRefreshRevoke(t *testing.T, d *db.DB) {
	a := mustCreate(t, d, "eve@example.com")
	b := mustCreate(t, d, "fay@example.com")
	r := d.RefreshTokens()
	a1 := mustInsertRefresh(t, d, refreshRec(a.ID, "fa", t0))
	a2 := mustInsertRefresh(t, d, refreshRec(a.ID, "fa", t0))
	a3 := mustInsertRefresh(t, d, refreshRec(a.ID, "fa2", t0))
	b1 := mustInsertRefresh(t, d, refreshRec(b.ID, "fb", t0))
	now := t0.Add(time.Hour)
	if n, err := r.RevokeRefreshFamily(ctx, "fa", now); err != nil || n != 2 {
		t.Fatalf("RevokeRefreshFamily = %d, %v; want 2", n, err)
	}
	if n, err := r.RevokeRefreshFamily(ctx, "fa", now.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second RevokeRefreshFamily = %d, %v; want 0", n, err)
	}
	for _, rec := range []account.RefreshToken{a1, a2} {
		if got := mustRefresh(t, d, rec.Hash); !got.RevokedAt.Equal(now.Truncate(time.Microsecond)) {
			t.Errorf("RevokedAt = %v, want %v (first revocation kept)", got.RevokedAt, now)
		}
	}
	if got := mustRefresh(t, d, a3.Hash); !got.RevokedAt.IsZero() {
		t.Error("another family was revoked")
	}
	if n, err := r.RevokeUserRefreshTokens(ctx, a.ID, now); err != nil || n != 1 {
		t.Fatalf("RevokeUserRefreshTokens = %d, %v; want 1", n, err)
	}
	if got := mustRefresh(t, d, b1.Hash); !got.RevokedAt.IsZero() {
		t.Error("another user's token was revoked")
	}
}

func testRefreshDeleteExpired(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "gus@example.com")
	old := mustInsertRefresh(t, d, refreshRec(u.ID, "old", t0))
	fresh := mustInsertRefresh(t, d, refreshRec(u.ID, "new", t0.Add(48*time.Hour)))
	n, err := d.RefreshTokens().DeleteExpiredRefreshTokens(ctx, t0.Add(25*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredRefreshTokens = %d, %v; want 1", n, err)
	}
	if _, err := d.RefreshTokens().RefreshTokenByHash(ctx, old.Hash); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("expired token still there: %v", err)
	}
	mustRefresh(t, d, fresh.Hash)
}

func testRefreshConstraints(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "hal@example.com")
	rec := mustInsertRefresh(t, d, refreshRec(u.ID, "c", t0))
	r := d.RefreshTokens()
	dup := refreshRec(u.ID, "c", t0)
	dup.Hash = rec.Hash
	short := refreshRec(u.ID, "c", t0)
	short.Hash = short.Hash[:16]
	noUser := refreshRec(424242, "c", t0)
	noFamily := refreshRec(u.ID, "", t0)
	for name, bad := range map[string]account.RefreshToken{"duplicate hash": dup, "short hash": short, "unknown user": noUser, "empty family": noFamily} {
		if _, err := r.InsertRefreshToken(ctx, bad); err == nil {
			t.Errorf("%s: InsertRefreshToken succeeded", name)
		}
	}
}
