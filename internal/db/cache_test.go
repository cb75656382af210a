package db_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

// mustUserWarm reads the user three times, so that the last reads may come
// from the hot-row cache.
func mustUserWarm(t *testing.T, d *db.DB, id int64) account.User {
	t.Helper()
	must(t, d.PollCache(ctx)) // on from the first poll
	for range 2 {
		if _, err := d.Users().UserByID(ctx, id); err != nil {
			t.Fatalf("UserByID(%d): %v", id, err)
		}
	}
	u, err := d.Users().UserByID(ctx, id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

// TestCacheSeesEveryUserWrite checks that a user read right after any
// repository write shows the write, on a database whose hot rows are
// cached (SQLite) and on one whose are not (PostgreSQL).
func TestCacheSeesEveryUserWrite(t *testing.T) {
	later := t0.Add(time.Hour).Truncate(time.Microsecond) // as stored
	tests := []struct {
		name  string
		write func(t *testing.T, d *db.DB, u account.User)
		check func(u account.User) bool
	}{
		{"disable", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.Users().SetDisabled(ctx, u.ID, true, later))
		}, func(u account.User) bool { return !u.DisabledAt.IsZero() && u.SessionsValidAfter.Equal(later) }},
		{"revoke sessions", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.Users().RevokeSessions(ctx, u.ID, later))
		}, func(u account.User) bool { return u.SessionsValidAfter.Equal(later) }},
		{"password change revoking sessions", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.Users().SetPasswordHash(ctx, u.ID, "$test$new", later, true))
		}, func(u account.User) bool { return u.SessionsValidAfter.Equal(later) }},
		{"roles", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.Users().SetRoles(ctx, u.ID, []account.Role{account.RoleAdmin}, later))
		}, func(u account.User) bool { return slices.Contains(u.Roles, account.RoleAdmin) }},
		{"email verified", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.Users().SetEmailVerified(ctx, u.ID, later, later))
		}, func(u account.User) bool { return u.EmailVerifiedAt.Equal(later) }},
		{"picture", func(t *testing.T, d *db.DB, u account.User) {
			sum := fmt.Sprintf("%x", sha256.Sum256([]byte("png")))
			must(t, d.Avatars().PutAvatar(ctx, account.Avatar{ID: "pictureid0123456789abc", UserID: u.ID, ContentType: "image/png", SHA256: sum, Data: []byte("png"), CreatedAt: later}))
		}, func(u account.User) bool { return u.AvatarID != "" }},
		{"second factor on", func(t *testing.T, d *db.DB, u account.User) {
			must(t, d.TwoFactor().SavePendingTOTP(ctx, u.ID, []byte("sealed"), later))
			must(t, d.TwoFactor().EnableTOTP(ctx, u.ID, []byte("sealed"), 1, [][]byte{bytes.Repeat([]byte{1}, 32)}, later))
		}, func(u account.User) bool { return u.TwoFactorEnabled }},
	}
	for _, open := range []struct {
		name string
		open opener
	}{{"SQLite", openSQLite}, {"Postgres", openPostgres}} {
		for _, tc := range tests {
			t.Run(open.name+"/"+tc.name, func(t *testing.T) {
				d := open.open(t)
				u := mustCreate(t, d, "ada@example.com")
				if before := mustUserWarm(t, d, u.ID); tc.check(before) {
					t.Fatalf("already true before the write: %+v", before)
				}
				tc.write(t, d, u)
				if after := mustUserWarm(t, d, u.ID); !tc.check(after) {
					t.Fatalf("the read after the write does not show it: %+v", after)
				}
			})
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCacheUndoneWrites covers the writes that take something away.
func TestCacheUndoneWrites(t *testing.T) {
	d := openSQLite(t)
	u := mustCreate(t, d, "ada@example.com")
	must(t, d.Users().SetDisabled(ctx, u.ID, true, t0))
	if mustUserWarm(t, d, u.ID).DisabledAt.IsZero() {
		t.Fatal("not disabled")
	}
	must(t, d.Users().SetDisabled(ctx, u.ID, false, t0))
	if !mustUserWarm(t, d, u.ID).DisabledAt.IsZero() {
		t.Fatal("still disabled after enable")
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte("png")))
	must(t, d.Avatars().PutAvatar(ctx, account.Avatar{ID: "pictureid0123456789abc", UserID: u.ID, ContentType: "image/png", SHA256: sum, Data: []byte("png"), CreatedAt: t0}))
	if mustUserWarm(t, d, u.ID).AvatarID == "" {
		t.Fatal("no picture")
	}
	if _, err := d.Avatars().DeleteAvatar(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if id := mustUserWarm(t, d, u.ID).AvatarID; id != "" {
		t.Fatalf("picture %q after delete", id)
	}
	must(t, d.TwoFactor().SavePendingTOTP(ctx, u.ID, []byte("sealed"), t0))
	must(t, d.TwoFactor().EnableTOTP(ctx, u.ID, []byte("sealed"), 1, nil, t0))
	if !mustUserWarm(t, d, u.ID).TwoFactorEnabled {
		t.Fatal("second factor off")
	}
	if _, err := d.TwoFactor().DeleteTwoFactor(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if mustUserWarm(t, d, u.ID).TwoFactorEnabled {
		t.Fatal("second factor on after delete")
	}
}

// TestCacheOtherProcess checks that writes through another handle on the
// same file (as the gatehouse CLI makes) show after the next poll, and
// that a failed poll turns the cache off instead of serving old rows.
func TestCacheOtherProcess(t *testing.T) {
	path := "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")
	server, cli := mustOpen(t, path), mustOpen(t, path)
	u := mustCreate(t, server, "ada@example.com")
	st := newSessionStore(t, server, time.Now, nil)
	id := sessiontest.NewID()
	must(t, st.Save(ctx, id, session.Record{UserID: strconv.FormatInt(u.ID, 10), Data: []byte("{}"), Expiry: time.Now().Add(time.Hour)}))
	must(t, server.PollCache(ctx))
	for range 2 { // the second lookups come from the cache
		mustUserWarm(t, server, u.ID)
		if _, found, err := st.Find(ctx, id); err != nil || !found {
			t.Fatalf("Find = %v, %v", found, err)
		}
	}

	must(t, cli.Users().SetDisabled(ctx, u.ID, true, t0))
	cliStore := newSessionStore(t, cli, time.Now, nil)
	must(t, cliStore.Delete(ctx, id))
	must(t, server.PollCache(ctx))
	if mustUserWarm(t, server, u.ID).DisabledAt.IsZero() {
		t.Fatal("the other handle's disable does not show after a poll")
	}
	if _, found, err := st.Find(ctx, id); err != nil || found {
		t.Fatalf("the other handle's delete does not show after a poll: found=%v err=%v", found, err)
	}

	// A poll that fails empties the cache and keeps it off.
	must(t, cli.Users().SetDisabled(ctx, u.ID, false, t0))
	server.Writer().Close()
	if err := server.PollCache(ctx); err == nil {
		t.Fatal("poll on a closed writer succeeded")
	}
	if got, err := server.Users().UserByID(ctx, u.ID); err != nil || !got.DisabledAt.IsZero() {
		t.Fatalf("after a failed poll: %+v, %v (want the row from the database)", got, err)
	}
}

// TestCacheRacingWrites checks, under -race, that once a write has
// returned no reader sees the row from before it, while other readers
// fill the cache concurrently.
func TestCacheRacingWrites(t *testing.T) {
	d := openSQLite(t)
	u := mustCreate(t, d, "ada@example.com")
	must(t, d.PollCache(ctx))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := d.Users().UserByID(ctx, u.ID); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 200 {
		roles := []account.Role{account.RoleUser}
		if i%2 == 0 {
			roles = append(roles, account.RoleAdmin)
		}
		must(t, d.Users().SetRoles(ctx, u.ID, roles, t0))
		got, err := d.Users().UserByID(ctx, u.ID)
		must(t, err)
		if slices.Contains(got.Roles, account.RoleAdmin) != (i%2 == 0) {
			t.Fatalf("write %d: read %v after it returned", i, got.Roles)
		}
	}
}
