package db_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

func newSessionStore(t testing.TB, d *db.DB, now func() time.Time, onUser func(context.Context, account.User)) *db.SessionStore {
	t.Helper()
	st, err := d.SessionStore(ctx, now, onUser)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSessionStoreConformanceSQLite(t *testing.T)   { runSessionConformance(t, openSQLite) }
func TestSessionStoreConformancePostgres(t *testing.T) { runSessionConformance(t, openPostgres) }

func runSessionConformance(t *testing.T, open opener) {
	clock := sessiontest.NewClock(time.Now())
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return newSessionStore(t, open(t), clock.Now, nil)
	}, sessiontest.WithClock(clock))
}

func TestSessionStoreUserSQLite(t *testing.T)   { testSessionStoreUser(t, openSQLite(t)) }
func TestSessionStoreUserPostgres(t *testing.T) { testSessionStoreUser(t, openPostgres(t)) }

// testSessionStoreUser checks that Find hands over exactly the user that
// UserByID reads, and nothing for records without a live user.
func testSessionStoreUser(t *testing.T, d *db.DB) {
	clock := sessiontest.NewClock(time.Now())
	var got []account.User
	st := newSessionStore(t, d, clock.Now, func(_ context.Context, u account.User) { got = append(got, u) })
	u := mustCreate(t, d, "joined@example.com")
	// Every column of the user, including the two from other tables.
	if err := d.Users().SetDisabled(ctx, u.ID, true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := d.Avatars().PutAvatar(ctx, account.Avatar{ID: "avatar1avatar1avatar12", UserID: u.ID, ContentType: "image/png", SHA256: strings.Repeat("0", 64), Data: []byte{1}, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := d.TwoFactor().SavePendingTOTP(ctx, u.ID, []byte("sealed"), t0); err != nil {
		t.Fatal(err)
	}
	if err := d.TwoFactor().EnableTOTP(ctx, u.ID, []byte("sealed"), 1, nil, t0); err != nil {
		t.Fatal(err)
	}
	want := mustUser(t, d, u.ID)
	if want.AvatarID != "avatar1avatar1avatar12" || !want.TwoFactorEnabled || want.DisabledAt.IsZero() {
		t.Fatalf("setup: %+v", want)
	}
	exp := clock.Now().Add(time.Hour)

	tests := []struct {
		name      string
		userID    string
		expiry    time.Time
		found     bool
		wantsUser bool
	}{
		{"signed in", strconv.FormatInt(u.ID, 10), exp, true, true},
		{"anonymous", "", exp, true, false},
		{"user gone", "999999999", exp, true, false},
		{"not a number", "abc", exp, true, false},
		{"huge number", "99999999999999999999999", exp, true, false},
		{"expired", strconv.FormatInt(u.ID, 10), clock.Now().Add(-time.Second), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			id := sessiontest.NewID()
			if err := st.Save(ctx, id, session.Record{UserID: tc.userID, Data: []byte("state"), Expiry: tc.expiry}); err != nil {
				t.Fatal(err)
			}
			rec, found, err := st.Find(ctx, id)
			if err != nil || found != tc.found {
				t.Fatalf("Find = %v, %v; want found %v", found, err, tc.found)
			}
			if found && (rec.UserID != tc.userID || string(rec.Data) != "state" || rec.Expiry.Sub(tc.expiry).Abs() > time.Millisecond) {
				t.Fatalf("Find = %+v, want user %q, data state, expiry %v", rec, tc.userID, tc.expiry)
			}
			switch {
			case !tc.wantsUser && len(got) != 0:
				t.Fatalf("onUser called with %+v", got)
			case tc.wantsUser && (len(got) != 1 || !reflect.DeepEqual(got[0], want)):
				t.Fatalf("onUser got %+v, want %+v", got, want)
			}
		})
	}
}
