package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// opener returns a fresh, migrated, empty database for one test.
type opener func(t testing.TB) *db.DB

func openSQLite(t testing.TB) *db.DB {
	t.Helper()
	return mustOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "gatehouse.db"))
}

func openPostgres(t testing.TB) *db.DB {
	t.Helper()
	return mustOpen(t, testenv.PostgresSchemaURL(t))
}

func mustOpen(t testing.TB, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url, db.WithMigrate())
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// The one repository suite, run unchanged against both engines.
func TestRepositoriesSQLite(t *testing.T)   { runRepoSuite(t, openSQLite) }
func TestRepositoriesPostgres(t *testing.T) { runRepoSuite(t, openPostgres) }

func runRepoSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"MigrateIdempotent", testMigrateIdempotent},
		{"CreateAndLookup", testCreateAndLookup},
		{"DuplicateEmail", testDuplicateEmail},
		{"NotFound", testNotFound},
		{"PasswordHash", testPasswordHash},
		{"DisableEnable", testDisableEnable},
		{"RolesVerifiedRevoke", testRolesVerifiedRevoke},
		{"ListUsers", testListUsers},
		{"Audit", testAudit},
		{"AuditForeignKeys", testAuditForeignKeys},
		{"ConcurrentCreate", testConcurrentCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var (
	ctx = context.Background()
	// t0 has nanoseconds on purpose: stores keep microseconds.
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
)

func newUser(email string, now time.Time) account.NewUser {
	return account.NewUser{
		Email: email, EmailKey: account.EmailKey(email), DisplayName: "Name " + email,
		PasswordHash: "$test$" + email, Roles: []account.Role{account.RoleUser}, Now: now,
	}
}

func mustCreate(t *testing.T, d *db.DB, email string) account.User {
	t.Helper()
	u, err := d.Users().CreateUser(ctx, newUser(email, t0))
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func mustUser(t *testing.T, d *db.DB, id int64) account.User {
	t.Helper()
	u, err := d.Users().UserByID(ctx, id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func testMigrateIdempotent(t *testing.T, d *db.DB) {
	ms, err := db.Migrations(d.Dialect())
	if err != nil || len(ms) < 2 {
		t.Fatalf("Migrations = %v, %v", ms, err)
	}
	for i := 0; i < 2; i++ {
		applied, err := d.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("Migrate again #%d = %v, %v; want nothing applied", i, applied, err)
		}
	}
	var n int
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(ms))
	}
	// Concurrent migrations of an up-to-date database are harmless too.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := d.Migrate(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testCreateAndLookup(t *testing.T, d *db.DB) {
	nu := newUser("Alice@Example.com", t0)
	nu.Roles = []account.Role{account.RoleAdmin, account.RoleUser, account.RoleAdmin}
	u, err := d.Users().CreateUser(ctx, nu)
	if err != nil {
		t.Fatal(err)
	}
	want := t0.Truncate(time.Microsecond)
	if u.ID <= 0 || u.Email != "Alice@Example.com" || u.DisplayName != "Name Alice@Example.com" ||
		!slices.Equal(u.Roles, []account.Role{account.RoleAdmin, account.RoleUser}) ||
		!u.CreatedAt.Equal(want) || !u.SessionsValidAfter.Equal(want) || u.EmailVerified() || u.Disabled() {
		t.Fatalf("CreateUser = %+v", u)
	}
	got := mustUser(t, d, u.ID)
	if !equalUsers(got, u) {
		t.Fatalf("UserByID = %+v\nwant       %+v", got, u)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	c, err := d.Users().CredentialsByEmailKey(ctx, "alice@example.com")
	if err != nil || !equalUsers(c.User, u) || c.PasswordHash != nu.PasswordHash {
		t.Fatalf("CredentialsByEmailKey = %+v, %v", c, err)
	}
	c, err = d.Users().CredentialsByID(ctx, u.ID)
	if err != nil || !equalUsers(c.User, u) || c.PasswordHash != nu.PasswordHash {
		t.Fatalf("CredentialsByID = %+v, %v", c, err)
	}
	// Unknown roles are refused.
	bad := newUser("bad@example.com", t0)
	bad.Roles = []account.Role{"root"}
	if _, err := d.Users().CreateUser(ctx, bad); err == nil {
		t.Fatal("CreateUser with role root succeeded")
	}
}

func equalUsers(a, b account.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.DisplayName == b.DisplayName &&
		slices.Equal(a.Roles, b.Roles) && a.EmailVerifiedAt.Equal(b.EmailVerifiedAt) &&
		a.DisabledAt.Equal(b.DisabledAt) && a.SessionsValidAfter.Equal(b.SessionsValidAfter) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func testDuplicateEmail(t *testing.T, d *db.DB) {
	first := mustCreate(t, d, "bob@example.com")
	for _, email := range []string{"bob@example.com", "BOB@example.com", "Bob@EXAMPLE.com"} {
		nu := newUser(email, t0.Add(time.Hour))
		nu.PasswordHash = "$other$"
		if _, err := d.Users().CreateUser(ctx, nu); !errors.Is(err, account.ErrEmailTaken) {
			t.Errorf("CreateUser(%s) = %v, want ErrEmailTaken", email, err)
		}
	}
	c, err := d.Users().CredentialsByEmailKey(ctx, "bob@example.com")
	if err != nil || c.PasswordHash != "$test$bob@example.com" || c.User.Email != first.Email {
		t.Fatalf("existing account changed: %+v, %v", c, err)
	}
}

func testNotFound(t *testing.T, d *db.DB) {
	u := d.Users()
	checks := map[string]error{}
	_, checks["UserByID"] = u.UserByID(ctx, 42)
	_, checks["CredentialsByID"] = u.CredentialsByID(ctx, 42)
	_, checks["CredentialsByEmailKey"] = u.CredentialsByEmailKey(ctx, "nobody@example.com")
	checks["SetPasswordHash"] = u.SetPasswordHash(ctx, 42, "h", t0, true)
	checks["SetDisabled"] = u.SetDisabled(ctx, 42, true, t0)
	checks["SetRoles"] = u.SetRoles(ctx, 42, nil, t0)
	checks["SetEmailVerified"] = u.SetEmailVerified(ctx, 42, t0, t0)
	checks["RevokeSessions"] = u.RevokeSessions(ctx, 42, t0)
	for name, err := range checks {
		if !errors.Is(err, account.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
	if ok, err := u.ReplacePasswordHash(ctx, 42, "a", "b", t0); ok || err != nil {
		t.Errorf("ReplacePasswordHash = %v, %v; want false, nil", ok, err)
	}
}

func testPasswordHash(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "carol@example.com")
	r := d.Users()
	t1 := t0.Add(time.Minute)
	if err := r.SetPasswordHash(ctx, u.ID, "$h1$", t1, false); err != nil {
		t.Fatal(err)
	}
	c, _ := r.CredentialsByID(ctx, u.ID)
	if c.PasswordHash != "$h1$" || !c.User.SessionsValidAfter.Equal(u.SessionsValidAfter) || !c.User.UpdatedAt.Equal(t1.Truncate(time.Microsecond)) {
		t.Fatalf("after SetPasswordHash(no revoke): %+v", c)
	}
	t2 := t0.Add(2 * time.Minute)
	if err := r.SetPasswordHash(ctx, u.ID, "$h2$", t2, true); err != nil {
		t.Fatal(err)
	}
	c, _ = r.CredentialsByID(ctx, u.ID)
	if c.PasswordHash != "$h2$" || !c.User.SessionsValidAfter.Equal(t2.Truncate(time.Microsecond)) {
		t.Fatalf("after SetPasswordHash(revoke): %+v", c)
	}
	// Compare-and-swap: a stale old hash does not overwrite.
	if ok, err := r.ReplacePasswordHash(ctx, u.ID, "$h1$", "$stale$", t2); ok || err != nil {
		t.Fatalf("ReplacePasswordHash(stale) = %v, %v", ok, err)
	}
	if ok, err := r.ReplacePasswordHash(ctx, u.ID, "$h2$", "$h3$", t2); !ok || err != nil {
		t.Fatalf("ReplacePasswordHash = %v, %v", ok, err)
	}
	c, _ = r.CredentialsByID(ctx, u.ID)
	if c.PasswordHash != "$h3$" {
		t.Fatalf("hash = %q, want $h3$", c.PasswordHash)
	}
}

func testDisableEnable(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "dave@example.com")
	r := d.Users()
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	if err := r.SetDisabled(ctx, u.ID, true, t1); err != nil {
		t.Fatal(err)
	}
	got := mustUser(t, d, u.ID)
	if !got.Disabled() || !got.DisabledAt.Equal(t1.Truncate(time.Microsecond)) || !got.SessionsValidAfter.Equal(got.DisabledAt) {
		t.Fatalf("after disable: %+v", got)
	}
	// Disabling again keeps the first DisabledAt but still revokes.
	if err := r.SetDisabled(ctx, u.ID, true, t2); err != nil {
		t.Fatal(err)
	}
	got = mustUser(t, d, u.ID)
	if !got.DisabledAt.Equal(t1.Truncate(time.Microsecond)) || !got.SessionsValidAfter.Equal(t2.Truncate(time.Microsecond)) {
		t.Fatalf("after second disable: %+v", got)
	}
	if err := r.SetDisabled(ctx, u.ID, false, t2); err != nil {
		t.Fatal(err)
	}
	if got = mustUser(t, d, u.ID); got.Disabled() {
		t.Fatalf("after enable: %+v", got)
	}
}

func testRolesVerifiedRevoke(t *testing.T, d *db.DB) {
	u := mustCreate(t, d, "erin@example.com")
	r := d.Users()
	if err := r.SetRoles(ctx, u.ID, []account.Role{account.RoleAdmin}, t0); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, d, u.ID); !got.IsAdmin() || !got.HasRole(account.RoleUser) {
		t.Fatalf("roles = %v", got.Roles)
	}
	if err := r.SetRoles(ctx, u.ID, nil, t0); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, d, u.ID); got.IsAdmin() || !slices.Equal(got.Roles, []account.Role{account.RoleUser}) {
		t.Fatalf("roles = %v", got.Roles)
	}
	if err := r.SetRoles(ctx, u.ID, []account.Role{"root"}, t0); err == nil {
		t.Fatal("SetRoles(root) succeeded")
	}
	t1 := t0.Add(time.Hour)
	if err := r.SetEmailVerified(ctx, u.ID, t1, t1); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, d, u.ID); !got.EmailVerifiedAt.Equal(t1.Truncate(time.Microsecond)) {
		t.Fatalf("EmailVerifiedAt = %v", got.EmailVerifiedAt)
	}
	if err := r.SetEmailVerified(ctx, u.ID, time.Time{}, t1); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, d, u.ID); got.EmailVerified() {
		t.Fatal("still verified after clearing")
	}
	t2 := t0.Add(2 * time.Hour)
	if err := r.RevokeSessions(ctx, u.ID, t2); err != nil {
		t.Fatal(err)
	}
	got := mustUser(t, d, u.ID)
	if !got.SessionsValidAfter.Equal(t2.Truncate(time.Microsecond)) || got.SessionValid(t1) || !got.SessionValid(t2) {
		t.Fatalf("after revoke: %+v", got)
	}
}

