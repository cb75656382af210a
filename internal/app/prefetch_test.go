package app

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
)

// The user the session store read with the session is used once, and only
// for the session's own user id; anything else reads the database.
func TestUserByIDPrefetched(t *testing.T) {
	s, d, _ := newInProcess(t)
	ctx := context.Background()
	stored, err := d.accounts.UserByEmail(ctx, "bench@example.com")
	if err != nil {
		t.Fatal(err)
	}
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
			rs := &reqState{base: s.log}
			rctx := context.WithValue(ctx, ctxState, rs)
			if tc.prefetch != nil {
				keepSessionUser(rctx, *tc.prefetch)
			}
			u, err := s.userByID(rctx, tc.id)
			if err != nil || u.ID != tc.id || u.DisplayName != tc.want {
				t.Fatalf("userByID = %+v, %v; want id %d named %q", u, err, tc.id, tc.want)
			}
			if rs.fetched != nil {
				t.Fatal("the read user was kept for a second use")
			}
			if again, _ := s.userByID(rctx, tc.id); again.DisplayName != stored.DisplayName {
				t.Fatalf("second call = %q, want the stored %q", again.DisplayName, stored.DisplayName)
			}
		})
	}
}
