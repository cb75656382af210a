package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/signin"
	"github.com/gatehouse/gatehouse/password"
)

// importServerArgs let one test sign in a few dozen users from 127.0.0.1.
var importServerArgs = []string{"--login-ip-limit=10000/hour"}

const importFixtures = "../cli/testdata"

// importCSVHeader is the header line of an import CSV file.
const importCSVHeader = "email,password_hash,display_name,roles,email_verified,created_at\n"

// importFixturePasswords maps every fixture email to its password.
func importFixturePasswords(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(importFixtures, "passwords.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pws map[string]string
	if err := json.Unmarshal(raw, &pws); err != nil {
		t.Fatal(err)
	}
	return pws
}

// importDB opens the test server's database beside it.
func importDB(t *testing.T, ts *testServer) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(ts.dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func importCredentials(t *testing.T, d *db.DB, email string) account.Credentials {
	t.Helper()
	c, err := d.Users().CredentialsByEmailKey(context.Background(), account.EmailKey(email))
	if err != nil {
		t.Fatalf("%s: %v", email, err)
	}
	return c
}

// importCounts returns the number of users and of user.import events.
func importCounts(t *testing.T, d *db.DB) (users, events int) {
	t.Helper()
	ctx := context.Background()
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil {
		t.Fatal(err)
	}
	if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM audit_events WHERE event = 'user.import'").Scan(&events); err != nil {
		t.Fatal(err)
	}
	return users, events
}

// importCLI runs a command and returns stdout and stderr apart.
func (ts *testServer) importCLI(cmd ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = Run(context.Background(), append(append([]string{}, ts.args...), cmd...), ts.getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func importWantContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// importWantArgon2id checks that the stored hash is now the server's argon2id.
func importWantArgon2id(t *testing.T, d *db.DB, email string) {
	t.Helper()
	h := importCredentials(t, d, email).PasswordHash
	if f, err := password.Identify(h); err != nil || f != password.FormatArgon2id || !strings.Contains(h, "$m=1024,t=1,p=1$") {
		t.Fatalf("%s: stored hash after sign-in is %q (%v %v), want the server's argon2id", email, h, f, err)
	}
}

// The fixtures made by the real Werkzeug, Django, passlib and bcrypt
// libraries: a dry run writes nothing, the import creates every account
// with its legacy hash as is, each user signs in through the server with
// the original password and is then stored as argon2id, and running the
// import again changes nothing.
func TestImportFixturesSignInAndUpgrade(t *testing.T) {
	pws := importFixturePasswords(t)
	for _, file := range []string{"users.csv", "users.jsonl"} {
		t.Run(file, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join(importFixtures, file))
			if err != nil {
				t.Fatal(err)
			}
			ts := startServer(t, importServerArgs...)
			d := importDB(t, ts)
			rows := importFixtureRows(t, path)

			out := ts.mustCLI("", "user", "import", "--dry-run", path)
			importWantContains(t, "dry run", out, fmt.Sprintf("%d rows", len(rows)), fmt.Sprintf("%d valid, 0 invalid", len(rows)),
				fmt.Sprintf("would create %d accounts and skip 0 existing accounts (left unchanged)", len(rows)), "werkzeug-pbkdf2-sha256 2", "Nothing was written.")
			if u, e := importCounts(t, d); u != 0 || e != 0 {
				t.Fatalf("after the dry run: %d users, %d import events", u, e)
			}

			out = ts.mustCLI("", "user", "import", path)
			importWantContains(t, "import", out, fmt.Sprintf("created %d accounts, skipped 0 existing accounts", len(rows)))
			if u, e := importCounts(t, d); u != len(rows) || e != len(rows) {
				t.Fatalf("after the import: %d users, %d import events; want %d", u, e, len(rows))
			}
			for _, r := range rows {
				c := importCredentials(t, d, r.Email)
				u := c.User
				if c.PasswordHash != r.PasswordHash || u.Email != r.Email || u.DisplayName != strings.TrimSpace(r.DisplayName) ||
					u.IsAdmin() != slices.Contains(r.Roles, "admin") || u.EmailVerified() != (r.EmailVerified == "true") || u.Disabled() {
					t.Fatalf("imported %+v (hash %q)\nfrom %+v", u, c.PasswordHash, r)
				}
				if want, _ := time.Parse(time.RFC3339, r.CreatedAt); r.CreatedAt != "" && !u.CreatedAt.Equal(want) {
					t.Fatalf("%s: created_at %v, want %v", r.Email, u.CreatedAt, want)
				}
			}
			evs, err := d.Audit().ListAudit(context.Background(), account.AuditFilter{Name: account.EventUserImport, Limit: 1000})
			if err != nil || len(evs) != len(rows) {
				t.Fatalf("audit: %d events, %v", len(evs), err)
			}
			importWantContains(t, "audit detail", evs[len(evs)-1].Detail, "hash format werkzeug-pbkdf2-sha256; from "+file+" line ")
			if evs[0].UserAgent != "gatehouse-cli" || evs[0].Outcome != account.OutcomeSuccess {
				t.Fatalf("audit event %+v", evs[0])
			}

			for _, r := range rows {
				pw, ok := pws[r.Email]
				if !ok {
					t.Fatalf("no password for %s", r.Email)
				}
				ts.browser().signIn(strings.ToUpper(r.Email), pw)
				importWantArgon2id(t, d, r.Email)
				// The upgraded hash takes the same password.
				ts.browser().signIn(r.Email, pw)
			}
			first := rows[0]
			ts.browser().submit("/login", "/login", "email", first.Email, "password", pws[first.Email]+"x").want(t, 401, signin.GenericLoginError)

			// Again: nothing changes, and the upgraded hashes stay.
			out = ts.mustCLI("", "user", "import", path)
			importWantContains(t, "rerun", out, fmt.Sprintf("created 0 accounts, skipped %d existing accounts (left unchanged)", len(rows)))
			if u, e := importCounts(t, d); u != len(rows) || e != len(rows) {
				t.Fatalf("after the rerun: %d users, %d import events", u, e)
			}
			for _, r := range rows {
				importWantArgon2id(t, d, r.Email)
			}
		})
	}
}

// importFixtureRows reads a fixture file the way the fixture script wrote
// it, independently of the importer.
func importFixtureRows(t *testing.T, path string) []account.ImportRow {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []account.ImportRow
	if strings.HasSuffix(path, ".csv") {
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			rows = append(rows, account.ImportRow{Email: r[0], PasswordHash: r[1], DisplayName: r[2],
				Roles: strings.Split(r[3], ","), EmailVerified: r[4], CreatedAt: r[5]})
		}
		return rows
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var v struct {
			Email, PasswordHash, DisplayName, CreatedAt string
			Roles                                       any
			EmailVerified                               *bool
		}
		dec := json.NewDecoder(strings.NewReader(strings.NewReplacer(`"password_hash"`, `"PasswordHash"`, `"display_name"`, `"DisplayName"`,
			`"created_at"`, `"CreatedAt"`, `"email_verified"`, `"EmailVerified"`).Replace(line)))
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		r := account.ImportRow{Email: v.Email, PasswordHash: v.PasswordHash, DisplayName: v.DisplayName, CreatedAt: v.CreatedAt}
		switch roles := v.Roles.(type) {
		case string:
			r.Roles = strings.Split(roles, ",")
		case []any:
			for _, x := range roles {
				r.Roles = append(r.Roles, x.(string))
			}
		}
		if v.EmailVerified != nil && *v.EmailVerified {
			r.EmailVerified = "true"
		}
		rows = append(rows, r)
	}
	return rows
}