func testListUsers(t *testing.T, d *db.DB) {
	for i := range 7 {
		mustCreate(t, d, fmt.Sprintf("user%d@example.com", i))
	}
	odd := newUser("per%cent_x@example.org", t0)
	odd.DisplayName = "Zoë"
	if _, err := d.Users().CreateUser(ctx, odd); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q          account.UserQuery
		wantEmails []string
		wantTotal  int
	}{
		{account.UserQuery{Limit: 3}, []string{"user0@example.com", "user1@example.com", "user2@example.com"}, 8},
		{account.UserQuery{Limit: 3, Offset: 6}, []string{"user6@example.com", "per%cent_x@example.org"}, 8},
		{account.UserQuery{Limit: 3, Offset: 30}, nil, 8},
		{account.UserQuery{Search: "user3", Limit: 10}, []string{"user3@example.com"}, 1},
		{account.UserQuery{Search: "name user5", Limit: 10}, []string{"user5@example.com"}, 1}, // display name
		{account.UserQuery{Search: "%", Limit: 10}, []string{"per%cent_x@example.org"}, 1},     // literal %
		{account.UserQuery{Search: "t_x", Limit: 10}, []string{"per%cent_x@example.org"}, 1},   // literal _
		{account.UserQuery{Search: "r_", Limit: 10}, nil, 0},
		{account.UserQuery{Search: "example.org", Limit: 10}, []string{"per%cent_x@example.org"}, 1},
	}
	for _, tc := range tests {
		users, total, err := d.Users().ListUsers(ctx, tc.q)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", tc.q, err)
		}
		var emails []string
		for _, u := range users {
			emails = append(emails, u.Email)
		}
		if !slices.Equal(emails, tc.wantEmails) || total != tc.wantTotal {
			t.Errorf("ListUsers(%+v) = %v, %d; want %v, %d", tc.q, emails, total, tc.wantEmails, tc.wantTotal)
		}
	}
}

