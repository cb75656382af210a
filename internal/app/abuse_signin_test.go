package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/guard"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// 50 concurrent wrong passwords for one account verify no more passwords
// than the limits allow, counted by the sign-in metric (which counts the
// attempts that reached the password check) and by the audit trail.
func TestAbuseConcurrentWrongPasswords(t *testing.T) {
	m := freeAddr(t)
	ts := startServer(t, "--metrics-addr", m, "--trusted-proxies=127.0.0.1")
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "root@example.com", "--admin", "--verified")
	admin := ts.browser()
	admin.signIn("root@example.com", goodPassword)

	limit, _ := ratelimit.ParseLimit("10/hour") // the default LOGIN_LIMIT
	pair := max(1, limit.BurstSize()/2)
	for _, tt := range []struct {
		name     string
		email    string
		ip       func(i int) string
		maxCheck int // the passwords verified at most
	}{
		{"one address", "one@example.com", func(int) string { return "203.0.113.10" }, pair},
		{"fifty addresses", "many@example.com", func(i int) string { return ipN("198.51.100", i+1) }, limit.BurstSize()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.browser().register(tt.email, goodPassword)
			forms := make([]prepared, 50)
			for i := range forms {
				forms[i] = ts.prepare(tt.ip(i))
			}
			before := mustMetric(t, scrape(t, m), `gatehouse_signins_total{outcome="failure"}`)
			counts := statusCounts(50, func(i int) *response { return forms[i].signIn(tt.email, "not the password "+strconv.Itoa(i)) })
			after := mustMetric(t, scrape(t, m), `gatehouse_signins_total{outcome="failure"}`)

			verified := int(after - before)
			if counts[401]+counts[429] != 50 {
				t.Fatalf("answers %v: want only 401 and 429", counts)
			}
			if verified != counts[401] || verified < 1 || verified > tt.maxCheck {
				t.Fatalf("%d passwords verified (answers %v), want 1 to %d", verified, counts, tt.maxCheck)
			}
			audit := admin.get("/admin/audit?event=login.failure&user="+tt.email).want(t, 200)
			if n := auditRows(audit.body); n != verified {
				t.Errorf("%d login.failure events, %d verifications", n, verified)
			}
			// The right password now gets the same refusal as a wrong one.
			ts.attempt(tt.ip(0), tt.email, goodPassword).want(t, 429)
		})
	}
	if tok := admin.get("/admin/audit?event=ratelimit.refused").want(t, 200); auditRows(tok.body) == 0 {
		t.Error("no ratelimit.refused event recorded")
	}
}

// The same sequence of attempts gets the same answers, page for page,
// whether the account exists, does not, or is disabled: through the free
// failures, the backoff lock (with the right password, too) and the
// per-account-and-IP limit.
func TestAbuseSameAnswerWhateverTheAccount(t *testing.T) {
	ts, d, clock := startClockServer(t)
	ctx := context.Background()
	for _, e := range []string{"known@example.com", "disabled@example.com"} {
		if _, err := d.accounts.CreateUser(ctx, accountInput(e, goodPassword), cli.Meta); err != nil {
			t.Fatal(err)
		}
	}
	dis, _ := d.accounts.UserByEmail(ctx, "disabled@example.com")
	if err := d.accounts.SetDisabledByOperator(ctx, dis.ID, true, cli.Meta); err != nil {
		t.Fatal(err)
	}

	type step struct {
		ip      string
		right   bool          // the right password (for the accounts that have one)
		advance time.Duration // clock step before the attempt
	}
	var steps []step
	for i := 1; i <= 6; i++ { // five free failures, the sixth locks for 1s
		steps = append(steps, step{ip: ipN("198.51.100", i)})
	}
	steps = append(steps,
		step{ip: "198.51.100.7", right: true},          // locked: 429 even with the password
		step{ip: "198.51.100.8"},                       // locked
		step{ip: "198.51.100.9", advance: time.Second}, // unlocked: a failure, locked for 2s
		step{ip: "198.51.100.10", right: true},         // locked again
	)
	// A day later the failures are forgotten. From one address: five
	// failures, then the account-and-IP limit (burst 5, one more every 6
	// minutes), with the right password too.
	steps = append(steps, step{ip: "203.0.113.50", advance: 25 * time.Hour})
	for range 5 {
		steps = append(steps, step{ip: "203.0.113.50"})
	}
	steps = append(steps, step{ip: "203.0.113.50", right: true})

	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	run := func(email string) []answer {
		var out []answer
		for _, s := range steps {
			clock.Advance(s.advance)
			pw := "wrong password here"
			if s.right {
				pw = goodPassword
			}
			r := ts.attempt(s.ip, email, pw)
			out = append(out, answer{r.StatusCode, r.Header.Get("Retry-After"), normalized(r.body, email)})
		}
		return out
	}
	// Each account runs from the same start: the clock is shared, so step
	// it back after each run.
	start := clock.Now()
	want := run("ghost@example.com")
	for i, a := range want {
		if a.status != 401 && a.status != 429 {
			t.Fatalf("step %d: status %d", i, a.status)
		}
	}
	for i, w := range map[int]answer{6: {429, "1", ""}, 8: {401, "", ""}, 9: {429, "2", ""}, 14: {401, "", ""}, 15: {429, "360", ""}, 16: {429, "360", ""}} {
		if want[i].status != w.status || want[i].retryAfter != w.retryAfter {
			t.Fatalf("unknown account, step %d: %d Retry-After %q, want %d %q", i, want[i].status, want[i].retryAfter, w.status, w.retryAfter)
		}
	}
	for _, email := range []string{"known@example.com", "disabled@example.com"} {
		clock.mu.Lock()
		clock.t = start
		clock.mu.Unlock()
		got := run(email)
		for i := range want {
			if got[i].status != want[i].status || got[i].retryAfter != want[i].retryAfter {
				t.Errorf("%s step %d: %d Retry-After %q, unknown account got %d %q", email, i, got[i].status, got[i].retryAfter, want[i].status, want[i].retryAfter)
			}
			if got[i].body != want[i].body {
				t.Errorf("%s step %d: the page differs from an unknown account's:\n%s\n---\n%s", email, i, trim(got[i].body), trim(want[i].body))
			}
		}
	}
}