// writeImportFile writes content to a file named name in a temp dir.
func writeImportFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importFixtureHash returns the hash of a fixture user, for building files.
func importFixtureHash(t *testing.T, email string) string {
	t.Helper()
	for _, r := range importFixtureRows(t, filepath.Join(importFixtures, "users.csv")) {
		if r.Email == email {
			return r.PasswordHash
		}
	}
	t.Fatalf("no fixture %s", email)
	return ""
}

// Every kind of bad input is reported with its line and reason, and
// nothing is written.
func TestImportBadInputReportedWithLine(t *testing.T) {
	ts := startServer(t)
	d := importDB(t, ts)
	wz := importFixtureHash(t, "Csv-werkzeug-pbkdf2-sha256@Example.com")
	bc := importFixtureHash(t, "csv-bcrypt-2b@Example.com")
	ok := func(email string) string { return email + "," + wz + ",,,,\n" }
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"unknown hash", "u.csv", importCSVHeader + ok("a@example.com") + "b@example.com,md5$abc$0123,,,,\n",
			[]string{"u.csv:3: password_hash: unsupported hash format: unknown format", "dry run: 1 invalid row would stop the import", "u.csv: 1 invalid row; nothing was imported"}},
		{"plain md5 hex", "u.csv", importCSVHeader + "b@example.com,5f4dcc3b5aa765d61d8327deb882cf99,,,,\n",
			[]string{"u.csv:2: password_hash: unsupported hash format"}},
		{"absurd iterations", "u.csv", importCSVHeader + "b@example.com," + strings.Replace(wz, ":1000$", ":50000000$", 1) + ",,,,\n",
			[]string{"u.csv:2: password_hash: work factor over this server's limits: pbkdf2 iterations 50000000 over limit 2000000"}},
		{"absurd bcrypt cost", "u.csv", importCSVHeader + "b@example.com," + strings.Replace(bc, "$04$", "$20$", 1) + ",,,,\n",
			[]string{"u.csv:2: password_hash: work factor over this server's limits: bcrypt cost 20 over limit 14"}},
		{"absurd argon2 memory", "u.jsonl", `{"email":"b@example.com","password_hash":"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}` + "\n",
			[]string{"u.jsonl:1: password_hash: work factor over this server's limits: argon2 memory 4194304 over limit 65536"}},
		{"absurd scrypt", "u.csv", importCSVHeader + "b@example.com,scrypt:4194304:8:1$salt$" + strings.Repeat("00", 64) + ",,,,\n",
			[]string{"u.csv:2: password_hash: work factor over this server's limits: scrypt memory"}},
		{"malformed hash", "u.csv", importCSVHeader + "b@example.com,pbkdf2:sha256:1000$salt$xyz,,,,\n",
			[]string{"u.csv:2: password_hash: malformed hash: werkzeug: want 64 hex digits, got 3"}},
		{"oversized hash", "u.csv", importCSVHeader + "b@example.com,pbkdf2:sha256:1000$" + strings.Repeat("s", 2000) + "$00,,,,\n",
			[]string{"u.csv:2: password_hash: malformed hash: hash longer than 1024 bytes"}},
		{"missing fields", "u.csv", importCSVHeader + ",,,,,\n", []string{"u.csv:2: email: missing; password_hash: missing"}},
		{"bad fields", "u.csv", importCSVHeader + "Ada <a@example.com>," + wz + ",\"a\u202eb\",root,yes,2021-03-04 05:06:07\n",
			[]string{"u.csv:2: email: not a plain email address", "display_name: contains control or invisible formatting characters",
				`roles: unknown role "root" (want user or admin)`, `email_verified: want true or false, got "yes"`, "created_at: want an RFC 3339 time"}},
		{"oversized fields", "u.csv", importCSVHeader + strings.Repeat("a", 300) + "@example.com," + wz + "," + strings.Repeat("n", 65) + ",,,\n",
			[]string{"u.csv:2: email: longer than 254 bytes; display_name: longer than 64 characters"}},
		{"duplicate emails", "u.csv", importCSVHeader + ok("a@example.com") + ok("b@example.com") + ok("A@Example.COM"),
			[]string{"u.csv:4: email: the same address (ignoring case) as line 2; none of its rows is imported",
				"u.csv:2: email: the same address (ignoring case) is on line 4 too", "2 invalid rows; nothing was imported"}},
		{"duplicate emails jsonl", "u.jsonl", `{"email":"a@example.com","password_hash":"` + wz + `"}` + "\n" + `{"email":"A@EXAMPLE.com","password_hash":"` + wz + `"}` + "\n",
			[]string{"u.jsonl:2: email: the same address (ignoring case) as line 1"}},
		{"wrong field count", "u.csv", importCSVHeader + "a@example.com," + wz + "\n", []string{"u.csv:2: 2 fields, but the header has 6"}},
		{"broken quoting", "u.csv", importCSVHeader + ok("a@example.com") + "b@example.com," + wz + ",Zoe \"Z\" O'Brien,,,\n",
			[]string{`u.csv:3: broken CSV quoting: a " inside an unquoted field`, "nothing was imported"}},
		{"unclosed quote", "u.csv", importCSVHeader + "a@example.com," + wz + ",\"Zoe,,,\n" + ok("b@example.com"),
			[]string{"u.csv:2: broken CSV quoting: a quoted field opened on this line is not closed properly"}},
		{"quoted newline shifts lines", "u.csv", importCSVHeader + "a@example.com," + wz + ",\"two\nlines\",,,\n" + "b@example.com,md5$x,,,,\n",
			[]string{"u.csv:2: display_name: contains control", "u.csv:4: password_hash: unsupported hash format"}},
		{"latin-1", "u.csv", importCSVHeader + "a@example.com," + wz + ",Andr\xe9,,,\n", []string{"u.csv:2: not valid UTF-8 (save the file as UTF-8)"}},
		{"latin-1 jsonl", "u.jsonl", "{\"email\":\"a@example.com\",\"password_hash\":\"" + wz + "\",\"display_name\":\"Andr\xe9\"}\n",
			[]string{"u.jsonl:1: not valid UTF-8"}},
		{"utf-16", "u.csv", "\xFF\xFEe\x00m\x00a\x00i\x00l\x00", []string{"u.csv: the file is UTF-16; save it as UTF-8; nothing was imported"}},
		{"oversized line", "u.csv", importCSVHeader + ok("a@example.com") + "b@example.com," + wz + "," + strings.Repeat("x", 70000) + ",,,\n",
			[]string{"u.csv:3: a row longer than 64 KiB"}},
		{"oversized line jsonl", "u.jsonl", `{"email":"` + strings.Repeat("x", 70000) + `"}` + "\n", []string{"u.jsonl:1: a line longer than 64 KiB"}},
		{"unknown column", "u.csv", "id,email,password_hash\n1,a@example.com," + wz + "\n", []string{`u.csv:1: unknown column "id" in the header`}},
		{"missing column", "u.csv", "email,display_name\na@example.com,Ada\n", []string{"u.csv:1: the header has no password_hash column"}},
		{"empty file", "u.csv", "", []string{"u.csv: the file is empty; want a header row"}},
		{"header only", "u.csv", importCSVHeader, []string{"u.csv: no rows to import"}},
		{"empty jsonl", "u.jsonl", "\n\n", []string{"u.jsonl: no rows to import"}},
		{"malformed json", "u.jsonl", `{"email":"a@example.com","password_hash":"` + wz + `"}` + "\n" + `{"email":"b@example.com",` + "\n",
			[]string{"u.jsonl:2: malformed JSON"}},
		{"unknown key", "u.jsonl", `{"email":"a@example.com","password":"hunter2"}` + "\n", []string{`u.jsonl:1: unknown key "password"`}},
		{"json number", "u.jsonl", `{"email":"a@example.com","password_hash":12345}` + "\n", []string{"u.jsonl:1: password_hash: want a string, got a number"}},
		{"future created_at", "u.csv", importCSVHeader + "a@example.com," + wz + ",,,,2999-01-01T00:00:00Z\n", []string{"u.csv:2: created_at: in the future"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeImportFile(t, tc.file, tc.content)
			var all string
			for _, dry := range []bool{true, false} {
				args := []string{"user", "import", path}
				if dry {
					args = append(args, "--dry-run")
				}
				stdout, stderr, err := ts.importCLI(args...)
				if err == nil {
					t.Fatalf("import succeeded (dry run %v):\n%s%s", dry, stdout, stderr)
				}
				all += stdout + stderr + err.Error() + "\n"
			}
			importWantContains(t, "output", strings.ReplaceAll(all, path, "u"+filepath.Ext(path)), tc.want...)
			if strings.Contains(all, wz) {
				t.Fatal("the output shows a password hash")
			}
			if u, e := importCounts(t, d); u != 0 || e != 0 {
				t.Fatalf("%d users, %d import events written", u, e)
			}
		})
	}
}

