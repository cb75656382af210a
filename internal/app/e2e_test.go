package app

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/signin"
)

const goodPassword = "correct horse battery staple"

func TestJourneyRegisterSignInChangePasswordSignOut(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("Alice@Example.com ", goodPassword)
	b.get("/login").want(t, 200, "If this address is new")
	b.signIn("alice@example.com", goodPassword)

	c := b.cookie("gatehouse")
	if c == nil {
		t.Fatal("no session cookie after sign-in")
	}
	d := b.get("/dashboard").want(t, 200, "Alice@Example.com")
	if cc := d.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("dashboard Cache-Control %q", cc)
	}

	// A second browser signs in too; changing the password here ends it.
	other := ts.browser()
	other.signIn("alice@example.com", goodPassword)
	other.get("/dashboard").want(t, 200)

	before := b.cookie("gatehouse").Value
	b.submit("/account", "/account/password", "current_password", goodPassword, "new_password", "a whole new passphrase").
		redirect(t, "/account")
	if after := b.cookie("gatehouse").Value; after == before {
		t.Error("password change did not renew the session id")
	}
	b.get("/account").want(t, 200, "Your password was changed")
	other.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")

	// The old password no longer works; the new one does.
	fresh := ts.browser()
	fresh.submit("/login", "/login", "email", "alice@example.com", "password", goodPassword).want(t, 401, signin.GenericLoginError)
	fresh.signIn("alice@example.com", "a whole new passphrase")

	// Sign-out destroys the session on the server: the old cookie is dead.
	stolen := b.cookie("gatehouse").Value
	out := b.submit("/dashboard", "/logout")
	out.redirect(t, "/")
	if !strings.Contains(out.Header.Get("Clear-Site-Data"), "cookies") {
		t.Errorf("logout Clear-Site-Data = %q", out.Header.Get("Clear-Site-Data"))
	}
	replay := ts.browser()
	u, _ := url.Parse(ts.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse", Value: stolen}})
	replay.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
}

func TestSessionCookieAttributes(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("c@example.com", goodPassword)
	// The registration left an anonymous session (for its message); signing
	// in must not keep its id (no session fixation).
	anon := b.cookie("gatehouse")
	if anon == nil {
		t.Fatal("no anonymous session after registering")
	}
	r := b.submit("/login", "/login", "email", "c@example.com", "password", goodPassword)
	var found bool
	for _, c := range r.Cookies() {
		if c.Name != "gatehouse" {
			continue
		}
		found = true
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || len(c.Value) != 43 {
			t.Errorf("session cookie %+v", c)
		}
	}
	if !found {
		t.Fatal("sign-in set no session cookie")
	}
	if b.cookie("gatehouse").Value == anon.Value {
		t.Error("sign-in kept the session id")
	}
}

func TestRegistrationDoesNotRevealAccounts(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("taken@example.com", goodPassword)

	// The same address again, in another case, with another password: the
	// same answer, and the account is untouched.
	again := ts.browser()
	r := again.submit("/register", "/register", "email", "TAKEN@example.com", "password", "another good passphrase")
	r.redirect(t, "/login")
	again.get("/login").want(t, 200, "If this address is new")
	again.submit("/login", "/login", "email", "taken@example.com", "password", "another good passphrase").want(t, 401)
	again.signIn("taken@example.com", goodPassword)
}

func TestSignInFailuresLookTheSame(t *testing.T) {
	ts := startServer(t)
	admin := ts.browser()
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "admin@example.com", "--admin", "--verified")
	ts.browser().register("victim@example.com", goodPassword)
	ts.browser().register("disabled@example.com", goodPassword)
	ts.mustCLI("", "user", "disable", "disabled@example.com")
	admin.signIn("admin@example.com", goodPassword)

	var bodies []string
	for _, tt := range []struct{ email, pw string }{
		{"nobody@example.com", goodPassword},
		{"victim@example.com", "wrong password here"},
		{"disabled@example.com", goodPassword},
		{"not an email", goodPassword},
	} {
		r := ts.browser().submit("/login", "/login", "email", tt.email, "password", tt.pw).want(t, 401, signin.GenericLoginError)
		i := strings.Index(r.body, "<main")
		j := strings.Index(r.body, `name="email"`)
		bodies = append(bodies, csrfField.ReplaceAllString(r.body[i:j], ""))
	}
	// A blank form is a validation error (422): each empty field is marked,
	// and nothing was checked.
	for _, tt := range []struct{ email, pw string }{{"", ""}, {"victim@example.com", ""}, {"", goodPassword}} {
		r := ts.browser().submit("/login", "/login", "email", tt.email, "password", tt.pw).want(t, 422)
		if strings.Contains(r.body, signin.GenericLoginError) ||
			(tt.email == "") != strings.Contains(r.body, `id="email-error">Enter your email address.`) ||
			(tt.pw == "") != strings.Contains(r.body, `id="password-error">Enter your password.`) {
			t.Errorf("blank sign-in %+v:\n%s", tt, r.body)
		}
	}
	for _, b := range bodies[1:3] {
		if b != bodies[0] {
			t.Errorf("failure pages differ:\n%s\n---\n%s", bodies[0], b)
		}
	}
}

