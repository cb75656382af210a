package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// rawCookie sends one request with exactly this Cookie header (no jar), so
// that a test controls every byte.
func rawCookie(t *testing.T, ts *testServer, path, header string) *response {
	t.Helper()
	b := ts.browser()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Cookie", header)
	return b.do(req)
}

// flip changes one character of a base64url string to another character of
// the alphabet.
func flip(v string, i int) string {
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	return v[:i] + string(c) + v[i+1:]
}

// TestScaleBadSessionCookies: tampered, truncated, replayed, spliced and
// oversized session cookies of every store leave the visitor simply signed
// out, with the stale cookie deleted; never a 500.
func TestScaleBadSessionCookies(t *testing.T) {
	stores := sessionStores(t)
	stores["cookie"] = []string{"--session-store", "cookie"}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			ts := scaleServer(t, args...)
			email, other := scaleEmail(t, "victim"), scaleEmail(t, "other")
			b := ts.browser()
			b.register(email, goodPassword)
			b.signIn(email, goodPassword)
			v := b.session()
			o := ts.browser()
			o.register(other, goodPassword)
			o.signIn(other, goodPassword)
			w := o.session()
			if v == w {
				t.Fatal("two sign-ins, one cookie")
			}
			n := len(v)
			cases := map[string]string{
				"tampered first":      flip(v, 0),
				"tampered middle":     flip(v, n/2),
				"tampered last":       flip(v, n-1),
				"truncated by one":    v[:n-1],
				"truncated to half":   v[:n/2],
				"extended by one":     v + "A",
				"spliced":             v[:n/2] + w[n/2:],
				"spliced other way":   w[:n/2] + v[n/2:],
				"oversized":           strings.Repeat("A", 4000),
				"oversized extension": v + strings.Repeat("A", 4000),
				"huge":                strings.Repeat("x", 12000),
				"padded":              v + "=",
				"std base64":          strings.NewReplacer("-", "+", "_", "/").Replace(v) + "+/",
				"not base64":          "!!!!" + v[4:],
				"empty":               "",
			}
			for cname, value := range cases {
				for _, path := range []string{"/dashboard", "/account/sessions", "/account"} {
					r := rawCookie(t, ts, path, "gatehouse="+value)
					if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
						t.Fatalf("%s on %s: %d %s\n%s", cname, path, r.StatusCode, r.Header.Get("Location"), trim(r.body))
					}
					if c := setCookie(r, "gatehouse"); c == nil || c.MaxAge >= 0 {
						t.Errorf("%s on %s: the bad cookie was not deleted (%v)", cname, path, c)
					}
				}
				rawCookie(t, ts, "/", "gatehouse="+value).want(t, 200)
			}
			// The same cookie twice, or next to a bad one, is refused too:
			// a browser sends one session cookie.
			for _, h := range []string{"gatehouse=" + flip(v, 3) + "; gatehouse=" + flip(w, 3), "gatehouse=x; other=" + v} {
				if r := rawCookie(t, ts, "/dashboard", h); r.StatusCode != http.StatusSeeOther {
					t.Errorf("%q: %d", h, r.StatusCode)
				}
			}

			// Replayed: a copy kept from before "sign out everywhere" (a
			// password change elsewhere) is refused by every store...
			b.wantSignedIn(t, email)
			o.wantSignedIn(t, other)
			fresh := ts.browser()
			fresh.signIn(email, goodPassword)
			fresh.submit("/account", "/account/password", "current_password", goodPassword, "new_password", "a whole new passphrase").
				redirect(t, "/account")
			withCookie(ts, v).wantSignedOut(t)
			// ...and a copy kept from before a sign-out is refused by every
			// server-side store (a cookie-store copy lives until it expires
			// or the cut-off moves: docs/sessions.md).
			if name != "cookie" {
				o.submit("/dashboard", "/logout").redirect(t, "/")
				withCookie(ts, w).wantSignedOut(t)
			}
			fresh.wantSignedIn(t, email)
		})
	}
}

// TestScaleCrossStoreCookies: a cookie of one store shown to an instance on
// another store (a misconfigured load balancer, a mid-migration rollout)
// is simply signed out.
func TestScaleCrossStoreCookies(t *testing.T) {
	pg := testenv.PostgresSchemaURL(t)
	keys := []string{"--keys-file", t.TempDir() + "/shared.keys", "--database-url", pg}
	cookie := scaleServer(t, append(keys, "--session-store", "cookie")...)
	db := scaleServer(t, append(keys, "--session-store", "db")...)
	email := scaleEmail(t, "cross")
	a := cookie.browser()
	a.register(email, goodPassword)
	a.signIn(email, goodPassword)
	b := db.browser()
	b.signIn(email, goodPassword)
	withCookie(db, a.session()).wantSignedOut(t)
	withCookie(cookie, b.session()).wantSignedOut(t)
	a.wantSignedIn(t, email)
	b.wantSignedIn(t, email)
}
