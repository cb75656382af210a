package app

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"golang.org/x/oauth2"
)

// Every attack of the OpenID Connect issue's "bad input" list, each a
// test, through the real server. None may answer 500.

// authURL returns the path and query of an authorization request with
// params changed ("" deletes one).
func (c *rp) authURL(f flow, params ...string) string {
	u, _ := url.Parse(f.url)
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			q.Del(params[i])
		} else {
			q.Set(params[i], params[i+1])
		}
	}
	return u.Path + "?" + q.Encode()
}

// code runs a flow and returns its code and verifier.
func (c *rp) code(b *browser) (string, string) {
	c.t.Helper()
	f := c.start()
	return c.authorize(b, f).Query().Get("code"), f.verifier
}

func TestOIDCRedirectURIMustMatchExactly(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	b := oidcUser(t, ts, "alice@example.com", false)
	f := c.start()
	for _, bad := range []string{
		"http://127.0.0.1:9/cb/x",           // suffix
		"http://127.0.0.1:9/cbx",            // suffix without a slash
		"http://127.0.0.1:9/c",              // prefix
		"HTTP://127.0.0.1:9/CB",             // case
		"http://127.0.0.1:9/other/../cb",    // path
		"http://127.0.0.1:9/cb?x=1",         // query
		"http://127.0.0.1:9/cb#frag",        // fragment
		"http://evil@127.0.0.1:9/cb",        // userinfo
		"http://127.0.0.1:10/cb",            // another port (confidential client)
		"https://evil.example/cb",           // another host
		"http://127.0.0.1:9/cb%2F..%2Fevil", // encoded path
		"",                                  // missing (more than one could be meant: refused too when exactly one is registered? see below)
	} {
		t.Run(bad, func(t *testing.T) {
			r := b.get(c.authURL(f, "redirect_uri", bad))
			if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Fatalf("redirect_uri %q: status %d Location %q, want a 400 page and no redirect", bad, r.StatusCode, r.Header.Get("Location"))
			}
		})
	}
	// A public (native) client's loopback URI matches any port, nothing
	// else.
	pub := newRP(t, ts, "--public")
	pf := pub.start()
	r := b.get(pub.authURL(pf, "redirect_uri", "http://127.0.0.1:53111/cb"))
	if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusSeeOther {
		t.Fatalf("public client on another loopback port: %d\n%s", r.StatusCode, trim(r.body))
	}
	for _, bad := range []string{"http://127.0.0.1:53111/cb/x", "http://localhost:9/cb", "https://127.0.0.1:9/cb"} {
		if r := b.get(pub.authURL(pf, "redirect_uri", bad)); r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Fatalf("public client redirect_uri %q: %d %q", bad, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

func TestOIDCCodeAttacks(t *testing.T) {
	ts := startServer(t)
	a := newRP(t, ts)
	other := newRP(t, ts)
	b := oidcUser(t, ts, "alice@example.com", false)
	ctx := context.Background()

	t.Run("used twice revokes what it gave", func(t *testing.T) {
		code, v := a.code(b)
		tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("second redemption: %v, want invalid_grant", err)
		}
		if _, err := a.userInfo(tok); err == nil {
			t.Fatal("the first redemption's access token still works")
		}
		if _, err := a.refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("the first redemption's refresh token: %v", err)
		}
	})
	t.Run("redeemed by another client", func(t *testing.T) {
		code, v := a.code(b)
		if _, err := other.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("client B redeeming A's code: %v, want invalid_grant", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code, v := a.code(b)
		bad := *a.conf
		bad.ClientSecret = "not-the-secret"
		if _, err := bad.Exchange(ctx, code, oauth2.VerifierOption(v)); !isOAuthError(err, "invalid_client") {
			t.Fatalf("wrong secret: %v, want invalid_client", err)
		}
	})
	t.Run("PKCE verifier wrong or missing", func(t *testing.T) {
		code, _ := a.code(b)
		if _, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("wrong verifier: %v, want invalid_grant", err)
		}
		code, _ = a.code(b)
		if _, err := a.conf.Exchange(ctx, code); err == nil {
			t.Fatal("exchange without a verifier succeeded")
		}
	})
	for _, tc := range []struct{ name, challenge, method string }{
		{"PKCE missing", "", ""},
		{"PKCE plain", "plain-challenge-plain-challenge-plain-challenge-xx", "plain"},
		{"PKCE unknown method", "abcdefghijabcdefghijabcdefghijabcdefghij123", "S512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := a.start()
			r := b.get(a.authURL(f, "code_challenge", tc.challenge, "code_challenge_method", tc.method))
			loc, _ := url.Parse(r.Header.Get("Location"))
			if r.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") == "" || loc.Query().Get("code") != "" ||
				loc.Query().Get("iss") != ts.URL {
				t.Fatalf("%s: status %d Location %q, want an error to the client with iss", tc.name, r.StatusCode, r.Header.Get("Location"))
			}
		})
	}
	t.Run("allow-no-pkce client", func(t *testing.T) {
		lax := newRP(t, ts, "--allow-no-pkce", "--skip-consent")
		f := lax.start()
		r := b.get(lax.authURL(f, "code_challenge", "", "code_challenge_method", ""))
		loc, _ := url.Parse(r.Header.Get("Location"))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("no PKCE on an --allow-no-pkce client: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if _, err := lax.conf.Exchange(ctx, loc.Query().Get("code")); err != nil {
			t.Fatalf("exchange without PKCE: %v", err)
		}
		// plain stays refused, and a challenge sent must be met.
		r = b.get(lax.authURL(lax.start(), "code_challenge", "plain-challenge-plain-challenge-plain-challenge-xx", "code_challenge_method", "plain"))
		if loc, _ := url.Parse(r.Header.Get("Location")); loc == nil || loc.Query().Get("error") == "" {
			t.Fatalf("plain on an --allow-no-pkce client: %q", r.Header.Get("Location"))
		}
		code := lax.authorize(b, lax.start()).Query().Get("code")
		if _, err := lax.conf.Exchange(ctx, code); err == nil {
			t.Fatal("a code with a challenge redeemed without its verifier")
		}
		// A client B naming the lax client cannot skip PKCE for its own code.
		code, _ = other.code(b)
		if _, err := other.conf.Exchange(ctx, code, oauth2.SetAuthURLParam("client_id", lax.id)); err == nil {
			t.Fatal("PKCE skipped by naming another client")
		}
	})
	t.Run("expired", func(t *testing.T) {
		code, v := a.code(b)
		expireCodes(t, ts)
		if _, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("expired code: %v, want invalid_grant", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, code := range []string{"", "x", strings.Repeat("a", 5000), "ory_ac_x.y", "..."} {
			if _, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
				t.Fatalf("code %q accepted", code)
			}
		}
	})
}