func TestAdminDisablesUser(t *testing.T) {
	ts := startServer(t)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "root@example.com", "--admin", "--verified")
	admin := ts.browser()
	admin.signIn("root@example.com", goodPassword)
	user := ts.browser()
	user.register("bob@example.com", goodPassword)
	user.signIn("bob@example.com", goodPassword)

	// Non-admins get 403 on admin pages.
	user.get("/admin/users").want(t, 403)
	user.submit("/dashboard", "/admin/users/1/disable").want(t, 403)

	page := admin.get("/admin/users").want(t, 200, "bob@example.com", "root@example.com")
	if !strings.Contains(page.body, `action="/admin/users/2/disable"`) {
		t.Fatalf("no disable form for bob:\n%s", page.body)
	}
	admin.submit("/admin/users", "/admin/users/2/disable").redirect(t, "/admin/users")
	admin.get("/admin/users").want(t, 200, "disabled")

	// Bob's session ended at once; he cannot sign in again.
	user.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	ts.browser().submit("/login", "/login", "email", "bob@example.com", "password", goodPassword).want(t, 401, signin.GenericLoginError)

	// An admin cannot disable themself; unknown ids are 404.
	admin.submit("/admin/users", "/admin/users/1/disable").want(t, 403)
	admin.submit("/admin/users", "/admin/users/999/disable").want(t, 404)
	admin.submit("/admin/users", "/admin/users/abc/disable").want(t, 404)

	admin.submit("/admin/users", "/admin/users/2/enable").redirect(t, "/admin/users")
	ts.browser().signIn("bob@example.com", goodPassword)

	// The audit trail has the admin actions.
	if out := ts.logs.String(); strings.Contains(out, goodPassword) {
		t.Error("a password reached the logs")
	}
}

func TestNextOnlyLocal(t *testing.T) {
	ts := startServer(t)
	ts.browser().register("n@example.com", goodPassword)
	for next, want := range map[string]string{
		"/account":             "/account",
		"//evil.example":       "/dashboard",
		"/\\evil.example":      "/dashboard",
		"https://evil.example": "/dashboard",
		"/%2F%2Fevil.example":  "/dashboard",
	} {
		ts.browser().submit("/login", "/login", "email", "n@example.com", "password", goodPassword, "next", next).redirect(t, want)
	}
	// The login page carries next through from the query.
	anon := ts.browser()
	anon.get("/account/sessions").redirect(t, "/login?next=%2Faccount%2Fsessions")
	anon.get("/login?next=%2Faccount%2Fsessions").want(t, 200, `name="next" value="/account/sessions"`)
}