func TestImportUsageErrors(t *testing.T) {
	ts := startServer(t)
	p := writeImportFile(t, "users.txt", importCSVHeader+"a@example.com,"+importFixtureHash(t, "csv-bcrypt-2b@Example.com")+",,,,\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{p}, "cannot tell the format of " + p + " from its name: use --format csv or --format jsonl"},
		{[]string{"--format", "xml", p}, `--format: want csv or jsonl, got "xml"`},
		{[]string{"--batch", "0", p}, "--batch: want 1 to 10000, got 0"},
		{[]string{}, cli.ImportUsage},
		{[]string{p, p}, cli.ImportUsage},
		{[]string{filepath.Join(t.TempDir(), "missing.csv")}, "no such file"},
		{[]string{"--format=csv", t.TempDir()}, "is not a regular file"},
	} {
		_, _, err := ts.importCLI(append([]string{"user", "import"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import %v = %v, want %q", tc.args, err, tc.want)
		}
	}
	// --format overrides the name; flags may follow the file.
	out := ts.mustCLI("", "user", "import", p, "--format", "csv", "--dry-run")
	importWantContains(t, "dry run", out, "1 row (csv): 1 valid, 0 invalid", "would create 1 account and skip 0 existing accounts")
}

// --skip-invalid imports the valid rows and leaves out every invalid one,
// including every row of an address given twice.
func TestImportSkipInvalid(t *testing.T) {
	ts := startServer(t, importServerArgs...)
	d := importDB(t, ts)
	pws := importFixturePasswords(t)
	good := "Csv-werkzeug-pbkdf2-sha256@Example.com"
	wz := importFixtureHash(t, good)
	content := "\xEF\xBB\xBF" + importCSVHeader +
		good + "," + wz + ",Ada,,true,\r\n" +
		"bad@example.com,md5$abc,,,,\r\n" +
		"twice@example.com," + wz + ",,,,\r\n" +
		"TWICE@example.com," + wz + ",,,,\r\n" +
		"ok2@example.com," + wz + ",,admin,,\r\n"
	path := writeImportFile(t, "mixed.csv", content)

	if _, _, err := ts.importCLI("user", "import", path); err == nil || !strings.Contains(err.Error(), "3 invalid rows; nothing was imported") {
		t.Fatalf("import without --skip-invalid = %v", err)
	}
	if u, _ := importCounts(t, d); u != 0 {
		t.Fatalf("%d users written", u)
	}
	out := ts.mustCLI("", "user", "import", "--dry-run", "--skip-invalid", path)
	importWantContains(t, "dry run", out, "5 rows (csv): 2 valid, 3 invalid", "would create 2 accounts and skip 0 existing accounts (left unchanged), and leave out 3 invalid rows. Nothing was written.")
	stdout, stderr, err := ts.importCLI("user", "import", "--skip-invalid", path)
	if err != nil {
		t.Fatal(err, stdout, stderr)
	}
	importWantContains(t, "import", stdout, "created 2 accounts, skipped 0 existing accounts (left unchanged), left out 3 invalid rows")
	importWantContains(t, "stderr", stderr, "mixed.csv:3: password_hash", "mixed.csv:4: email: the same address", "mixed.csv:5: email: the same address")
	if u, e := importCounts(t, d); u != 2 || e != 2 {
		t.Fatalf("%d users, %d events; want 2", u, e)
	}
	if c := importCredentials(t, d, "ok2@example.com"); !c.User.IsAdmin() {
		t.Fatalf("ok2 = %+v", c.User)
	}
	if _, err := d.Users().CredentialsByEmailKey(context.Background(), "twice@example.com"); err == nil {
		t.Fatal("an address given twice was imported")
	}
	ts.browser().signIn(good, pws[good])
	importWantArgon2id(t, d, good)
}

// A large file goes in transactions of --batch rows with progress on
// stderr; an address that already has an account is skipped and left as
// it is, in the dry run, the import and a rerun.
func TestImportLargeFileInBatches(t *testing.T) {
	ts := startServer(t)
	d := importDB(t, ts)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "User0007@example.com")
	before := importCredentials(t, d, "user0007@example.com")
	bc := importFixtureHash(t, "csv-bcrypt-2b@Example.com")
	var b strings.Builder
	const n = 1234
	for i := range n {
		fmt.Fprintf(&b, `{"email":"user%04d@example.com","password_hash":%q,"roles":["user"],"email_verified":%v}`+"\n", i, bc, i%2 == 0)
	}
	path := writeImportFile(t, "big.ndjson", b.String())

	out := ts.mustCLI("", "user", "import", "--dry-run", path)
	importWantContains(t, "dry run", out, "1234 rows (jsonl): 1234 valid, 0 invalid", "hash formats: bcrypt 1234", "would create 1233 accounts and skip 1 existing account (left unchanged)")
	if u, e := importCounts(t, d); u != 1 || e != 0 {
		t.Fatalf("after the dry run: %d users, %d events", u, e)
	}
	stdout, stderr, err := ts.importCLI("user", "import", "--batch", "500", path)
	if err != nil {
		t.Fatal(err, stdout, stderr)
	}
	importWantContains(t, "stdout", stdout, "created 1233 accounts, skipped 1 existing account (left unchanged)")
	importWantContains(t, "progress", stderr, "imported 500 of 1234 rows: 499 created, 1 skipped\n", "imported 1000 of 1234 rows", "imported 1234 of 1234 rows: 1233 created, 1 skipped\n")
	if u, e := importCounts(t, d); u != n || e != n-1 {
		t.Fatalf("%d users, %d events; want %d, %d", u, e, n, n-1)
	}
	if after := importCredentials(t, d, "user0007@example.com"); after.PasswordHash != before.PasswordHash || after.User.UpdatedAt != before.User.UpdatedAt {
		t.Fatal("the existing account was changed")
	}
	stdout, stderr, err = ts.importCLI("user", "import", path)
	if err != nil || !strings.Contains(stdout, "created 0 accounts, skipped 1234 existing accounts") {
		t.Fatalf("rerun = %v\n%s\n%s", err, stdout, stderr)
	}
	if u, e := importCounts(t, d); u != n || e != n-1 {
		t.Fatalf("after the rerun: %d users, %d events", u, e)
	}
}