// expireCodes moves the expiry of every stored authorization code an hour
// back, as the clock would: the library checks it against time.Now.
func expireCodes(t *testing.T, ts *testServer) {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(ts.dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.SQL().Query(`SELECT signature, data FROM oidc_tokens WHERE kind = 'code'`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		sig  []byte
		data string
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.sig, &r.data); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	rows.Close()
	for _, r := range all {
		var req map[string]any
		_ = json.Unmarshal([]byte(r.data), &req)
		sess := req["session"].(map[string]any)["idtoken"].(map[string]any)
		sess["expires_at"] = map[string]any{"authorize_code": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}
		out, _ := json.Marshal(req)
		if _, err := d.SQL().Exec(`UPDATE oidc_tokens SET data = ? WHERE kind = 'code' AND signature = ?`, string(out), r.sig); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOIDCPromptAndPolicy(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	anon := ts.browser()
	f := c.start()

	// prompt=none without a session: login_required to the client.
	r := anon.get(c.authURL(f, "prompt", "none"))
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != f.state || loc.Query().Get("iss") != ts.URL {
		t.Fatalf("prompt=none signed out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Without a session: to the sign-in page, back here afterwards.
	r = anon.get(c.authURL(f))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=%2Foidc%2Fauthorize%3F") {
		t.Fatalf("signed out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	b := oidcUser(t, ts, "alice@example.com", false)
	// prompt=none before consent: consent_required.
	r = b.get(c.authURL(f, "prompt", "none"))
	if loc, _ := url.Parse(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Deny on the consent page: access_denied.
	r = b.get(c.authURL(f))
	m := formAction.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no consent form:\n%s", trim(r.body))
	}
	tok := csrfField.FindStringSubmatch(r.body)[1]
	r = b.post(html.UnescapeString(m[1]), url.Values{"csrf_token": {tok}, "decision": {"deny"}})
	if loc, _ := url.Parse(clientLocation(t, r)); loc.Query().Get("error") != "access_denied" || loc.Query().Get("iss") != ts.URL {
		t.Fatalf("deny: %d %q", r.StatusCode, loc)
	}
	// The consent form without its CSRF token is refused.
	b.post(html.UnescapeString(m[1]), url.Values{"decision": {"allow"}}).want(t, http.StatusForbidden)
	// After consent, prompt=none succeeds and prompt=consent asks again.
	c.login(b)
	r = b.get(c.authURL(c.start(), "prompt", "none"))
	if loc, _ := url.Parse(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Fatalf("prompt=none after consent: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	b.get(c.authURL(c.start(), "prompt", "consent")).want(t, http.StatusOK, "decision")
	// prompt=login ends the session and asks for a fresh sign-in.
	r = b.get(c.authURL(c.start(), "prompt", "login"))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") || strings.Contains(r.Header.Get("Location"), "prompt%3Dlogin") {
		t.Fatalf("prompt=login: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	b.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")

	// --role: a user without it gets an error page, the client access_denied.
	admins := newRP(t, ts, "--role", "admin", "--skip-consent")
	b2 := oidcUser(t, ts, "bob@example.com", false)
	r = b2.get(admins.authURL(admins.start()))
	r.want(t, http.StatusForbidden, "Access denied", "error=access_denied")
	r = b2.get(admins.authURL(admins.start(), "prompt", "none"))
	if loc, _ := url.Parse(r.Header.Get("Location")); loc.Query().Get("error") != "access_denied" {
		t.Fatalf("role, prompt=none: %q", r.Header.Get("Location"))
	}
	boss := oidcUser(t, ts, "boss@example.com", true)
	admins.login(boss) // an admin gets in, without a consent page

	// --require-2fa: a one-factor session steps up first.
	strict := newRP(t, ts, "--require-2fa")
	r = b2.get(strict.authURL(strict.start()))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login/step-up?next=%2Foidc%2Fauthorize%3F") {
		t.Fatalf("require-2fa: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b2.get(strict.authURL(strict.start(), "prompt", "none"))
	if loc, _ := url.Parse(r.Header.Get("Location")); loc.Query().Get("error") != "interaction_required" {
		t.Fatalf("require-2fa, prompt=none: %q", r.Header.Get("Location"))
	}

	// A disabled client signs nobody in, and its tokens die.
	tok2, _ := admins.login(boss)
	ts.mustCLI("", "client", "disable", admins.id)
	boss.get(admins.authURL(admins.start())).want(t, http.StatusBadRequest)
	if _, err := admins.refresh(tok2.RefreshToken); err == nil {
		t.Fatal("a disabled client refreshed")
	}
	if _, err := admins.userInfo(tok2); err == nil {
		t.Fatal("a disabled client's access token works")
	}
}

func TestOIDCSessionsEndTokens(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	for _, tc := range []struct {
		name string
		end  func(b *browser, email string)
	}{
		{"sign-out", func(b *browser, _ string) { b.submit("/dashboard", "/logout") }},
		{"password change", func(b *browser, _ string) {
			b.submit("/account", "/account/password", "current_password", goodPassword, "new_password", "a whole new passphrase")
		}},
		{"disabled", func(_ *browser, email string) { ts.mustCLI("", "user", "disable", email) }},
		{"sign out everywhere", func(_ *browser, email string) { ts.mustCLI("", "user", "revoke-sessions", email) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
			b := oidcUser(t, ts, email, false)
			tok, _ := c.login(b)
			if _, err := c.userInfo(tok); err != nil {
				t.Fatalf("UserInfo before: %v", err)
			}
			tc.end(b, email)
			if _, err := c.userInfo(tok); err == nil {
				t.Fatal("UserInfo still works")
			}
			if _, err := c.refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("refresh: %v, want invalid_grant", err)
			}
		})
	}
}

func TestOIDCLogout(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	b := oidcUser(t, ts, "alice@example.com", false)
	_, idt := c.login(b)
	_ = idt
	raw := func() string {
		tok, _ := c.login(b)
		s, _ := tok.Extra("id_token").(string)
		return s
	}
	// Not registered: signed out, but no redirect.
	q := url.Values{"id_token_hint": {raw()}, "post_logout_redirect_uri": {"http://127.0.0.1:9/other"}}
	b.get("/oidc/logout?"+q.Encode()).want(t, http.StatusOK, "did not register")
	b.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	// Registered, with a hint naming the signed-in user: signed out and sent
	// back with state.
	b.signIn("alice@example.com", goodPassword)
	q = url.Values{"id_token_hint": {raw()}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"s1"}}
	b.get("/oidc/logout?"+q.Encode()).redirect(t, "http://127.0.0.1:9/bye?state=s1")
	b.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	// Without a hint another site cannot sign anyone out: a confirmation.
	b.signIn("alice@example.com", goodPassword)
	q = url.Values{"client_id": {c.id}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}
	b.get("/oidc/logout?"+q.Encode()).want(t, http.StatusOK, "Sign out?")
	b.get("/dashboard").want(t, http.StatusOK)
	// A forged hint is refused.
	b.get("/oidc/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.").want(t, http.StatusBadRequest)
}

func TestOIDCBadInputNever500(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	b := oidcUser(t, ts, "alice@example.com", false)
	f := c.start()
	u, _ := url.Parse(f.url)
	// Repeated and oversized parameters at the authorization endpoint.
	b.get(u.RequestURI()+"&state=again").want(t, http.StatusBadRequest, "more than once")
	b.get(u.RequestURI()+"&redirect_uri=http%3A%2F%2Fevil.example%2F").want(t, http.StatusBadRequest)
	b.get(u.RequestURI()+"&x="+strings.Repeat("a", 5000)).want(t, http.StatusBadRequest)
	if r := b.get(u.RequestURI() + "&x=" + strings.Repeat("a", 9000)); r.StatusCode != http.StatusRequestURITooLong {
		t.Fatalf("huge request target: %d", r.StatusCode)
	}
	for _, q := range []string{"", "client_id=", "client_id=" + strings.Repeat("z", 200), "client_id=nope&response_type=code",
		"client_id=" + c.id + "&response_type=token&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb",
		"client_id=" + c.id + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_mode=form_post", "%zz"} {
		if r := b.get("/oidc/authorize?" + q); r.StatusCode >= 500 {
			t.Fatalf("authorize %q: %d", q, r.StatusCode)
		}
	}
	// The token endpoint: repeated, oversized, malformed.
	post := func(body string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("POST", ts.URL+"/oidc/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{"grant_type=authorization_code&grant_type=refresh_token", 400},
		{"grant_type=authorization_code&code=x&client_id=" + c.id + "&client_id=" + c.id, 400},
		{"grant_type=" + strings.Repeat("a", 20000), 413},
		{"grant_type=password&username=a&password=b", 401},
		{"grant_type=client_credentials&client_id=" + c.id + "&client_secret=" + c.secret, 400},
		{"%zz", 400},
		{"", 400},
	} {
		if resp := post(tc.body); resp.StatusCode != tc.want && !(tc.want == 401 && resp.StatusCode == 400) {
			t.Errorf("token %q: %d, want %d", trunc40(tc.body), resp.StatusCode, tc.want)
		}
	}
	if resp := post("grant_type=refresh_token&refresh_token=x", "Authorization", "Basic !!!"); resp.StatusCode >= 500 {
		t.Fatalf("bad basic auth: %d", resp.StatusCode)
	}
	// UserInfo with junk.
	for _, h := range []string{"", "Bearer", "Bearer x", "Bearer " + strings.Repeat("a", 10000), "Basic abc", "Bearer a.b.c"} {
		req, _ := http.NewRequest("GET", ts.URL+"/oidc/userinfo", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("UserInfo with %q: %d", trunc40(h), resp.StatusCode)
		}
	}
	// Revocation of junk: 200 (RFC 7009) or a client error, never 500.
	resp, err := http.PostForm(ts.URL+"/oidc/revoke", url.Values{"token": {"junk"}, "client_id": {c.id}, "client_secret": {c.secret}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke junk: %v %v", resp, err)
	}
	resp.Body.Close()
	if strings.Contains(ts.logs.String(), "panic") {
		t.Fatal("panic logged")
	}
}

func trunc40(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestOIDCAdminClientsPage(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	user := oidcUser(t, ts, "alice@example.com", false)
	user.get("/admin/clients").want(t, http.StatusForbidden)
	user.get("/account").want(t, http.StatusOK, `href="/account/apps"`)
	admin := oidcUser(t, ts, "root@example.com", true)
	admin.get("/admin/clients").want(t, http.StatusOK, "Test App", c.id, "confidential")
	admin.submit("/admin/clients", "/admin/clients/"+c.id+"/disable").redirect(t, "/admin/clients")
	admin.get("/admin/clients").want(t, http.StatusOK, "disabled")
	admin.submit("/admin/clients", "/admin/clients/nope/disable").want(t, http.StatusNotFound)
	user.get(c.authURL(c.start())).want(t, http.StatusBadRequest)
}

// login_hint fills the sign-in form's address.
func TestOIDCLoginHint(t *testing.T) {
	ts := startServer(t)
	c := newRP(t, ts)
	anon := ts.browser()
	r := anon.get(c.authURL(c.start(), "login_hint", "hint@example.com"))
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "email=hint%40example.com") {
		t.Fatalf("login_hint: %d %q", r.StatusCode, loc)
	}
	anon.get(loc).want(t, http.StatusOK, `value="hint@example.com"`)
}