func TestCSRFRefusals(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("x@example.com", goodPassword)
	b.signIn("x@example.com", goodPassword)

	// No token.
	b.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"another fine passphrase"}}).want(t, 403)
	// A token from another browser.
	other := ts.browser()
	tok := other.token("/login")
	b.post("/logout", url.Values{"csrf_token": {tok}}).want(t, 403)
	// A cross-site request with a valid token.
	req, _ := http.NewRequest("POST", ts.URL+"/logout", strings.NewReader(url.Values{"csrf_token": {b.token("/dashboard")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	b.do(req).want(t, 403)
	// Still signed in, password unchanged.
	b.get("/dashboard").want(t, 200)
	// The token also works in the header.
	req, _ = http.NewRequest("POST", ts.URL+"/logout", nil)
	req.Header.Set("X-CSRF-Token", b.token("/dashboard"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	b.do(req).redirect(t, "/")
}

func TestBadInput(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	tok := b.token("/login")

	// A repeated field.
	r := b.post("/login", url.Values{"csrf_token": {tok}, "email": {"a@example.com", "b@example.com"}, "password": {"x"}})
	r.want(t, 400)
	// A body over the form limit.
	big := url.Values{"csrf_token": {tok}, "email": {strings.Repeat("a", 70<<10)}}
	b.post("/login", big).want(t, 413)
	// Unknown route and wrong method get our pages.
	b.get("/nope").want(t, 404, "There is no page at this address")
	del, _ := http.NewRequest("DELETE", ts.URL+"/login", nil)
	m := b.do(del)
	m.want(t, 405)
	if allow := m.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	// A garbage session cookie is just a signed-out visitor.
	g := ts.browser()
	u, _ := url.Parse(ts.URL)
	for _, v := range []string{"x", strings.Repeat("A", 43), strings.Repeat("é", 500), "../../etc"} {
		g.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse", Value: url.QueryEscape(v)}})
		g.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	}
	// Non-UTF-8 in a form.
	b.post("/register", url.Values{"csrf_token": {tok}, "email": {"\xff@example.com"}, "password": {goodPassword}}).want(t, 400)
	// Validation errors: 422, input shown again, never the password.
	v := b.submit("/register", "/register", "email", "not-an-email", "password", "short", "display_name", "Zoë")
	v.want(t, 422, `value="not-an-email"`, `value="Zoë"`)
	if strings.Contains(v.body, `value="short"`) {
		t.Error("the password was shown again")
	}
	c := b.submit("/register", "/register", "email", "ok@example.com", "password", "password123")
	c.want(t, 422)
	// Wrong content type for a form.
	req, _ := http.NewRequest("POST", ts.URL+"/login", strings.NewReader(`{"email":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", tok)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	b.do(req).want(t, 415)
}

func TestSecurityHeaders(t *testing.T) {
	ts := startServer(t)
	r := ts.browser().get("/login").want(t, 200)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "'strict-dynamic'", "style-src 'self'",
		"form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "strict-origin-when-cross-origin",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if r.Header.Get("Permissions-Policy") == "" {
		t.Error("no Permissions-Policy")
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on an http base URL")
	}
	// Scripts are first-party files with the response's nonce, never
	// inline code (passkey.js on the sign-in page).
	nonce := r.Header.Get("Content-Security-Policy")
	nonce = nonce[strings.Index(nonce, "'nonce-")+len("'nonce-"):]
	nonce = nonce[:strings.Index(nonce, "'")]
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(r.body, -1)
	for _, tag := range scripts {
		if !regexp.MustCompile(`^<script nonce="` + regexp.QuoteMeta(nonce) + `" src="/static/[a-z]+\.js" defer>$`).MatchString(tag) {
			t.Errorf("script tag %q is not a first-party file with the nonce", tag)
		}
	}
	if strings.Count(r.body, "<script") != len(scripts) || strings.Count(r.body, " defer></script>") != len(scripts) ||
		strings.Count(r.body, "</script>") != len(scripts) || strings.Contains(r.body, "style=") {
		t.Error("inline script or style in a page")
	}
	// Two responses carry different nonces.
	r2 := ts.browser().get("/login")
	if r2.Header.Get("Content-Security-Policy") == csp {
		t.Error("the CSP nonce did not change")
	}
}

func TestHealthAndReady(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.get("/healthz").want(t, 200, "ok")
	b.get("/readyz").want(t, 200, "ready")
}

func TestCLI(t *testing.T) {
	ts := startServer(t)
	if out := ts.mustCLI("", "version"); !strings.HasPrefix(out, "gatehouse ") {
		t.Errorf("version: %q", out)
	}
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "ops@example.com", "--admin")
	if out, err := ts.cli(goodPassword+"\n", "user", "create", "--email", "OPS@example.com"); err == nil {
		t.Errorf("duplicate user create succeeded: %s", out)
	}
	if out, err := ts.cli("password\n", "user", "create", "--email", "weak@example.com"); err == nil || !strings.Contains(out+err.Error(), "password") {
		t.Errorf("weak password accepted: %s %v", out, err)
	}
	list := ts.mustCLI("", "user", "list")
	if !strings.Contains(list, "ops@example.com") || !strings.Contains(list, "admin") {
		t.Errorf("user list:\n%s", list)
	}
	ts.mustCLI("", "user", "disable", "ops@example.com")
	ts.mustCLI("", "user", "enable", "ops@example.com")
	if _, err := ts.cli("", "user", "disable", "ghost@example.com"); err == nil {
		t.Error("disabling an unknown user succeeded")
	}
	if out := ts.mustCLI("", "migrate"); !strings.Contains(out, "up to date") {
		t.Errorf("migrate: %q", out)
	}
	keys := ts.mustCLI("", "keys", "list")
	if !strings.Contains(keys, "current") {
		t.Errorf("keys list:\n%s", keys)
	}
	if _, err := ts.cli("", "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}
