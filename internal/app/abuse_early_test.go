package app

import (
	"testing"
)

// TestAbuseEarlyRefusalIsAudited: a sign-in refused before any other work
// because its address is over the per-IP limit is recorded in the audit
// trail (throttled: once a minute per address), as docs/abuse.md says of
// every refusal.
func TestAbuseEarlyRefusalIsAudited(t *testing.T) {
	ts := startServer(t, "--trusted-proxies=127.0.0.1", "--login-ip-limit=3/hour")
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "root@example.com", "--admin", "--verified")
	admin := ts.from("192.0.2.200")
	admin.signIn("root@example.com", goodPassword)

	for i := 0; i < 3; i++ {
		ts.attempt("198.51.100.7", "nobody@example.com", "guess").want(t, 401)
	}
	for i := 0; i < 5; i++ {
		ts.attempt("198.51.100.7", "nobody@example.com", "guess").want(t, 429)
	}
	page := admin.get("/admin/audit?event=ratelimit.refused").want(t, 200, "login per IP", "198.51.100.7")
	if n := auditRows(page.body); n != 1 {
		t.Fatalf("%d audit rows for five early refusals, want 1 (throttled)", n)
	}
}
