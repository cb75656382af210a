package app

import (
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
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

// stallProcessTree sends sig (SIGSTOP or SIGCONT) to a private backend's
// process and its children: a stopped PostgreSQL keeps its TCP connections
// and its listening socket open but never answers, which is what a wedged
// server or a black-holed network looks like to Gatehouse.
func stallProcessTree(t *testing.T, p *privateBackend, sig syscall.Signal) {
	t.Helper()
	if p.cmd == nil {
		t.Fatal("backend not running")
	}
	root := p.cmd.Process.Pid
	pids := []int{root}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ")".
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			if f := strings.Fields(string(stat)[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(root) {
				pids = append(pids, pid)
			}
		}
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

// TestScalePostgresStall freezes a private PostgreSQL (SIGSTOP, never the
// machine's shared server) under load: every request that needs it answers
// 503 with Retry-After within the database deadline, nobody is signed in
// without it, and the instance recovers by itself when it thaws.
func TestScalePostgresStall(t *testing.T) {
	pg := startPrivatePostgres(t)
	const timeout = 2 * time.Second
	ts := scaleServer(t, "--database-url", pg.URL(), "--session-store", "db", "--db-timeout", timeout.String())
	email := scaleEmail(t, "pgstall")
	b := ts.browser()
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	b.wantSignedIn(t, email)

	stallProcessTree(t, pg, syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			stallProcessTree(t, pg, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)

	// Load: signed-in pages and sign-ins at once, more than the pool holds.
	type result struct {
		what   string
		status int
		took   time.Duration
		cookie bool
	}
	results := make(chan result, 64)
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start := time.Now()
			if i%3 == 0 {
				fresh := ts.browser()
				tok := fresh.token("/login")
				r := fresh.post("/login", url.Values{"csrf_token": {tok}, "email": {email}, "password": {goodPassword}})
				results <- result{"sign-in", r.StatusCode, time.Since(start), fresh.cookie("gatehouse") != nil && r.StatusCode == http.StatusSeeOther}
				return
			}
			path := []string{"/dashboard", "/account"}[i%2]
			r := b.get(path)
			results <- result{path, r.StatusCode, time.Since(start), false}
		}(i)
	}
	wg.Wait()
	close(results)
	// The bound: the deadline, plus a queue for a pooled connection that is
	// itself within the deadline, plus scheduling on a loaded machine.
	limit := 3*timeout + 2*time.Second
	for r := range results {
		if r.took > limit {
			t.Errorf("%s took %s during the stall, want under %s", r.what, r.took, limit)
		}
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s answered %d during the stall, want 503", r.what, r.status)
		}
		if r.cookie {
			t.Errorf("%s: signed in without the database", r.what)
		}
	}
	wantUnavailable(t, b.get("/dashboard"))
	ts.browser().get("/readyz").want(t, 503, "database")
	ts.browser().get("/healthz").want(t, 200)

	thaw()
	eventually(t, recoverWithin, "readyz after PostgreSQL thaws", func() bool {
		return ts.browser().get("/readyz").StatusCode == 200
	})
	eventually(t, recoverWithin, "the session after PostgreSQL thaws", func() bool {
		return b.get("/dashboard").StatusCode == 200
	})
	b.wantSignedIn(t, email)
	ts.browser().signIn(email, goodPassword)
}
