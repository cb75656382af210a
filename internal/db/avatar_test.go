package db_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

func TestAvatarsSQLite(t *testing.T)   { runAvatarSuite(t, openSQLite) }
func TestAvatarsPostgres(t *testing.T) { runAvatarSuite(t, openPostgres) }

func runAvatarSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"PutGetReplaceDelete", testAvatarPutGetReplaceDelete},
		{"OnePerUser", testAvatarOnePerUser},
		{"Constraints", testAvatarConstraints},
		{"DeletedWithUser", testAvatarDeletedWithUser},
		{"ConcurrentReplace", testAvatarConcurrentReplace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func newAvatar(userID int64, data string) account.Avatar {
	sum := sha256.Sum256([]byte(data))
	return account.Avatar{ID: account.NewAvatarID(), UserID: userID, ContentType: "image/png",
		SHA256: hex.EncodeToString(sum[:]), Data: []byte(data), CreatedAt: t0}
}

func mustPutAvatar(t *testing.T, d *db.DB, a account.Avatar) {
	t.Helper()
	if err := d.Avatars().PutAvatar(ctx, a); err != nil {
		t.Fatalf("PutAvatar(%s): %v", a.ID, err)
	}
}

func wantAvatarID(t *testing.T, d *db.DB, userID int64, want string) {
	t.Helper()
	got, err := d.Avatars().AvatarIDForUser(ctx, userID)
	if want == "" {
		if !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("AvatarIDForUser(%d) = %q, %v; want ErrNotFound", userID, got, err)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("AvatarIDForUser(%d) = %q, %v; want %q", userID, got, err, want)
	}
}

func testAvatarPutGetReplaceDelete(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "pic@example.com")
	av := d.Avatars()
	wantAvatarID(t, d, u.ID, "")
	first := newAvatar(u.ID, "first picture \x00\xff bytes")
	mustPutAvatar(t, d, first)
	wantAvatarID(t, d, u.ID, first.ID)
	got, err := av.AvatarByID(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.UserID != u.ID || got.ContentType != "image/png" || got.SHA256 != first.SHA256 ||
		!bytes.Equal(got.Data, first.Data) || !got.CreatedAt.Equal(t0.Truncate(1000)) {
		t.Fatalf("AvatarByID = %+v, want %+v", got, first)
	}

	// A new picture replaces the old one: the old id is gone.
	second := newAvatar(u.ID, "second")
	second.ContentType = "image/jpeg"
	mustPutAvatar(t, d, second)
	wantAvatarID(t, d, u.ID, second.ID)
	if _, err := av.AvatarByID(ctx, first.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("old picture after replace: %v, want ErrNotFound", err)
	}
	if got, err := av.AvatarByID(ctx, second.ID); err != nil || string(got.Data) != "second" || got.ContentType != "image/jpeg" {
		t.Fatalf("AvatarByID(second) = %+v, %v", got, err)
	}

	for i, want := range []bool{true, false} {
		if had, err := av.DeleteAvatar(ctx, u.ID); err != nil || had != want {
			t.Fatalf("DeleteAvatar #%d = %v, %v; want %v", i, had, err, want)
		}
	}
	wantAvatarID(t, d, u.ID, "")
	if _, err := av.AvatarByID(ctx, second.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("picture after delete: %v, want ErrNotFound", err)
	}
	if _, err := av.AvatarByID(ctx, "not-an-id"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("AvatarByID(unknown) = %v", err)
	}
}

func testAvatarOnePerUser(t *testing.T, d *db.DB) {
	a, b := mustCreate(t, d, "a@example.com"), mustCreate(t, d, "b@example.com")
	pa, pb := newAvatar(a.ID, "a"), newAvatar(b.ID, "b")
	mustPutAvatar(t, d, pa)
	mustPutAvatar(t, d, pb)
	// Replacing one user's picture leaves the other's alone.
	pa2 := newAvatar(a.ID, "a2")
	mustPutAvatar(t, d, pa2)
	wantAvatarID(t, d, a.ID, pa2.ID)
	wantAvatarID(t, d, b.ID, pb.ID)
	// An id already used by another user is refused, not taken over.
	steal := newAvatar(a.ID, "steal")
	steal.ID = pb.ID
	if err := d.Avatars().PutAvatar(ctx, steal); err == nil {
		t.Fatal("PutAvatar with another user's id succeeded")
	}
	wantAvatarID(t, d, a.ID, pa2.ID)
	wantAvatarID(t, d, b.ID, pb.ID)
	if _, err := d.Avatars().DeleteAvatar(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	wantAvatarID(t, d, b.ID, pb.ID)
}

// The schema refuses what the application never writes.
func testAvatarConstraints(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "c@example.com")
	tests := []struct {
		name string
		edit func(a *account.Avatar)
	}{
		{"svg content type", func(a *account.Avatar) { a.ContentType = "image/svg+xml" }},
		{"html content type", func(a *account.Avatar) { a.ContentType = "text/html" }},
		{"short id", func(a *account.Avatar) { a.ID = "abc" }},
		{"empty data", func(a *account.Avatar) { a.Data = nil }},
		{"huge data", func(a *account.Avatar) { a.Data = make([]byte, 1<<20+1) }},
		{"bad hash", func(a *account.Avatar) { a.SHA256 = "x" }},
		{"unknown user", func(a *account.Avatar) { a.UserID = u.ID + 1000 }},
	}
	for _, tc := range tests {
		a := newAvatar(u.ID, "ok")
		tc.edit(&a)
		if err := d.Avatars().PutAvatar(ctx, a); err == nil {
			t.Errorf("%s: PutAvatar succeeded", tc.name)
		}
	}
	wantAvatarID(t, d, u.ID, "")
}

func testAvatarDeletedWithUser(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "gone@example.com")
	p := newAvatar(u.ID, "x")
	mustPutAvatar(t, d, p)
	q := "DELETE FROM users WHERE id = ?"
	if d.Dialect() == db.Postgres {
		q = "DELETE FROM users WHERE id = $1"
	}
	if _, err := d.Writer().ExecContext(ctx, q, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Avatars().AvatarByID(ctx, p.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("picture of a deleted user: %v, want ErrNotFound", err)
	}
}

// Concurrent replacements of one user's picture all succeed and leave
// exactly one picture, one of those written.
func testAvatarConcurrentReplace(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "race@example.com")
	const n = 8
	ids := make(map[string]bool, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		a := newAvatar(u.ID, fmt.Sprint("picture ", i))
		ids[a.ID] = true
		wg.Go(func() { errs <- d.Avatars().PutAvatar(ctx, a) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent PutAvatar: %v", err)
		}
	}
	id, err := d.Avatars().AvatarIDForUser(ctx, u.ID)
	if err != nil || !ids[id] {
		t.Fatalf("after concurrent replace: %q, %v", id, err)
	}
	var rows int
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM avatars").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("rows = %d, %v; want 1", rows, err)
	}
}
