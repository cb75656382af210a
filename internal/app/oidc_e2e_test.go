package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OpenID Connect provider, driven through the real server by
// independent clients: coreos/go-oidc (discovery, ID token and UserInfo)
// and golang.org/x/oauth2 (authorization URL, PKCE, code exchange,
// refresh).

// rp is a relying party registered with the test server.
type rp struct {
	t        *testing.T
	ts       *testServer
	id       string
	secret   string
	redirect string
	conf     *oauth2.Config
	provider *gooidc.Provider
}

// newRP registers a client through the CLI with extra flags.
func newRP(t *testing.T, ts *testServer, extra ...string) *rp {
	t.Helper()
	redirect := "http://127.0.0.1:9/cb"
	args := append([]string{"client", "create", "--name", "Test App", "--redirect-uri", redirect,
		"--post-logout-uri", "http://127.0.0.1:9/bye", "--json"}, extra...)
	out := ts.mustCLI("", args...)
	var created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" {
		t.Fatalf("client create --json printed %q: %v", out, err)
	}
	provider, err := gooidc.NewProvider(context.Background(), ts.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{t: t, ts: ts, id: created.ID, secret: created.Secret, redirect: redirect, provider: provider,
		conf: &oauth2.Config{ClientID: created.ID, ClientSecret: created.Secret, Endpoint: provider.Endpoint(), RedirectURL: redirect,
			Scopes: []string{"openid", "profile", "email", "groups", "offline_access"}}}
}

// flow is one authorization request in progress.
type flow struct {
	state, nonce, verifier string
	url                    string
}

func (c *rp) start(opts ...oauth2.AuthCodeOption) flow {
	f := flow{state: "state-" + oauth2.GenerateVerifier()[:12], nonce: "nonce-" + oauth2.GenerateVerifier()[:12], verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), gooidc.Nonce(f.nonce)}, opts...)
	f.url = c.conf.AuthCodeURL(f.state, opts...)
	return f
}

var continueLink = regexp.MustCompile(`<a id="continue" class="button" href="([^"]+)"`)

