package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

// The import repository, run unchanged against both engines.
func TestImportRepositorySQLite(t *testing.T)   { runImportSuite(t, openSQLite) }
func TestImportRepositoryPostgres(t *testing.T) { runImportSuite(t, openPostgres) }

func runImportSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"CreatesWithAudit", testImportCreatesWithAudit},
		{"SkipsExisting", testImportSkipsExisting},
		{"RollsBackBatch", testImportRollsBackBatch},
		{"ExistingEmailKeys", testImportExistingEmailKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var (
	importAt      = time.Date(2026, 4, 1, 9, 0, 0, 987654321, time.UTC)
	importCreated = time.Date(2019, 5, 6, 7, 8, 9, 123456000, time.UTC)
)

func importInsert(email string) account.ImportInsert {
	return account.ImportInsert{
		User: account.NewUser{Email: email, EmailKey: account.EmailKey(email), DisplayName: "N " + email,
			PasswordHash: "pbkdf2:sha256:1000$salt$" + email, Roles: []account.Role{account.RoleUser}, Now: importAt},
		CreatedAt: importCreated,
		Event: account.Event{At: importAt, Name: account.EventUserImport, Outcome: account.OutcomeSuccess,
			UserAgent: "gatehouse-cli", Detail: "hash format werkzeug-pbkdf2-sha256; from users.csv line 2"},
	}
}

func mustImport(t *testing.T, d *db.DB, in ...account.ImportInsert) []int64 {
	t.Helper()
	ids, err := d.Imports().ImportUsers(ctx, in)
	if err != nil {
		t.Fatalf("ImportUsers: %v", err)
	}
	if len(ids) != len(in) {
		t.Fatalf("ImportUsers returned %d ids for %d users", len(ids), len(in))
	}
	return ids
}

func importEvents(t *testing.T, d *db.DB) []account.Event {
	t.Helper()
	evs, err := d.Audit().ListAudit(ctx, account.AuditFilter{Name: account.EventUserImport, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func testImportCreatesWithAudit(t *testing.T, d *db.DB) {
	admin := importInsert("Admin@Example.com")
	admin.User.Roles = []account.Role{account.RoleAdmin}
	admin.User.EmailVerifiedAt = importAt
	ids := mustImport(t, d, importInsert("ada@example.com"), admin)
	if ids[0] <= 0 || ids[1] <= ids[0] {
		t.Fatalf("ids = %v", ids)
	}
	c, err := d.Users().CredentialsByEmailKey(ctx, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u := c.User
	if u.ID != ids[1] || u.Email != "Admin@Example.com" || u.DisplayName != "N Admin@Example.com" ||
		!slices.Equal(u.Roles, []account.Role{account.RoleAdmin, account.RoleUser}) ||
		!u.CreatedAt.Equal(importCreated) || !u.UpdatedAt.Equal(importAt.Truncate(time.Microsecond)) ||
		!u.SessionsValidAfter.Equal(importAt.Truncate(time.Microsecond)) ||
		!u.EmailVerifiedAt.Equal(importAt.Truncate(time.Microsecond)) || u.Disabled() ||
		c.PasswordHash != "pbkdf2:sha256:1000$salt$Admin@Example.com" {
		t.Fatalf("imported user = %+v, hash %q", u, c.PasswordHash)
	}
	if u := mustUser(t, d, ids[0]); u.EmailVerified() || !slices.Equal(u.Roles, []account.Role{account.RoleUser}) {
		t.Fatalf("first user = %+v", u)
	}
	evs := importEvents(t, d)
	if len(evs) != 2 {
		t.Fatalf("audit events = %+v", evs)
	}
	got := []int64{evs[0].UserID, evs[1].UserID}
	slices.Sort(got)
	if !slices.Equal(got, ids) || evs[0].UserAgent != "gatehouse-cli" || !strings.Contains(evs[0].Detail, "werkzeug-pbkdf2-sha256") ||
		evs[0].Outcome != account.OutcomeSuccess || !evs[0].At.Equal(importAt.Truncate(time.Microsecond)) {
		t.Fatalf("audit events = %+v", evs)
	}
}

func testImportSkipsExisting(t *testing.T, d *db.DB) {
	existing := mustCreate(t, d, "bob@example.com")
	// Same address in another case, and twice within one batch.
	ids := mustImport(t, d, importInsert("BOB@example.com"), importInsert("carol@example.com"), importInsert("Carol@Example.com"))
	if ids[0] != 0 || ids[1] == 0 || ids[2] != 0 {
		t.Fatalf("ids = %v; want the existing and the repeated address skipped", ids)
	}
	c, err := d.Users().CredentialsByEmailKey(ctx, "bob@example.com")
	if err != nil || !equalUsers(c.User, existing) || c.PasswordHash != "$test$bob@example.com" {
		t.Fatalf("existing account changed: %+v, %v", c, err)
	}
	if c, _ := d.Users().CredentialsByEmailKey(ctx, "carol@example.com"); c.User.Email != "carol@example.com" {
		t.Fatalf("first of two in a batch was not the one kept: %+v", c.User)
	}
	// Running the same batch again changes nothing.
	again := mustImport(t, d, importInsert("BOB@example.com"), importInsert("carol@example.com"), importInsert("Carol@Example.com"))
	if !slices.Equal(again, []int64{0, 0, 0}) {
		t.Fatalf("rerun ids = %v", again)
	}
	if evs := importEvents(t, d); len(evs) != 1 || evs[0].UserID != ids[1] {
		t.Fatalf("audit events = %+v; want one, for carol", evs)
	}
}

func testImportRollsBackBatch(t *testing.T, d *db.DB) {
	// The third user breaks a constraint: the whole batch is undone.
	bad := importInsert("x@example.com")
	bad.User.Email = strings.Repeat("x", 300) + "@example.com"
	bad.User.EmailKey = strings.ToLower(bad.User.Email)
	if _, err := d.Imports().ImportUsers(ctx, []account.ImportInsert{importInsert("dan@example.com"), importInsert("eve@example.com"), bad}); err == nil {
		t.Fatal("ImportUsers with an over-long email succeeded")
	}
	unknown := importInsert("root@example.com")
	unknown.User.Roles = []account.Role{"root"}
	if _, err := d.Imports().ImportUsers(ctx, []account.ImportInsert{importInsert("dan@example.com"), unknown}); err == nil {
		t.Fatal("ImportUsers with role root succeeded")
	}
	// A cancelled context writes nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Imports().ImportUsers(cctx, []account.ImportInsert{importInsert("dan@example.com")}); err == nil {
		t.Fatal("ImportUsers with a cancelled context succeeded")
	}
	if _, total, err := d.Users().ListUsers(ctx, account.UserQuery{Limit: 10}); err != nil || total != 0 {
		t.Fatalf("users after failed batches = %d, %v; want 0", total, err)
	}
	if evs := importEvents(t, d); len(evs) != 0 {
		t.Fatalf("audit events after failed batches = %+v", evs)
	}
	// The database is still usable afterwards.
	mustImport(t, d, importInsert("dan@example.com"))
}

func testImportExistingEmailKeys(t *testing.T, d *db.DB) {
	var batch []account.ImportInsert
	for i := range 150 {
		batch = append(batch, importInsert(fmt.Sprintf("user%03d@example.com", i)))
	}
	mustImport(t, d, batch...)
	var keys []string
	for i := 100; i < 350; i++ { // spans three chunks, the last one short
		keys = append(keys, fmt.Sprintf("user%03d@example.com", i))
	}
	found, err := d.Imports().ExistingEmailKeys(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 50 {
		t.Fatalf("found %d keys, want 50", len(found))
	}
	for i := 100; i < 150; i++ {
		if !found[fmt.Sprintf("user%03d@example.com", i)] {
			t.Fatalf("user%03d not found", i)
		}
	}
	if found, err := d.Imports().ExistingEmailKeys(ctx, []string{"USER001@example.com", "nobody@example.com"}); err != nil || len(found) != 0 {
		t.Fatalf("ExistingEmailKeys(not keys) = %v, %v", found, err)
	}
	if found, err := d.Imports().ExistingEmailKeys(ctx, nil); err != nil || len(found) != 0 {
		t.Fatalf("ExistingEmailKeys(nil) = %v, %v", found, err)
	}
}