// Exponential backoff on a fake clock: 5 free failures, then 1s, 2s, 4s…;
// a success forgets the failures; a password reset (clearLoginDefence)
// lets a locked owner in at once.
func TestAbuseBackoffAndReset(t *testing.T) {
	ts, d, clock := startClockServer(t, "--login-limit=100/hour")
	ctx := context.Background()
	if _, err := d.accounts.CreateUser(ctx, accountInput("owner@example.com", goodPassword), cli.Meta); err != nil {
		t.Fatal(err)
	}
	ip := 0
	next := func() string { ip++; return ipN("192.0.2", ip) }
	for range 5 {
		ts.attempt(next(), "owner@example.com", "wrong password here").want(t, 401)
	}
	for _, lock := range []string{"1", "2", "4", "8"} {
		ts.attempt(next(), "owner@example.com", "wrong password here").want(t, 401)
		r := ts.attempt(next(), "owner@example.com", goodPassword).want(t, 429)
		if got := r.Header.Get("Retry-After"); got != lock {
			t.Fatalf("Retry-After %q, want %q", got, lock)
		}
		secs, _ := strconv.Atoi(lock)
		clock.Advance(time.Duration(secs) * time.Second)
	}
	// Locked again; the owner resets the password by mail.
	ts.attempt(next(), "owner@example.com", "wrong password here").want(t, 401)
	ts.attempt(next(), "owner@example.com", goodPassword).want(t, 429)
	d.guard.ClearLoginDefence(ctx, "Owner@Example.com ")
	ts.from(next()).signIn("owner@example.com", goodPassword)
	// The success forgot the failures: five free ones again.
	for range 5 {
		ts.attempt(next(), "owner@example.com", "wrong password here").want(t, 401)
	}
	ts.attempt(next(), "owner@example.com", "wrong password here").want(t, 401)
	ts.attempt(next(), "owner@example.com", goodPassword).want(t, 429)

	events, err := d.accounts.ListAudit(ctx, account.AuditFilter{Name: guard.EventLoginLocked})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := d.accounts.UserByEmail(ctx, "owner@example.com")
	if len(events) < 5 || events[0].UserID != owner.ID || !strings.Contains(events[0].Detail, "after 6 failed attempts") {
		t.Fatalf("login.locked events: %+v", events)
	}
}

// Registration is limited per IP: the fourth of three allowed gets 429 with
// Retry-After and the RateLimit headers, whether the address is new or
// taken; another address is not affected. /password/forgot gets the same
// defence once that route exists.
func TestAbuseRegistrationAndForgotPerIP(t *testing.T) {
	ts, _, _ := startClockServer(t, "--register-limit=3/hour", "--forgot-limit=2/hour")
	ts.from("192.0.2.1").register("taken@example.com", goodPassword)
	ts.from("192.0.2.1").register("new1@example.com", goodPassword)
	ts.from("192.0.2.1").register("taken@example.com", goodPassword)
	var bodies []string
	for _, email := range []string{"taken@example.com", "new2@example.com"} {
		r := ts.from("192.0.2.1").submit("/register", "/register", "email", email, "password", goodPassword).want(t, 429)
		if r.Header.Get("Retry-After") != "1200" || !strings.Contains(r.Header.Get("RateLimit-Policy"), `"register";q=3`) || r.Header.Get("RateLimit") == "" {
			t.Errorf("429 headers: Retry-After %q, RateLimit-Policy %q, RateLimit %q", r.Header.Get("Retry-After"), r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
		}
		bodies = append(bodies, normalized(r.body, email))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("refusals differ:\n%s\n---\n%s", bodies[0], bodies[1])
	}
	ts.from("192.0.2.2").register("new3@example.com", goodPassword)

	if r := ts.browser().get("/password/forgot"); r.StatusCode != 200 {
		t.Logf("GET /password/forgot: %d; the forgot limit is tested once the route exists", r.StatusCode)
		return
	}
	statuses := []int{}
	for _, email := range []string{"taken@example.com", "nobody@example.com", "taken@example.com"} {
		statuses = append(statuses, ts.from("192.0.2.3").submit("/password/forgot", "/password/forgot", "email", email).StatusCode)
	}
	if statuses[0] != 303 || statuses[1] != 303 || statuses[2] != http.StatusTooManyRequests {
		t.Errorf("forgot answers %v, want 303 303 429", statuses)
	}
}
