package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/proxytest"
)

const forwardAuthRules = `default: deny
rules:
  - domains: [app.example.com]
    paths: [/public]
    policy: public
  - domains: [app.example.com]
    paths: [/admin]
    policy: two_factor
  - domains: [app.example.com]
    paths: [/forbidden]
    policy: deny
  - domains: [app.example.com]
    policy: signed_in
`

// TestForwardAuthE2E runs Gatehouse behind the documented nginx and Caddy
// configurations: every verdict with real sessions, the identity the app
// gets (and a Remote-Token it can verify with the JWKS), coming back after
// sign-in and step-up, the rules command, the admin page and a broken rules
// file.
func TestForwardAuthE2E(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(forwardAuthRules), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerIn(t, dir, nil, "--access-rules", rulesFile, "--trusted-proxies", "127.0.0.1/32")
	gh := strings.TrimPrefix(ts.URL, "http://")
	up := proxytest.Upstream(t)
	proxies := map[string]*proxytest.Proxy{
		"nginx": proxytest.Nginx(t, gh, strings.TrimPrefix(up.URL, "http://")),
		"caddy": proxytest.Caddy(t, gh, strings.TrimPrefix(up.URL, "http://")),
	}

	user := ts.browser()
	user.register("fa@example.com", goodPassword)
	user.signIn("fa@example.com", goodPassword)
	cookie := user.cookie("gatehouse")
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	// The browser would send the cookie to the app's host with
	// COOKIE_DOMAIN; the test hands it over itself.
	sessionCookie := cookie.Name + "=" + cookie.Value

	keys, err := apitoken.NewRemoteKeySet(context.Background(), ts.URL+"/.well-known/jwks.json", apitoken.WithInsecureHTTP())
	if err != nil {
		t.Fatal(err)
	}

	for name, p := range proxies {
		t.Run(name, func(t *testing.T) {
			c := p.Client()
			get := func(path string, hdr ...string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest("GET", p.URL+path, nil)
				req.Header.Set("Accept", "text/html")
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { resp.Body.Close() })
				return resp
			}
			wantRedirect := func(resp *http.Response, page, path string) {
				t.Helper()
				want := ts.URL + page + "?next=" + url.QueryEscape(p.URL+path)
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
					t.Fatalf("%d %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
				}
			}

			wantRedirect(get("/page?x=1"), "/login", "/page?x=1")
			if resp := get("/public/a", "Remote-User", "1"); resp.StatusCode != 200 || proxytest.ReadEcho(t, resp).Header.Get("Remote-User") != "" {
				t.Fatalf("public: %d", resp.StatusCode)
			}
			resp := get("/page", "Cookie", sessionCookie, "Remote-User", "999", "Remote-Email", "root@example.com")
			if resp.StatusCode != 200 {
				t.Fatalf("signed in: %d", resp.StatusCode)
			}
			echo := proxytest.ReadEcho(t, resp)
			if echo.Header.Get("Remote-Email") != "fa@example.com" || len(echo.Header.Values("Remote-User")) != 1 || echo.Header.Get("Remote-User") == "999" {
				t.Fatalf("identity %v", echo.Header)
			}
			v, err := apitoken.NewVerifier(keys, apitoken.VerifierConfig{Issuer: ts.URL, Audience: p.URL})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(echo.Header.Get("Remote-Token"))
			if err != nil || claims.Subject != echo.Header.Get("Remote-User") || claims.Email != "fa@example.com" {
				t.Fatalf("Remote-Token: %+v %v", claims, err)
			}
			wantRedirect(get("/admin/x", "Cookie", sessionCookie), "/login/step-up", "/admin/x")
			if resp := get("/forbidden", "Cookie", sessionCookie); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("forbidden: %d", resp.StatusCode)
			}
			if resp := get("//admin", "Cookie", sessionCookie); resp.StatusCode == 200 || resp.StatusCode >= 500 {
				t.Fatalf("//admin: %d", resp.StatusCode)
			}
		})
	}

	// Back to the app after sign-in: absolute next on a protected host.
	app := proxies["nginx"].URL + "/page?x=1"
	b := ts.browser()
	b.register("back@example.com", goodPassword)
	// After a form, another origin is reached through a page with a Refresh
	// header: browsers apply the form-action CSP to the redirects that
	// follow a form submission.
	goesOn := func(r *response, to string) {
		t.Helper()
		r.want(t, 200, `id="continue" href="`+strings.ReplaceAll(to, "&", "&amp;")+`"`)
		if got := r.Header.Get("Refresh"); got != "0;url="+to {
			t.Fatalf("Refresh %q, want to %s", got, to)
		}
	}
	goesOn(b.submit("/login", "/login", "email", "back@example.com", "password", goodPassword, "next", app), app)
	for _, bad := range []string{"https://evil.example/", "http://app.example.com@evil.example/", "http:/\\evil.example", "http://evil.example\\@app.example.com/", "http://app.example.com/\r\nx"} {
		b.get("/login?next="+url.QueryEscape(bad)).redirect(t, "/dashboard") // signed in: straight to next
	}
	goesOn(b.submit("/dashboard", "/logout", "next", app), app)

	// Through registration: the form carries next to the sign-in.
	reg := ts.browser()
	form := "/register?next=" + url.QueryEscape(app)
	reg.get(form).want(t, 200, `name="next" value="`+app+`"`)
	reg.submit(form, "/register", "email", "newcomer@example.com", "password", goodPassword, "next", app).
		redirect(t, "/login?next="+url.QueryEscape(app))
	reg.get("/login?next="+url.QueryEscape(app)).want(t, 200, `href="/register?next=`+strings.ToLower(url.QueryEscape(app))+`"`) // html/template writes lower-case escapes
	if r := reg.get("/register?next="+url.QueryEscape("https://evil.example/")).want(t, 200); strings.Contains(r.body, "evil.example") {
		t.Fatal("the registration form carried an unsafe next")
	}

	// Step-up, then the two_factor rule lets the session through.
	one, authn, _ := enrolled(t, ts, "two@example.com")
	admin := proxies["caddy"].URL + "/admin/x"
	goesOn(one.submit("/dashboard", "/login/step-up", "code", authn.code(), "next", admin), admin)
	c := one.cookie("gatehouse")
	req, _ := http.NewRequest("GET", admin, nil)
	req.Header.Set("Cookie", c.Name+"="+c.Value)
	resp, err := proxies["caddy"].Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("after step-up: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// The rules command.
	out := ts.mustCLI("", "rules", "check", rulesFile)
	if !strings.Contains(out, "4 rules") {
		t.Fatalf("rules check:\n%s", out)
	}
	out = ts.mustCLI("", "--access-rules", rulesFile, "rules", "test", "https://app.example.com/public/../admin", "--email", "fa@example.com")
	if !strings.Contains(out, "decided by: rule 2") || !strings.Contains(out, "fa@example.com") {
		t.Fatalf("rules test:\n%s", out)
	}

	// A broken file keeps the rules and says so in /readyz.
	if err := os.WriteFile(rulesFile, []byte("default: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	_ = os.Chtimes(rulesFile, future, future)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := r.Body.Read(body)
		r.Body.Close()
		if r.StatusCode == 200 && strings.Contains(string(body[:n]), "access rules:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported the broken rules: %d %s", r.StatusCode, body[:n])
		}
		time.Sleep(200 * time.Millisecond) // the server polls the file every 2s
	}
	// The admin page shows the rules in force and the error.
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "boss@example.com", "--admin", "--verified")
	boss := ts.browser()
	boss.signIn("boss@example.com", goodPassword)
	boss.get("/admin/access").want(t, 200, "Forward-auth access rules", "paths /forbidden -&gt; deny", "The rules file is broken", "nope")
	user.get("/admin/access").want(t, 403)

	if resp := func() *http.Response {
		req, _ := http.NewRequest("GET", proxies["nginx"].URL+"/page", nil)
		req.Header.Set("Cookie", sessionCookie)
		resp, err := proxies["nginx"].Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}(); resp.StatusCode != 200 {
		t.Fatalf("the last good rules are not in force: %d", resp.StatusCode)
	}
}
