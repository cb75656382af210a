package account_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/password"
)

var importNow = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func newTestImporter(t *testing.T, store account.ImportStore, opts ...password.Option) *account.Importer {
	t.Helper()
	h, err := password.NewHasher(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return account.NewImporter(account.ImporterConfig{Store: store, Hashes: h, Now: func() time.Time { return importNow }})
}

const (
	wzHash   = "pbkdf2:sha256:1000$TMqy0vUglSrJaDOe$3b3d4fac0adc9bdd35d36da4ca5fdb93fa5a7c8891fc454b4f197f2ef3be4fc7"
	djArgon2 = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
)

func TestImportValidate(t *testing.T) {
	im := newTestImporter(t, mustOpenDB(t).Imports())
	ok := account.ImportRow{Email: "Ada@Example.com", PasswordHash: wzHash}
	with := func(f func(r *account.ImportRow)) account.ImportRow { r := ok; f(&r); return r }
	tests := []struct {
		name string
		row  account.ImportRow
		want string // "" for valid; else the whole error text
	}{
		{"minimal", ok, ""},
		{"everything", account.ImportRow{Email: " ada@example.com ", PasswordHash: " " + wzHash + " ", DisplayName: " Ada Lovelace ",
			Roles: []string{"admin", " user", ""}, EmailVerified: "TRUE", CreatedAt: "2019-05-06T07:08:09.5+02:00"}, ""},
		{"verified 1", with(func(r *account.ImportRow) { r.EmailVerified = "1" }), ""},
		{"verified f", with(func(r *account.ImportRow) { r.EmailVerified = "f" }), ""},
		{"missing both", account.ImportRow{}, "email: missing; password_hash: missing"},
		{"bad email", with(func(r *account.ImportRow) { r.Email = "Ada <ada@example.com>" }), "email: not a plain email address (ASCII, no name or angle brackets)"},
		{"non-ascii email", with(func(r *account.ImportRow) { r.Email = "аda@example.com" }), "email: not a plain email address (ASCII, no name or angle brackets)"},
		{"long email", with(func(r *account.ImportRow) { r.Email = strings.Repeat("a", 250) + "@example.com" }), "email: longer than 254 bytes"},
		{"unknown hash", with(func(r *account.ImportRow) { r.PasswordHash = "md5$salt$00" }), "password_hash: unsupported hash format: unknown format"},
		{"django unusable", with(func(r *account.ImportRow) { r.PasswordHash = "!xyz" }), "password_hash: unsupported hash format: unknown format"},
		{"malformed hash", with(func(r *account.ImportRow) { r.PasswordHash = "pbkdf2:sha256:1000$salt$zz" }), "password_hash: malformed hash: werkzeug: want 64 hex digits, got 2"},
		{"absurd iterations", with(func(r *account.ImportRow) { r.PasswordHash = strings.Replace(wzHash, ":1000$", ":99999999$", 1) }),
			"password_hash: work factor over this server's limits: pbkdf2 iterations 99999999 over limit 2000000"},
		{"absurd bcrypt", with(func(r *account.ImportRow) {
			r.PasswordHash = "$2b$31$" + strings.Repeat("a", 53)
		}), "password_hash: work factor over this server's limits: bcrypt cost 31 over limit 14"},
		{"argon2 over the memory cap", with(func(r *account.ImportRow) { r.PasswordHash = strings.Replace(djArgon2, "m=102400", "m=262144", 1) }),
			"password_hash: work factor over this server's limits: argon2 memory 262144 over limit 131072"},
		{"long name", with(func(r *account.ImportRow) { r.DisplayName = strings.Repeat("é", 65) }), "display_name: longer than 64 characters"},
		{"control in name", with(func(r *account.ImportRow) { r.DisplayName = "a\x00b" }), "display_name: contains control or invisible formatting characters"},
		{"bidi in name", with(func(r *account.ImportRow) { r.DisplayName = "a\u202eb" }), "display_name: contains control or invisible formatting characters"},
		{"bad utf-8 name", with(func(r *account.ImportRow) { r.DisplayName = "a\xffb" }), "display_name: not valid UTF-8"},
		{"unknown role", with(func(r *account.ImportRow) { r.Roles = []string{"user", "Admin"} }), `roles: unknown role "Admin" (want user or admin)`},
		{"bad verified", with(func(r *account.ImportRow) { r.EmailVerified = "yes" }), `email_verified: want true or false, got "yes"`},
		{"bad time", with(func(r *account.ImportRow) { r.CreatedAt = "2021-03-04 05:06:07" }),
			`created_at: want an RFC 3339 time such as 2021-03-04T05:06:07Z, got "2021-03-04 05:06:07"`},
		{"long bad time", with(func(r *account.ImportRow) { r.CreatedAt = strings.Repeat("9", 100) }),
			`created_at: want an RFC 3339 time such as 2021-03-04T05:06:07Z, got "` + strings.Repeat("9", 40) + `"…`},
		{"old time", with(func(r *account.ImportRow) { r.CreatedAt = "1969-12-31T23:59:59Z" }), "created_at: before 1970"},
		{"future time", with(func(r *account.ImportRow) { r.CreatedAt = "2026-04-02T09:00:01Z" }), "created_at: in the future"},
		{"near future ok", with(func(r *account.ImportRow) { r.CreatedAt = "2026-04-02T08:59:59Z" }), ""},
		{"several", account.ImportRow{Email: "x", PasswordHash: "x", Roles: []string{"root"}, EmailVerified: "2", CreatedAt: "now"},
			`email: not a plain email address (ASCII, no name or angle brackets); password_hash: unsupported hash format: unknown format; ` +
				`roles: unknown role "root" (want user or admin); email_verified: want true or false, got "2"; ` +
				`created_at: want an RFC 3339 time such as 2021-03-04T05:06:07Z, got "now"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := im.Validate(tc.row)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("Validate = %q\nwant       %q", got, tc.want)
			}
			if err == nil && (u.EmailKey != strings.ToLower(u.Email) || u.Format != password.FormatWerkzeugPBKDF2SHA256 || u.PasswordHash != wzHash) {
				t.Fatalf("Validate = %+v", u)
			}
			if strings.Contains(got, "TMqy0vUglSrJaDOe") {
				t.Fatal("the error shows the hash")
			}
		})
	}
	u, err := im.Validate(tests[1].row)
	if err != nil || u.Email != "ada@example.com" || u.DisplayName != "Ada Lovelace" || !u.EmailVerified ||
		!slices.Equal(u.Roles, []account.Role{account.RoleAdmin, account.RoleUser}) ||
		!u.CreatedAt.Equal(time.Date(2019, 5, 6, 5, 8, 9, 5e8, time.UTC)) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("Validate(everything) = %+v, %v", u, err)
	}
}

// The caps come from the hasher given: the defaults admit Django's argon2
// default (m=102400, p=8); lowering them refuses it.
func TestImportValidateFollowsHasherLimits(t *testing.T) {
	im := newTestImporter(t, mustOpenDB(t).Imports())
	u, err := im.Validate(account.ImportRow{Email: "d@example.com", PasswordHash: djArgon2})
	if err != nil || u.Format != password.FormatDjangoArgon2 {
		t.Fatalf("Validate = %+v, %v", u, err)
	}
	im = newTestImporter(t, mustOpenDB(t).Imports(), password.WithLimits(password.Limits{MaxArgon2Memory: 65536, MaxArgon2Threads: 4}))
	if _, err := im.Validate(account.ImportRow{Email: "d@example.com", PasswordHash: djArgon2}); err == nil ||
		err.Error() != "password_hash: work factor over this server's limits: argon2 memory 102400 over limit 65536" {
		t.Fatalf("Validate with lower caps = %v", err)
	}
}

// Issue 15: hashes at the default work factors of Django (argon2, and
// PBKDF2 at 1,500,000), argon2-cffi and Werkzeug 3 import with the default
// settings, sign in through a default-budget pool and are argon2id after
// the first sign-in. Under -race or -short only the argon2 hashes are
// signed in with (the PBKDF2 ones take seconds there).
func TestImportDefaultWorkFactorsThenSignIn(t *testing.T) {
	slow := testing.Short() || raceEnabled
	d, pool, im, users, pws := validFixtures(t, "defaults.json", func(f legacyFixture) bool {
		return !slow || strings.Contains(f.Format, "argon2")
	})
	if r, err := im.Import(ctx, users, meta); err != nil || r.Created != len(users) {
		t.Fatalf("Import = %+v, %v", r, err)
	}
	wantUpgradedAtSignIn(t, d, pool, users, pws)
}

// validFixtures validates every hash of a password/testdata fixture file
// with a cheap pool's hasher (default limits) and returns the users and
// passwords of those keep selects, ready to import.
func validFixtures(t *testing.T, name string, keep func(legacyFixture) bool) (*db.DB, *password.Pool, *account.Importer, []account.ImportUser, []string) {
	t.Helper()
	d := mustOpenDB(t)
	pool := cheapPool(t, 64)
	im := account.NewImporter(account.ImporterConfig{Store: d.Imports(), Hashes: pool.Hasher(), Now: func() time.Time { return importNow }})
	var users []account.ImportUser
	var pws []string
	for i, f := range mustLoadFixtures(t, name) {
		u, err := im.Validate(account.ImportRow{Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: f.Hash, Roles: []string{"user"}})
		if err != nil {
			t.Fatalf("%s %q: %v", f.Format, f.Hash, err)
		}
		if string(u.Format) != f.Format {
			t.Fatalf("format %s, want %s", u.Format, f.Format)
		}
		if !keep(f) {
			continue
		}
		u.Source = fmt.Sprintf("%s line %d", name, i+1)
		users = append(users, u)
		pws = append(pws, f.Password)
	}
	return d, pool, im, users, pws
}

// mustLoadFixtures reads a fixture file of password/testdata.
func mustLoadFixtures(t *testing.T, name string) []legacyFixture {
	t.Helper()
	raw, err := os.ReadFile("../../password/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var fx []legacyFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

// wantUpgradedAtSignIn signs every imported user in, with a wrong password
// (refused) and then theirs, and checks that the stored hash is then the
// pool's argon2id (m=64) and the creation time the import's.
func wantUpgradedAtSignIn(t *testing.T, d *db.DB, pool *password.Pool, users []account.ImportUser, pws []string) {
	t.Helper()
	svc := realService(d, pool)
	for i, u := range users {
		if _, err := svc.Authenticate(ctx, u.Email, "wrong "+pws[i], meta); err == nil {
			t.Fatalf("%s: wrong password accepted", u.Format)
		}
		got, err := svc.Authenticate(ctx, u.Email, pws[i], meta)
		if err != nil {
			t.Fatalf("%s: Authenticate: %v", u.Format, err)
		}
		c, err := d.Users().CredentialsByID(ctx, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := password.Identify(c.PasswordHash); err != nil || f != password.FormatArgon2id || !strings.Contains(c.PasswordHash, "m=64,") {
			t.Fatalf("%s: stored hash after sign-in = %q (%v)", u.Format, c.PasswordHash, err)
		}
		if !c.User.CreatedAt.Equal(importNow) {
			t.Fatalf("CreatedAt = %v", c.User.CreatedAt)
		}
	}
}

type legacyFixture struct {
	Format    string `json:"format"`
	Password  string `json:"password"`
	Hash      string `json:"hash"`
	Realistic bool   `json:"realistic"`
}

// Hashes made by the real Werkzeug, Django, passlib and bcrypt libraries
// are imported, sign in with their passwords and are then argon2id.
func TestImportThenSignInUpgrades(t *testing.T) {
	d, pool, im, users, pws := validFixtures(t, "legacy.json", func(f legacyFixture) bool { return !f.Realistic })
	if n, err := im.CountExisting(ctx, users); err != nil || n != 0 {
		t.Fatalf("CountExisting before = %d, %v", n, err)
	}
	r, err := im.Import(ctx, users, meta)
	if err != nil || r.Created != len(users) || r.Skipped != 0 {
		t.Fatalf("Import = %+v, %v", r, err)
	}
	if n, err := im.CountExisting(ctx, users); err != nil || n != len(users) {
		t.Fatalf("CountExisting after = %d, %v", n, err)
	}
	if r, err := im.Import(ctx, users, meta); err != nil || r.Created != 0 || r.Skipped != len(users) {
		t.Fatalf("Import again = %+v, %v", r, err)
	}
	evs, err := d.Audit().ListAudit(ctx, account.AuditFilter{Name: account.EventUserImport, Limit: 1000})
	if err != nil || len(evs) != len(users) {
		t.Fatalf("%d user.import events, %v; want %d", len(evs), err, len(users))
	}
	if e := evs[0]; e.UserAgent != meta.UserAgent || e.IP != meta.IP || !strings.Contains(e.Detail, "hash format ") || !strings.Contains(e.Detail, "legacy.json line") {
		t.Fatalf("event = %+v", e)
	}

	wantUpgradedAtSignIn(t, d, pool, users, pws)
}
