package app

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Rate-limit trips and lockouts are in the audit trail; /account/activity
// shows users their own events and nobody else's; /admin/audit filters by
// user (email or ID), event and time, pages, and is for admins only.
func TestAbuseAuditViews(t *testing.T) {
	ts := startServer(t, "--trusted-proxies=127.0.0.1")
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "root@example.com", "--admin", "--verified")
	admin := ts.from("192.0.2.200")
	admin.signIn("root@example.com", goodPassword)

	alice := ts.from("203.0.113.1")
	alice.register("alice@example.com", goodPassword)
	alice.signIn("alice@example.com", goodPassword)
	bob := ts.from("203.0.113.66")
	bob.register("bob@example.com", goodPassword)
	bob.submit("/login", "/login", "email", "bob@example.com", "password", "wrong password here").want(t, 401)
	bob.signIn("bob@example.com", goodPassword)

	// Someone guesses alice's password: from one address until the limit
	// of that address for the account (five), then from another, whose
	// failure (the sixth) locks the account.
	for i := range 5 {
		ts.attempt("198.51.100.99", "ALICE@example.com", "guess "+strconv.Itoa(i)).want(t, 401)
	}
	ts.attempt("198.51.100.99", "alice@example.com", "another guess").want(t, 429)
	ts.attempt("198.51.100.1", "alice@example.com", "a sixth guess").want(t, 401)

	// Alice sees her own events, the attack included, and none of bob's.
	act := alice.get("/account/activity").want(t, 200, "Signed in", "Account created", "Failed sign-in attempt",
		"Sign-in paused after repeated failed attempts", "Attempt refused: too many tries", "198.51.100.99", "198.51.100.1", "203.0.113.1", "Firefox")
	for _, other := range []string{"203.0.113.66", "192.0.2.200", "bob@example.com"} {
		if strings.Contains(act.body, other) {
			t.Errorf("alice's activity shows %q", other)
		}
	}
	bobAct := bob.get("/account/activity").want(t, 200, "Failed sign-in attempt", "203.0.113.66")
	if strings.Contains(bobAct.body, "198.51.100") || strings.Contains(bobAct.body, "paused") {
		t.Error("bob's activity shows alice's events")
	}

	// Access: admins only.
	alice.get("/admin/audit").want(t, 403)
	ts.browser().get("/admin/audit").redirect(t, "/login?next=%2Fadmin%2Faudit")
	ts.browser().get("/account/activity").redirect(t, "/login?next=%2Faccount%2Factivity")

	aliceID := "2"
	today, tomorrow := time.Now().UTC().Format("2006-01-02"), time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	all := admin.get("/admin/audit").want(t, 200, "alice@example.com", "bob@example.com", "login.locked", "ratelimit.refused")
	if !strings.Contains(all.body, `href="/admin/audit?user=`+aliceID+`"`) {
		t.Fatalf("no link to alice's events (ID %s)", aliceID)
	}
	for _, tt := range []struct {
		query    string
		status   int
		contains []string
		lacks    []string
		rows     int // -1: any
	}{
		{"event=login.locked", 200, []string{"alice@example.com", "after 6 failed attempts"}, []string{"bob@example.com"}, 1},
		{"event=ratelimit.refused", 200, []string{"login per account and IP", "198.51.100.99"}, nil, 1},
		{"user=alice%40example.com", 200, []string{"login.success", "login.locked", "ratelimit.refused"}, []string{"bob@example.com", "203.0.113.66"}, -1},
		{"user=ALICE%40example.com&event=login.failure", 200, []string{"198.51.100.99"}, []string{"login.success"}, 6},
		{"user=3", 200, []string{"bob@example.com", "203.0.113.66"}, []string{"alice@example.com"}, -1},
		{"user=3&event=login.failure", 200, []string{"bob@example.com"}, nil, 1},
		{"since=2999-01-01", 200, []string{"No events match."}, nil, 0},
		{"until=2000-01-01", 200, []string{"No events match."}, nil, 0},
		{"since=" + time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04") + "&event=login.locked", 200, []string{"login.locked"}, nil, 1},
		{"since=" + today + "&until=" + today + "&user=3&event=register", 200, []string{"bob@example.com", `value="` + today + `T00:00"`, `value="` + tomorrow + `T00:00"`}, nil, 1},
		{"user=nobody%40example.com", 422, []string{"No account has this email address."}, nil, 0},
		{"user=0", 422, []string{"Enter an email address or a user ID."}, nil, 0},
		{"user=999", 200, []string{"No events match."}, nil, 0},
		{"event=%3Cscript%3E", 422, []string{"Event names are"}, []string{"<script>"}, 0},
		{"since=yesterday", 422, []string{"Enter a date such as"}, nil, 0},
		{"since=2025-02-30", 422, []string{"Enter a date such as"}, nil, 0},
		{"since=2025-01-02&until=2025-01-01T10:00", 422, []string{"must come after its start"}, nil, 0},
		{"until=" + strings.Repeat("9", 100), 422, []string{"far too long"}, nil, 0},
		{"page=abc&event=login.locked", 200, nil, nil, 1},
		{"page=99999999999", 200, []string{"No events match."}, nil, 0},
	} {
		r := admin.get("/admin/audit?"+tt.query).want(t, tt.status, tt.contains...)
		for _, s := range tt.lacks {
			if strings.Contains(tableOf(r.body), s) {
				t.Errorf("%s: the table shows %q", tt.query, s)
			}
		}
		if n := auditRows(r.body); tt.rows >= 0 && n != tt.rows {
			t.Errorf("%s: %d rows, want %d", tt.query, n, tt.rows)
		}
	}

	// Paging: 60 refused forms are 50 rows, then 10, keeping the filter.
	for range 60 {
		bob.post("/account/password", url.Values{"current_password": {"x"}, "new_password": {"y"}}).want(t, 403)
	}
	p1 := admin.get("/admin/audit?event=csrf.refused&user=bob%40example.com").want(t, 200)
	if n := auditRows(p1.body); n != 50 {
		t.Fatalf("page 1: %d rows", n)
	}
	next := `href="/admin/audit?event=csrf.refused&amp;page=2&amp;user=bob%40example.com"`
	if !strings.Contains(p1.body, next) || strings.Contains(p1.body, "← Newer") {
		t.Fatalf("page 1 pager:\n%s", p1.body[strings.Index(p1.body, `<nav class="pager"`):])
	}
	p2 := admin.get("/admin/audit?event=csrf.refused&page=2&user=bob%40example.com").want(t, 200, "← Newer")
	if n := auditRows(p2.body); n != 10 || strings.Contains(p2.body, "Older →") {
		t.Fatalf("page 2: %d rows", n)
	}
}

// tableOf is the audit table of a page, without the header and the form.
func tableOf(body string) string {
	if i := strings.Index(body, "<tbody>"); i >= 0 {
		body = body[i:]
	}
	return body
}
