package app

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// User agents of the browsers in these tests.
const (
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaChromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaSafariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// sessionStores are the stores that keep sessions on the server, each with
// the settings that select it.
func sessionStores(t *testing.T) map[string][]string {
	return map[string][]string{
		"memory":      {"--session-store", "memory"},
		"db-sqlite":   {"--session-store", "db"},
		"db-postgres": {"--session-store", "db", "--database-url", testenv.PostgresSchemaURL(t)},
		"redis":       {"--session-store", "redis", "--redis-url", testenv.RedisURL(t)},
	}
}

func (b *browser) as(ua string) *browser { b.ua = ua; return b }

// setCookie returns the cookie named name that r sets, or nil.
func setCookie(r *response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// redisHasSession reports whether the Redis store at url holds the session
// with this handle (the app's prefix is fixed: "gatehouse:session:").
func redisHasSession(t *testing.T, url, handle string) bool {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	n, err := c.Exists(t.Context(), "gatehouse:session:s:"+handle).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// devices lists the rows' devices, sorted.
func devices(rows []sessionRow) string {
	var ds []string
	for _, r := range rows {
		ds = append(ds, r.Device)
	}
	slices.Sort(ds)
	return strings.Join(ds, ", ")
}

// TestScaleUserManagesSessions: a user sees each session with its browser,
// system, address and which one is this, ends one, and ends all others.
func TestScaleUserManagesSessions(t *testing.T) {
	for name, args := range sessionStores(t) {
		t.Run(name, func(t *testing.T) {
			ts := scaleServer(t, args...)
			email, other := scaleEmail(t, "me"), scaleEmail(t, "other")
			fx := ts.browser().as(uaFirefoxLinux)
			fx.register(email, goodPassword)
			in := fx.submit("/login", "/login", "email", email, "password", goodPassword, "remember", "on").redirect(t, "/dashboard")
			if c := setCookie(in, "gatehouse"); c == nil || c.MaxAge < 29*24*3600 || c.Expires.IsZero() {
				t.Errorf("remember-me gave no persistent cookie: %+v", c)
			}
			ch := ts.browser().as(uaChromeWindows)
			ch.signIn(email, goodPassword)

			rows := fx.sessionRows(t)
			if len(rows) != 2 {
				t.Fatalf("rows %+v, want 2", rows)
			}
			want := []sessionRow{
				{Device: "Firefox 128 on Linux", IP: "127.0.0.1", Handle: handleOf(t, fx.session()), Current: true, Remember: true},
				{Device: "Chrome 126 on Windows", IP: "127.0.0.1", Handle: handleOf(t, ch.session())},
			}
			for i := range want {
				if rows[i] != want[i] {
					t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
				}
			}
			if rows := ch.sessionRows(t); len(rows) != 2 || rows[0].Device != "Chrome 126 on Windows" || !rows[0].Current {
				t.Errorf("Chrome sees %+v", rows)
			}

			// Another user's session cannot be ended by handle.
			stranger := ts.browser()
			stranger.register(other, goodPassword)
			stranger.signIn(other, goodPassword)
			fx.submit("/account/sessions", "/account/sessions/revoke", "session_id", handleOf(t, stranger.session())).
				redirect(t, "/account/sessions")
			fx.get("/account/sessions").want(t, 200, "That session had already ended")
			stranger.wantSignedIn(t, other)
			// Malformed handles are refused before any store access.
			for _, h := range []string{"", "xyz", strings.Repeat("A", 64), strings.Repeat("0", 65), handleOf(t, fx.session())[:63] + "g"} {
				fx.submit("/account/sessions", "/account/sessions/revoke", "session_id", h).want(t, 400)
			}

			// End Chrome's session.
			fx.submit("/account/sessions", "/account/sessions/revoke", "session_id", want[1].Handle).redirect(t, "/account/sessions")
			fx.get("/account/sessions").want(t, 200, "The session was ended")
			ch.wantSignedOut(t)
			if rows := fx.sessionRows(t); len(rows) != 1 || !rows[0].Current {
				t.Errorf("after ending one: %+v", rows)
			}

			// End all others: two new sessions go, this one stays (with a
			// fresh id) and stays remembered.
			ch.signIn(email, goodPassword)
			ph := ts.browser().as(uaSafariIPhone)
			ph.signIn(email, goodPassword)
			if rows := fx.sessionRows(t); len(rows) != 3 || devices(rows[1:]) != "Chrome 126 on Windows, Safari 17 on iOS" {
				t.Errorf("three sessions: %+v", rows)
			}
			before := fx.session()
			fx.submit("/account/sessions", "/account/sessions/revoke-others").redirect(t, "/account/sessions")
			ch.wantSignedOut(t)
			ph.wantSignedOut(t)
			fx.wantSignedIn(t, email)
			if fx.session() == before {
				t.Error("ending the others kept this session's id")
			}
			rows = fx.sessionRows(t)
			if len(rows) != 1 || !rows[0].Current || !rows[0].Remember || rows[0].Device != "Firefox 128 on Linux" {
				t.Errorf("after ending the others: %+v", rows)
			}
			stranger.wantSignedIn(t, other)

			// Ending this session from the list signs out.
			fx.submit("/account/sessions", "/account/sessions/revoke", "session_id", rows[0].Handle).redirect(t, "/")
			fx.wantSignedOut(t)
		})
	}
}

// TestScaleCookieSessionsPage: the cookie store cannot list sessions; the
// page says so, describes this one, and still ends all others.
func TestScaleCookieSessionsPage(t *testing.T) {
	ts := scaleServer(t, "--session-store", "cookie")
	email := scaleEmail(t, "cookiepage")
	fx := ts.browser().as(uaFirefoxLinux)
	fx.register(email, goodPassword)
	fx.signIn(email, goodPassword)
	ch := ts.browser().as(uaChromeWindows)
	ch.signIn(email, goodPassword)
	fx.get("/account/sessions").want(t, 200, "cannot list them", "Firefox 128 on Linux", "127.0.0.1")
	fx.submit("/account/sessions", "/account/sessions/revoke", "session_id", strings.Repeat("a", 64)).want(t, 400)
	fx.submit("/account/sessions", "/account/sessions/revoke-others").redirect(t, "/account/sessions")
	ch.wantSignedOut(t)
	fx.wantSignedIn(t, email)
}

var userIDRE = regexp.MustCompile(`action="/admin/users/(\d+)/revoke-sessions"`)

// TestScaleAdminEndsSessions: an admin ends every session of a user from
// the users page and from the command line, on server-side stores (in the
// database, in Redis) and on the cookie store (through the cut-off); the
// account stays usable.
func TestScaleAdminEndsSessions(t *testing.T) {
	for _, store := range []string{"db", "redis", "cookie"} {
		t.Run(store, func(t *testing.T) {
			args, redisURL := []string{"--session-store", store}, ""
			if store == "redis" {
				redisURL = testenv.RedisURL(t)
				args = append(args, "--redis-url", redisURL)
			}
			ts := scaleServer(t, args...)
			adminEmail, email := scaleEmail(t, "admin"), scaleEmail(t, "user")
			ts.mustCLI(goodPassword+"\n", "user", "create", "--email", adminEmail, "--admin", "--verified")
			admin := ts.browser()
			admin.signIn(adminEmail, goodPassword)
			u1, u2 := ts.browser(), ts.browser().as(uaChromeWindows)
			u1.register(email, goodPassword)
			u1.signIn(email, goodPassword)
			u2.signIn(email, goodPassword)

			page := admin.get("/admin/users").want(t, 200, email, "End all sessions")
			ids := userIDRE.FindAllStringSubmatch(page.body, -1)
			if len(ids) != 1 {
				t.Fatalf("want one End all sessions form (not for the admin themself), got %v", ids)
			}
			// Only admins may use it.
			u1.submit("/dashboard", "/admin/users/"+ids[0][1]+"/revoke-sessions").want(t, 403)
			u1.post("/admin/users/"+ids[0][1]+"/revoke-sessions", url.Values{}).want(t, 403)
			u1.wantSignedIn(t, email)

			h1, h2 := handleOf(t, u1.session()), handleOf(t, u2.session())
			if store == "redis" && (!redisHasSession(t, redisURL, h1) || !redisHasSession(t, redisURL, h2)) {
				t.Fatal("the sessions are not in Redis")
			}
			admin.submit("/admin/users", "/admin/users/"+ids[0][1]+"/revoke-sessions").redirect(t, "/admin/users")
			admin.get("/admin/users").want(t, 200, "Every session of that user was ended")
			// Server-side records are deleted, not just cut off.
			if store == "redis" && (redisHasSession(t, redisURL, h1) || redisHasSession(t, redisURL, h2)) {
				t.Error("the ended sessions are still in Redis")
			}
			u1.wantSignedOut(t)
			u2.wantSignedOut(t)
			admin.wantSignedIn(t, adminEmail)
			admin.submit("/admin/users", "/admin/users/999999/revoke-sessions").want(t, 404)

			// The account is not disabled: the user signs in again, and the
			// command line ends that session too.
			u1.signIn(email, goodPassword)
			h1 = handleOf(t, u1.session())
			if out := ts.mustCLI("", "user", "revoke-sessions", strings.ToUpper(email)); !strings.Contains(out, "ended every session") {
				t.Errorf("revoke-sessions: %q", out)
			}
			if store == "redis" && redisHasSession(t, redisURL, h1) {
				t.Error("the session ended from the command line is still in Redis")
			}
			u1.wantSignedOut(t)
			admin.wantSignedIn(t, adminEmail)
			if _, err := ts.cli("", "user", "revoke-sessions", "ghost@example.com"); err == nil {
				t.Error("revoke-sessions of an unknown user succeeded")
			}
			u1.signIn(email, goodPassword)
		})
	}
}

// TestScaleSessionsNeedSignIn: the session pages and actions need a
// signed-in user and a CSRF token.
func TestScaleSessionsNeedSignIn(t *testing.T) {
	ts := scaleServer(t)
	anon := ts.browser()
	anon.get("/account/sessions").redirect(t, "/login?next=%2Faccount%2Fsessions")
	anon.submit("/login", "/account/sessions/revoke-others").redirect(t, "/login")
	email := scaleEmail(t, "csrf")
	b := ts.browser()
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	other := ts.browser()
	other.signIn(email, goodPassword)
	b.post("/account/sessions/revoke-others", url.Values{}).want(t, http.StatusForbidden)
	b.post("/account/sessions/revoke", url.Values{"session_id": {handleOf(t, other.session())}}).want(t, http.StatusForbidden)
	other.wantSignedIn(t, email)
}
