package app

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recoverWithin bounds how long an instance may take to notice that a
// backend is back: its pools reconnect on the next request.
const recoverWithin = 20 * time.Second

// wantUnavailable checks that r is the clear 503 page, not a sign-in page,
// a dashboard or a 500.
func wantUnavailable(t *testing.T, r *response) {
	t.Helper()
	r.want(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", r.Request.URL.Path)
	}
	if !strings.Contains(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "unavailable") {
		t.Errorf("%s: not a clear unavailable page:\n%s", r.Request.URL.Path, trim(r.body))
	}
	if strings.Contains(r.body, "Hello,") || strings.Contains(r.body, "/logout") {
		t.Errorf("%s: the 503 page looks signed in:\n%s", r.Request.URL.Path, trim(r.body))
	}
}

// TestScaleRedisOutage stops a private Redis holding the sessions while
// Gatehouse runs, then starts it again on the same port.
func TestScaleRedisOutage(t *testing.T) {
	rd := startPrivateRedis(t)
	ts := scaleServer(t, "--session-store", "redis", "--redis-url", rd.URL())
	email := scaleEmail(t, "outage")
	b := ts.browser()
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	b.wantSignedIn(t, email)
	ts.browser().get("/readyz").want(t, 200, "ready")

	rd.stop(syscall.SIGKILL)

	// Pages that need the session: a clear 503, never signed in or out by
	// mistake; the cookie is kept for when Redis is back.
	for _, path := range []string{"/dashboard", "/account", "/account/sessions", "/login", "/"} {
		wantUnavailable(t, b.get(path))
	}
	if b.cookie("gatehouse") == nil {
		t.Fatal("the outage cost the browser its session cookie")
	}
	wantUnavailable(t, b.post("/logout", nil))
	ts.browser().get("/readyz").want(t, 503, "redis")
	ts.browser().get("/healthz").want(t, 200)
	// A visitor without a cookie cannot sign in (the session cannot be
	// stored, and the rate limiters fail closed) and is never let in.
	fresh := ts.browser()
	r := fresh.submit("/login", "/login", "email", email, "password", goodPassword)
	if r.StatusCode < 400 || r.StatusCode == 500 {
		t.Errorf("sign-in during the outage: %d\n%s", r.StatusCode, trim(r.body))
	}
	if c := fresh.cookie("gatehouse"); c != nil {
		t.Errorf("sign-in during the outage set a session cookie")
	}

	// Redis is back on the same port, with its append-only file: the same
	// session works again, without restarting Gatehouse.
	rd.run()
	eventually(t, recoverWithin, "readyz after Redis restarts", func() bool {
		return ts.browser().get("/readyz").StatusCode == 200
	})
	eventually(t, recoverWithin, "the session after Redis restarts", func() bool {
		return b.get("/dashboard").StatusCode == 200
	})
	b.wantSignedIn(t, email)
	ts.browser().signIn(email, goodPassword)
}

// TestScalePostgresOutage stops a private PostgreSQL holding the accounts
// (and, with the db store, the sessions) while Gatehouse runs, then starts
// it again.
func TestScalePostgresOutage(t *testing.T) {
	pg := startPrivatePostgres(t)
	keys := []string{"--keys-file", t.TempDir() + "/shared.keys"}
	servers := map[string]*testServer{
		"db":     scaleServer(t, append(keys, "--database-url", pg.URL(), "--session-store", "db")...),
		"cookie": scaleServer(t, append(keys, "--database-url", pg.URL(), "--session-store", "cookie")...),
	}
	email := scaleEmail(t, "pgdown")
	servers["db"].browser().register(email, goodPassword)
	browsers := map[string]*browser{}
	for name, ts := range servers {
		b := ts.browser()
		b.signIn(email, goodPassword)
		b.wantSignedIn(t, email)
		browsers[name] = b
	}

	pg.stop(syscall.SIGINT) // fast shutdown

	for name, ts := range servers {
		b := browsers[name]
		for _, path := range []string{"/dashboard", "/account", "/account/sessions"} {
			wantUnavailable(t, b.get(path))
		}
		ts.browser().get("/readyz").want(t, 503, "database")
		ts.browser().get("/healthz").want(t, 200)
		r := ts.browser().submit("/login", "/login", "email", email, "password", goodPassword)
		if r.StatusCode < 400 || r.StatusCode == 500 {
			t.Errorf("%s: sign-in during the outage: %d\n%s", name, r.StatusCode, trim(r.body))
		}
	}

	pg.run()
	for name, ts := range servers {
		b := browsers[name]
		eventually(t, recoverWithin, name+": readyz after PostgreSQL restarts", func() bool {
			return ts.browser().get("/readyz").StatusCode == 200
		})
		eventually(t, recoverWithin, name+": the session after PostgreSQL restarts", func() bool {
			return b.get("/dashboard").StatusCode == 200
		})
		b.wantSignedIn(t, email)
		ts.browser().signIn(email, goodPassword)
	}
}
