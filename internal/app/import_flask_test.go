package app

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// importDocExport returns the command line and the SQL of an export shown
// in docs/migrating.md: the line that starts with prefix and ends with
// <<'SQL', and the lines up to the closing SQL.
func importDocExport(t *testing.T, prefix string) (cmdline, query string) {
	t.Helper()
	raw, err := os.ReadFile("../../docs/migrating.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, prefix) || !strings.HasSuffix(l, "<<'SQL'") {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "SQL" {
				return l, strings.Join(lines[i+1:j], "\n") + "\n"
			}
		}
	}
	t.Fatalf("docs/migrating.md has no %q export", prefix)
	return "", ""
}

// importFlaskUser is a row of a Flask-SQLAlchemy `user` table.
type importFlaskUser struct {
	email, name, hash, password string
	admin, confirmed            bool
	created                     time.Time
}

// importFlaskUsers takes the users with Werkzeug hashes from the CSV fixture (made
// by the real Werkzeug), plus an account without a password, as OAuth-only
// users have.
func importFlaskUsers(t *testing.T) []importFlaskUser {
	t.Helper()
	pws := importFixturePasswords(t)
	var us []importFlaskUser
	for i, r := range importFixtureRows(t, filepath.Join(importFixtures, "users.csv")) {
		if !strings.HasPrefix(r.PasswordHash, "pbkdf2:") && !strings.HasPrefix(r.PasswordHash, "scrypt:") {
			continue
		}
		us = append(us, importFlaskUser{email: r.Email, name: r.DisplayName, hash: r.PasswordHash, password: pws[r.Email],
			admin: i%2 == 0, confirmed: i%3 == 0, created: time.Date(2015+len(us), 2, 3, 4, 5, 6, 789000000, time.UTC)})
	}
	if len(us) < 5 {
		t.Fatalf("only %d Werkzeug fixtures", len(us))
	}
	us[1].name, us[1].created = "", time.Time{} // NULL name and created_at
	return append(us, importFlaskUser{email: "oauth-only@example.com"})
}

// importFlaskExport imports the CSV made by a documented export and signs
// every user in.
func importFlaskExport(t *testing.T, csvPath string, us []importFlaskUser) {
	t.Helper()
	ts := startServer(t, importServerArgs...)
	d := importDB(t, ts)
	n := len(us) - 1 // the account without a password is not exported
	out := ts.mustCLI("", "user", "import", "--dry-run", csvPath)
	importWantContains(t, "dry run", out, fmt.Sprintf("%d valid, 0 invalid", n), fmt.Sprintf("would create %d accounts", n))
	out = ts.mustCLI("", "user", "import", csvPath)
	importWantContains(t, "import", out, fmt.Sprintf("created %d accounts", n))
	for _, u := range us[:n] {
		c := importCredentials(t, d, u.email)
		wantCreated := u.created.Truncate(time.Second)
		if u.created.IsZero() {
			wantCreated = c.User.UpdatedAt // the import time
		}
		if c.PasswordHash != u.hash || c.User.DisplayName != strings.TrimSpace(u.name) || c.User.IsAdmin() != u.admin ||
			c.User.EmailVerified() != u.confirmed || !c.User.CreatedAt.Equal(wantCreated) {
			t.Fatalf("%s imported as %+v (hash %q)", u.email, c.User, c.PasswordHash)
		}
		ts.browser().signIn(u.email, u.password)
		importWantArgon2id(t, d, u.email)
	}
}

// importFlaskTable creates the user table of the documented model, as
// SQLAlchemy's create_all() does, and fills it with importFlaskUsers.
func importFlaskTable(t *testing.T, app *sql.DB, table, idType, timeType, insert string) []importFlaskUser {
	t.Helper()
	if _, err := app.Exec(`CREATE TABLE ` + table + ` (
	id ` + idType + ` NOT NULL,
	email VARCHAR(120) NOT NULL,
	name VARCHAR(100),
	password_hash VARCHAR(256),
	is_admin BOOLEAN,
	email_confirmed BOOLEAN,
	created_at ` + timeType + `,
	PRIMARY KEY (id),
	UNIQUE (email)
)`); err != nil {
		t.Fatal(err)
	}
	us := importFlaskUsers(t)
	for _, u := range us {
		var name, hash, created any // NULL when empty
		if u.name != "" {
			name = u.name
		}
		if u.hash != "" {
			hash = u.hash
		}
		if !u.created.IsZero() {
			created = u.created.Format("2006-01-02 15:04:05.000000")
		}
		if _, err := app.Exec(insert, u.email, name, hash, u.admin, u.confirmed, created); err != nil {
			t.Fatal(err)
		}
	}
	return us
}

func importRunExport(t *testing.T, name, dir, query string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(query)
	cmd.Env = append(os.Environ(), "HOME="+dir) // no ~/.sqliterc or ~/.psqlrc
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", name, err, stderr)
	}
	p := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The SQLite export of docs/migrating.md, run with the sqlite3 shell on a
// table as Flask-SQLAlchemy creates it, gives a file that imports, and
// every user signs in with the original password.
func TestImportFlaskSQLiteExport(t *testing.T) {
	sqlite3 := testenv.Command(t, "sqlite3")
	cmdline, query := importDocExport(t, "sqlite3 ")
	if cmdline != "sqlite3 -header -csv instance/app.db > users.csv <<'SQL'" {
		t.Fatalf("the documented command changed: %s", cmdline)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "instance"), 0o700); err != nil {
		t.Fatal(err)
	}
	app, err := sql.Open("sqlite", filepath.Join(dir, "instance", "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	// What SQLAlchemy's create_all() emits for the documented model; it
	// stores booleans as 0/1 and DateTime as text.
	us := importFlaskTable(t, app, "user", "INTEGER", "DATETIME",
		`INSERT INTO user (email, name, password_hash, is_admin, email_confirmed, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
	app.Close()
	p := importRunExport(t, sqlite3, dir, query, "-header", "-csv", "instance/app.db")
	importFlaskExport(t, p, us)
}

// The same with the PostgreSQL export and psql.
func TestImportFlaskPostgresExport(t *testing.T) {
	psql := testenv.Command(t, "psql")
	cmdline, query := importDocExport(t, "psql ")
	if !strings.HasSuffix(cmdline, `" --no-psqlrc --quiet -v ON_ERROR_STOP=1 > users.csv <<'SQL'`) {
		t.Fatalf("the documented command changed: %s", cmdline)
	}
	pgURL := testenv.PostgresSchemaURL(t)
	app, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	us := importFlaskTable(t, app, `"user"`, "SERIAL", "TIMESTAMP WITHOUT TIME ZONE",
		`INSERT INTO "user" (email, name, password_hash, is_admin, email_confirmed, created_at) VALUES ($1, $2, $3, $4, $5, $6::timestamp)`)
	// psql takes the schema as a libpq "options" parameter, and runs in a
	// session time zone other than UTC, which the query must not mind.
	pu, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Set("options", "-c search_path="+q.Get("search_path")+" -c TimeZone=America/New_York")
	q.Del("search_path")
	pu.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // libpq does not read + as a space
	p := importRunExport(t, psql, t.TempDir(), query, pu.String(), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1")
	importFlaskExport(t, p, us)
}
