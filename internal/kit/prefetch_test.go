package kit

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/password"
)

// mustKit builds a kit over a fresh SQLite database with one user.
func mustKit(t *testing.T) (*Kit, account.User) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.WithParams(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}))
	if err != nil {
		t.Fatal(err)
	}
	svc := account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(), Hasher: password.NewPool(h), Policy: password.Policy{}})
	u, err := svc.CreateUser(ctx, account.CreateUserInput{Email: "bench@example.com", Password: "correct horse battery staple"}, account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return &Kit{cfg: Config{Accounts: svc, Log: slog.New(slog.DiscardHandler)}}, u
}

// The user the session store read with the session is used once, and only
// for the session's own user id; anything else reads the database.
func TestUserByIDPrefetched(t *testing.T) {
	k, stored := mustKit(t)
	ctx := context.Background()
	marked := stored
	marked.DisplayName = "from the session query"

	tests := []struct {
		name     string
		prefetch *account.User
		id       int64
		want     string // display name
	}{
		{"nothing read", nil, stored.ID, stored.DisplayName},
		{"same user", &marked, stored.ID, marked.DisplayName},
		{"another user", &account.User{ID: stored.ID + 1, DisplayName: "other"}, stored.ID, stored.DisplayName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := &reqState{base: k.cfg.Log}
			rctx := context.WithValue(ctx, ctxState, rs)
			if tc.prefetch != nil {
				KeepSessionUser(rctx, *tc.prefetch)
			}
			u, err := k.UserByID(rctx, tc.id)
			if err != nil || u.ID != tc.id || u.DisplayName != tc.want {
				t.Fatalf("UserByID = %+v, %v; want id %d named %q", u, err, tc.id, tc.want)
			}
			if rs.fetched != nil {
				t.Fatal("the read user was kept for a second use")
			}
			if again, _ := k.UserByID(rctx, tc.id); again.DisplayName != stored.DisplayName {
				t.Fatalf("second call = %q, want the stored %q", again.DisplayName, stored.DisplayName)
			}
		})
	}
}