// clientLocation returns where an answer sends the browser: a 303's
// Location, or the link of the page that continues to the client after one
// of Gatehouse's own forms.
func clientLocation(t *testing.T, r *response) string {
	t.Helper()
	if r.StatusCode == http.StatusSeeOther {
		return r.Header.Get("Location")
	}
	if m := continueLink.FindStringSubmatch(r.body); r.StatusCode == http.StatusOK && m != nil {
		return html.UnescapeString(m[1])
	}
	t.Fatalf("%s %s: status %d, want a redirect or a continue page\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, trim(r.body))
	return ""
}

var formAction = regexp.MustCompile(`<form method="post" action="(/oidc/[^"]+)"`)

// authorize follows the authorization request in the browser, allowing on
// the consent page if one is shown, and returns the redirect to the client.
func (c *rp) authorize(b *browser, f flow) *url.URL {
	c.t.Helper()
	u, _ := url.Parse(f.url)
	r := b.get(u.RequestURI())
	if r.StatusCode == http.StatusOK && strings.Contains(r.body, "decision") {
		m := formAction.FindStringSubmatch(r.body)
		tok := csrfField.FindStringSubmatch(r.body)
		if m == nil || tok == nil {
			c.t.Fatalf("consent page without form:\n%s", trim(r.body))
		}
		r = b.post(html.UnescapeString(m[1]), url.Values{"csrf_token": {tok[1]}, "decision": {"allow"}})
	}
	loc, err := url.Parse(clientLocation(c.t, r))
	if err != nil || !strings.HasPrefix(loc.String(), c.redirect) {
		c.t.Fatalf("authorize sent the browser to %q, want %s", loc, c.redirect)
	}
	if got := loc.Query().Get("iss"); got != c.ts.URL {
		c.t.Fatalf("iss = %q, want %q (RFC 9207)", got, c.ts.URL)
	}
	if got := loc.Query().Get("state"); got != f.state {
		c.t.Fatalf("state = %q, want %q", got, f.state)
	}
	return loc
}

// login runs a whole flow and exchanges the code.
func (c *rp) login(b *browser, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *gooidc.IDToken) {
	c.t.Helper()
	f := c.start(opts...)
	loc := c.authorize(b, f)
	code := loc.Query().Get("code")
	if code == "" {
		c.t.Fatalf("no code in %s", loc)
	}
	tok, err := c.conf.Exchange(context.Background(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.provider.Verifier(&gooidc.Config{ClientID: c.id}).Verify(context.Background(), raw)
	if err != nil {
		c.t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != f.nonce {
		c.t.Fatalf("nonce = %q, want %q", idt.Nonce, f.nonce)
	}
	return tok, idt
}

func (c *rp) userInfo(tok *oauth2.Token) (*gooidc.UserInfo, error) {
	return c.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
}

func (c *rp) refresh(rt string) (*oauth2.Token, error) {
	return c.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// oidcUser creates a verified user and a browser signed in as them.
func oidcUser(t *testing.T, ts *testServer, email string, admin bool) *browser {
	t.Helper()
	args := []string{"user", "create", "--email", email, "--verified"}
	if admin {
		args = append(args, "--admin")
	}
	ts.mustCLI(goodPassword+"\n", args...)
	b := ts.browser()
	b.signIn(email, goodPassword)
	return b
}

func TestOIDCFlowSQLite(t *testing.T) { testOIDCFlow(t, startServer(t)) }

// The same flow on PostgreSQL: the provider's storage on the other engine.
func TestOIDCFlowPostgres(t *testing.T) {
	testOIDCFlow(t, startServer(t, "--database-url", testenv.PostgresSchemaURL(t), "--keys-file", filepath.Join(t.TempDir(), "gatehouse.keys")))
}

func testOIDCFlow(t *testing.T, ts *testServer) {
	c := newRP(t, ts)
	b := oidcUser(t, ts, "alice@example.com", false)

	// Discovery names what the contract promises.
	d := b.get("/.well-known/openid-configuration").want(t, 200)
	var meta map[string]any
	if err := json.Unmarshal([]byte(d.body), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != ts.URL || meta["end_session_endpoint"] == nil || !slices.Contains(anyStrings(meta["id_token_signing_alg_values_supported"]), "RS256") ||
		!slices.Equal(anyStrings(meta["code_challenge_methods_supported"]), []string{"S256"}) {
		t.Fatalf("discovery: %s", d.body)
	}
	// The JWKS keeps the API's Ed25519 key beside the RS256 key.
	jwks := b.get("/.well-known/jwks.json").want(t, 200, `"kty":"OKP"`, `"kty":"RSA"`, `"alg":"RS256"`)
	_ = jwks

	tok, idt := c.login(b)
	var claims struct {
		Email    string   `json:"email"`
		Verified bool     `json:"email_verified"`
		Name     string   `json:"name"`
		Username string   `json:"preferred_username"`
		Groups   []string `json:"groups"`
		AMR      []string `json:"amr"`
		ACR      string   `json:"acr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject == "" || claims.Email != "alice@example.com" || !claims.Verified || !slices.Contains(claims.Groups, "user") ||
		!slices.Contains(claims.AMR, "pwd") || claims.ACR == "" || claims.AuthTime == 0 || claims.Username != "alice@example.com" {
		t.Fatalf("ID token claims: sub=%q %+v", idt.Subject, claims)
	}
	if life := idt.Expiry.Sub(idt.IssuedAt); life != 5*60e9 {
		t.Fatalf("ID token lifetime %v, want 5m", life)
	}
	// The access token is an RFC 9068 JWT for this client, signed by the
	// JWKS keys.
	ks := gooidc.NewRemoteKeySet(context.Background(), ts.URL+"/.well-known/jwks.json")
	payload, err := ks.VerifySignature(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	var at map[string]any
	_ = json.Unmarshal(payload, &at)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[0])
	if !strings.Contains(string(hdr), `"typ":"at+jwt"`) || at["client_id"] != c.id || !slices.Contains(anyStrings(at["aud"]), c.id) ||
		at["sub"] != idt.Subject || at["iss"] != ts.URL {
		t.Fatalf("access token header %s claims %v", hdr, at)
	}
	// UserInfo.
	ui, err := c.userInfo(tok)
	if err != nil || ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Fatalf("UserInfo = %+v, %v", ui, err)
	}
	// Refresh rotates; the old refresh token reused revokes the family.
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	tok2, err := c.refresh(tok.RefreshToken)
	if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh = %+v, %v", tok2, err)
	}
	if _, err := c.refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("reused refresh token: %v, want invalid_grant", err)
	}
	if _, err := c.refresh(tok2.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh token of a revoked family: %v, want invalid_grant", err)
	}
	if _, err := c.userInfo(tok2); err == nil {
		t.Fatal("access token of a revoked family still works at UserInfo")
	}

	// Consent is remembered: the second flow goes straight back.
	f := c.start()
	u, _ := url.Parse(f.url)
	if r := b.get(u.RequestURI()); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second authorization: status %d, want a redirect without consent\n%s", r.StatusCode, trim(r.body))
	}
	// Connected apps lists it; revoking kills its tokens.
	tok3, _ := c.login(b)
	b.get("/account/apps").want(t, 200, "Test App")
	b.submit("/account/apps", "/account/apps/revoke", "client_id", c.id).redirect(t, "/account/apps")
	if _, err := c.refresh(tok3.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after disconnecting: %v", err)
	}
	if _, err := c.userInfo(tok3); err == nil {
		t.Fatal("UserInfo works after disconnecting the app")
	}
	// Revocation (RFC 7009) of a refresh token kills its family.
	tok4, _ := c.login(b)
	resp, err := http.PostForm(ts.URL+"/oidc/revoke", url.Values{"token": {tok4.RefreshToken}, "client_id": {c.id}, "client_secret": {c.secret}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := c.refresh(tok4.RefreshToken); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after revocation: %v", err)
	}
}

func anyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// A --require-2fa client sends a password-only session to the step-up page;
// after the second factor the flow goes on, and the ID token says how.
func TestOIDCStepUp(t *testing.T) {
	ts := startServer(t)
	strict := newRP(t, ts, "--require-2fa")
	b, app, _ := enrolled(t, ts, "una@example.com") // signed in with the password only
	f := strict.start()
	r := b.get(strict.authURL(f))
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc.Path != "/login/step-up" {
		t.Fatalf("authorize: %d %q, want the step-up page", r.StatusCode, r.Header.Get("Location"))
	}
	next := loc.Query().Get("next")
	b.submit(loc.RequestURI(), "/login/step-up", "code", app.code(), "next", next).redirect(t, next)
	code := strict.authorize(b, f).Query().Get("code")
	tok, err := strict.conf.Exchange(context.Background(), code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := strict.provider.Verifier(&gooidc.Config{ClientID: strict.id}).Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	_ = idt.Claims(&claims)
	if !slices.Contains(claims.AMR, "mfa") || !slices.Contains(claims.AMR, "otp") || claims.ACR != "urn:gatehouse:acr:2fa" {
		t.Fatalf("after step-up: amr %v acr %q", claims.AMR, claims.ACR)
	}
}

func TestOIDCClientCommands(t *testing.T) {
	ts := startServer(t)
	out := ts.mustCLI("", "client", "create", "--name", "Native", "--redirect-uri", "http://127.0.0.1/cb", "--public", "--json")
	var pub map[string]string
	if err := json.Unmarshal([]byte(out), &pub); err != nil || pub["client_id"] == "" || pub["client_secret"] != "" {
		t.Fatalf("public --json: %q", out)
	}
	out = ts.mustCLI("", "client", "create", "--name", "Web", "--redirect-uri", "https://app.example/cb", "--scope", "openid", "--scope", "email")
	if !strings.Contains(out, "client_id:") || !strings.Contains(out, "client_secret:") {
		t.Fatalf("create: %q", out)
	}
	id := strings.Fields(strings.SplitN(out, "client_id:", 2)[1])[0]
	if out := ts.mustCLI("", "client", "list"); !strings.Contains(out, id) || !strings.Contains(out, "Native") || !strings.Contains(out, "confidential") {
		t.Fatalf("list: %q", out)
	}
	if out := ts.mustCLI("", "client", "show", id); !strings.Contains(out, `"scopes": [`) || strings.Contains(out, "secret") {
		t.Fatalf("show: %q", out)
	}
	if out := ts.mustCLI("", "client", "rotate-secret", id); !strings.Contains(out, "client_secret:") {
		t.Fatalf("rotate-secret: %q", out)
	}
	for _, bad := range [][]string{
		{"client"}, {"client", "frobnicate"}, {"client", "show"}, {"client", "create", "--name", "x"},
		{"client", "create", "--name", "x", "--redirect-uri", "http://evil.example/cb"},
		{"client", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--scope", "admin"},
		{"client", "rotate-secret", pub["client_id"]}, {"client", "show", "nope"}, {"client", "delete", "nope"},
	} {
		if out, err := ts.cli("", bad...); err == nil {
			t.Errorf("gatehouse %v succeeded: %q", bad, out)
		}
	}
	ts.mustCLI("", "client", "disable", id)
	if out := ts.mustCLI("", "client", "list"); !strings.Contains(out, "disabled") {
		t.Fatalf("list after disable: %q", out)
	}
	ts.mustCLI("", "client", "delete", id)
	if out := ts.mustCLI("", "client", "list"); strings.Contains(out, id) {
		t.Fatalf("list after delete: %q", out)
	}
}