func testAudit(t *testing.T, d *db.DB) {
	alice := mustCreate(t, d, "alice@example.com")
	admin := mustCreate(t, d, "admin@example.com")
	a := d.Audit()
	evs := []account.Event{
		{At: t0, UserID: alice.ID, Name: account.EventRegister, Outcome: account.OutcomeSuccess, IP: "192.0.2.1", UserAgent: "ua1"},
		{At: t0.Add(time.Minute), UserID: alice.ID, Name: account.EventLoginFailure, Outcome: account.OutcomeFailure, Detail: "wrong password"},
		{At: t0.Add(2 * time.Minute), Name: account.EventLoginFailure, Outcome: account.OutcomeFailure, Detail: "unknown email"},
		{At: t0.Add(3 * time.Minute), UserID: alice.ID, ActorID: admin.ID, Name: account.EventAdminDisable, Outcome: account.OutcomeSuccess, IP: "2001:db8::1"},
		{At: t0.Add(4 * time.Minute), UserID: alice.ID, Name: account.EventLoginSuccess, Outcome: account.OutcomeSuccess},
	}
	for i, e := range evs {
		id, err := a.InsertAudit(ctx, e)
		if err != nil || id <= 0 {
			t.Fatalf("InsertAudit #%d = %d, %v", i, id, err)
		}
	}
	names := func(es []account.Event) string {
		var s []string
		for _, e := range es {
			s = append(s, string(e.Name))
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		f    account.AuditFilter
		want string
	}{
		{account.AuditFilter{}, "login.success admin.disable login.failure login.failure register"},
		{account.AuditFilter{Limit: 2}, "login.success admin.disable"},
		{account.AuditFilter{Limit: 2, Offset: 2}, "login.failure login.failure"},
		{account.AuditFilter{UserID: alice.ID}, "login.success admin.disable login.failure register"},
		{account.AuditFilter{UserID: admin.ID}, ""},
		{account.AuditFilter{Name: account.EventLoginFailure}, "login.failure login.failure"},
		{account.AuditFilter{UserID: alice.ID, Name: account.EventLoginFailure}, "login.failure"},
		{account.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, "login.failure login.failure"},
		{account.AuditFilter{Since: t0.Add(3 * time.Minute)}, "login.success admin.disable"},
		{account.AuditFilter{Until: t0.Add(time.Minute)}, "register"},
	}
	for _, tc := range tests {
		got, err := a.ListAudit(ctx, tc.f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", tc.f, err)
		}
		if names(got) != tc.want {
			t.Errorf("ListAudit(%+v) = %q, want %q", tc.f, names(got), tc.want)
		}
	}
	got, _ := a.ListAudit(ctx, account.AuditFilter{Name: account.EventAdminDisable})
	if len(got) != 1 {
		t.Fatalf("admin.disable events = %d", len(got))
	}
	e := got[0]
	if e.UserID != alice.ID || e.ActorID != admin.ID || e.IP != "2001:db8::1" || e.Outcome != account.OutcomeSuccess ||
		!e.At.Equal(t0.Add(3*time.Minute).Truncate(time.Microsecond)) || e.At.Location() != time.UTC {
		t.Errorf("admin.disable event = %+v", e)
	}
	got, _ = a.ListAudit(ctx, account.AuditFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(3 * time.Minute)})
	if len(got) != 1 || got[0].UserID != 0 || got[0].ActorID != 0 || got[0].Detail != "unknown email" {
		t.Errorf("anonymous event = %+v", got)
	}
}

func testAuditForeignKeys(t *testing.T, d *db.DB) {
	// Foreign keys are enforced (the SQLite pragma is on for every connection).
	_, err := d.Audit().InsertAudit(ctx, account.Event{At: t0, UserID: 999, Name: "x", Outcome: "y"})
	if err == nil {
		t.Fatal("audit event for a missing user was accepted: foreign keys are off")
	}
}

func testConcurrentCreate(t *testing.T, d *db.DB) {
	for round := range 5 {
		email := fmt.Sprintf("race%d@example.com", round)
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				e := email
				if i == 1 {
					e = strings.ToUpper(email)
				}
				_, errs[i] = d.Users().CreateUser(ctx, newUser(e, t0))
			})
		}
		wg.Wait()
		won, taken := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, account.ErrEmailTaken):
				taken++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 || taken != 1 {
			t.Fatalf("round %d: %d won, %d taken; want exactly one winner", round, won, taken)
		}
	}
}
