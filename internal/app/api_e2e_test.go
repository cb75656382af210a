package app

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/totp"
	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// The whole life of a token pair: sign-in, /me, rotation, reuse detection,
// revocation.
func TestAPIFlow(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")

	p1 := apiMustTokens(t, ts, "Ada@Example.com ", goodPassword)
	if p1.ExpiresIn != 900 {
		t.Errorf("expires_in = %d, want 900 (ACCESS_TOKEN_TTL 15m)", p1.ExpiresIn)
	}
	r := apiMe(t, ts, p1.AccessToken).want(t, http.StatusOK)
	if ct, cc := r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("/me Content-Type %q, Cache-Control %q", ct, cc)
	}
	if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/me lacks the security headers: %v", r.Header)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 1.0, "email": "ada@example.com", "email_verified": true, "display_name": "",
		"roles": []any{"user"}, "two_factor": false}
	for k, v := range want {
		if b1, _ := json.Marshal(got[k]); string(b1) != mustJSON(t, v) {
			t.Errorf("/me %s = %s, want %s", k, b1, mustJSON(t, v))
		}
	}
	if created, err := time.Parse(time.RFC3339, got["created_at"].(string)); err != nil || time.Since(created) > time.Hour {
		t.Errorf("/me created_at = %v (%v)", got["created_at"], err)
	}
	if len(got) != 7 {
		t.Errorf("/me has %d fields, want 7: %s", len(got), r.body)
	}

	// Rotation: a new pair; the new access token works.
	p2 := apiMustRefresh(t, ts, p1.RefreshToken)
	if p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	apiMe(t, ts, p2.AccessToken).want(t, http.StatusOK, `"ada@example.com"`)
	p3 := apiMustRefresh(t, ts, p2.RefreshToken)

	// The spent p1 refresh token again: the family is revoked and audited.
	reuse := apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": p1.RefreshToken})
	apiWantInvalidToken(t, reuse, api.ProblemInvalidRefresh)
	evs := apiAuditEvents(t, ts, account.EventRefreshReuse)
	if len(evs) != 1 || evs[0].UserID != 1 || evs[0].Outcome != account.OutcomeDenied {
		t.Fatalf("refresh.reuse events %+v", evs)
	}
	// The newest token of the family is dead too.
	apiWantInvalidToken(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": p3.RefreshToken}), api.ProblemInvalidRefresh)

	// Revocation: 204 for a live token, an unknown one, or garbage alike.
	p4 := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	for _, tok := range []string{p4.RefreshToken, p4.RefreshToken, strings.Repeat("A", 43), "not a token"} {
		r := apiJSON(t, ts, "/api/v1/token/revoke", map[string]string{"refresh_token": tok}).want(t, http.StatusNoContent)
		if r.body != "" {
			t.Errorf("revoke answered a body: %q", r.body)
		}
	}
	apiWantInvalidToken(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": p4.RefreshToken}), api.ProblemInvalidRefresh)
	if evs := apiAuditEvents(t, ts, account.EventRefreshRevoke); len(evs) != 1 {
		t.Errorf("%d refresh.revoke events, want 1", len(evs))
	}
	// Access tokens are stateless: they live until they expire (15 min).
	apiMe(t, ts, p4.AccessToken).want(t, http.StatusOK)

	// Nothing secret reached the logs.
	logs := ts.logs.String()
	for _, secret := range []string{goodPassword, p1.RefreshToken, p1.AccessToken, p4.RefreshToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs")
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Tokens we issue verify with a second, independent JOSE implementation
// (go-jose) against the key set the server publishes.
func TestAPITokensVerifyWithGoJose(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	pair := apiMustTokens(t, ts, "ada@example.com", goodPassword)

	jr := apiCall(t, ts, http.MethodGet, "/.well-known/jwks.json", "").want(t, http.StatusOK)
	if ct, cc := jr.Header.Get("Content-Type"), jr.Header.Get("Cache-Control"); ct != "application/json" || cc != "public, max-age=300" {
		t.Errorf("JWKS Content-Type %q, Cache-Control %q", ct, cc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jr.body), &set); err != nil {
		t.Fatalf("JWKS %s: %v", jr.body, err)
	}
	set.Keys = apiKeysOnly(set.Keys)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: want one Ed25519 key (beside the OpenID Connect RS256 keys)", jr.body)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Algorithm != "EdDSA" || k.Use != "sig" || k.KeyID == "" {
			t.Fatalf("JWKS key %+v", k)
		}
	}

	tok, err := josejwt.ParseSigned(pair.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.Algorithm != "EdDSA" || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Fatalf("header %+v", h)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", h.KeyID)
	}
	var (
		std   josejwt.Claims
		extra struct {
			ClientID string   `json:"client_id"`
			Roles    []string `json:"roles"`
			AMR      []string `json:"amr"`
			AuthTime int64    `json:"auth_time"`
		}
	)
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		t.Fatalf("go-jose could not verify our token: %v", err)
	}
	if err := std.Validate(josejwt.Expected{Issuer: ts.URL, AnyAudience: []string{ts.URL}, Subject: "1", Time: time.Now()}); err != nil {
		t.Fatalf("claims: %v", err)
	}
	if std.ID == "" || std.IssuedAt == nil || std.Expiry.Time().Sub(std.IssuedAt.Time()) != 15*time.Minute {
		t.Fatalf("claims %+v", std)
	}
	if extra.ClientID != "gatehouse" || strings.Join(extra.Roles, ",") != "user" || strings.Join(extra.AMR, ",") != "pwd" || extra.AuthTime == 0 {
		t.Fatalf("extra claims %+v", extra)
	}
	// A refreshed token carries the original sign-in time.
	next := apiMustRefresh(t, ts, pair.RefreshToken)
	tok2, _ := josejwt.ParseSigned(next.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
	var extra2 struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := tok2.Claims(keys[0].Key, &extra2); err != nil || extra2.AuthTime != extra.AuthTime {
		t.Fatalf("refreshed auth_time %d (%v), want %d", extra2.AuthTime, err, extra.AuthTime)
	}
}

// A password change, "sign out everywhere" or disabling moves the user's
// cut-off: older access and refresh tokens are refused.
func TestAPICutOff(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	apiVerifiedUser(ts, "bob@example.com")

	// Password change through the web form.
	old := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	b := ts.browser()
	b.signIn("ada@example.com", goodPassword)
	b.submit("/account", "/account/password", "current_password", goodPassword, "new_password", "a whole new passphrase").
		redirect(t, "/account")
	apiWantInvalidToken(t, apiMe(t, ts, old.AccessToken), api.ProblemInvalidToken)
	apiWantInvalidToken(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": old.RefreshToken}), api.ProblemInvalidRefresh)
	// The old password no longer gets tokens; the new one does, at once.
	apiWantProblem(t, apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "ada@example.com", "password": goodPassword}), http.StatusUnauthorized)
	fresh := apiMustTokens(t, ts, "ada@example.com", "a whole new passphrase")
	apiMe(t, ts, fresh.AccessToken).want(t, http.StatusOK)
	apiMe(t, ts, apiMustRefresh(t, ts, fresh.RefreshToken).AccessToken).want(t, http.StatusOK)

	// Disabled: refused at once, and still after re-enabling.
	pair := apiMustTokens(t, ts, "bob@example.com", goodPassword)
	ts.mustCLI("", "user", "disable", "bob@example.com")
	apiWantInvalidToken(t, apiMe(t, ts, pair.AccessToken), api.ProblemInvalidToken)
	apiWantInvalidToken(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": pair.RefreshToken}), api.ProblemInvalidRefresh)
	p := apiWantProblem(t, apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "bob@example.com", "password": goodPassword}), http.StatusUnauthorized)
	if p.Type != api.ProblemCredentials.Type {
		t.Errorf("disabled sign-in answered %+v", p)
	}
	ts.mustCLI("", "user", "enable", "bob@example.com")
	apiWantInvalidToken(t, apiMe(t, ts, pair.AccessToken), api.ProblemInvalidToken)
	apiMe(t, ts, apiMustTokens(t, ts, "bob@example.com", goodPassword).AccessToken).want(t, http.StatusOK)
}

// Signing keys rotate with `gatehouse keys rotate`; older keys stay in the
// JWKS, and their tokens valid, until `keys retire`.
func TestAPIKeyRotation(t *testing.T) {
	ts := startServer(t, "--keys-reload=100ms")
	apiVerifiedUser(ts, "ada@example.com")
	before := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	oldKid := tokenKid(t, before.AccessToken)
	jwksKids := func() []string {
		var set jose.JSONWebKeySet
		r := apiCall(t, ts, http.MethodGet, "/.well-known/jwks.json", "").want(t, http.StatusOK)
		if err := json.Unmarshal([]byte(r.body), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range apiKeysOnly(set.Keys) {
			ids = append(ids, k.KeyID)
		}
		return ids
	}
	if ids := jwksKids(); len(ids) != 1 || ids[0] != oldKid {
		t.Fatalf("JWKS kids %v, token kid %s", ids, oldKid)
	}

	// The rotated key is staged: published (verifiers learn it first), not
	// yet signing; `keys activate` makes it sign.
	// (--keys-reload=1m for the CLI: staged for two minutes.)
	out := ts.mustCLI("", "--keys-reload=1m", "keys", "rotate")
	apiWaitFor(t, "the server to reload the keys file", func() bool { return len(jwksKids()) == 2 })
	m := newKeyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate said %q", out)
	}
	staged := m[1]
	if ids := jwksKids(); ids[0] != oldKid || ids[1] != staged {
		t.Fatalf("JWKS kids %v, want the current %s, then the staged %s", ids, oldKid, staged)
	}
	if kid := tokenKid(t, apiMustTokens(t, ts, "ada@example.com", goodPassword).AccessToken); kid != oldKid {
		t.Fatalf("a token signed with %s while %s is staged", kid, staged)
	}
	if list := ts.mustCLI("", "keys", "list"); !regexp.MustCompile(`(?m)^` + staged + `\s.*staged`).MatchString(list) {
		t.Fatalf("keys list:\n%s", list)
	}
	ts.mustCLI("", "keys", "activate", staged)
	apiWaitFor(t, "the server to sign with the activated key", func() bool { return jwksKids()[0] == staged })
	after := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	newKid := tokenKid(t, after.AccessToken)
	if newKid != staged {
		t.Fatalf("after activation kid %s, want %s (old %s)", newKid, staged, oldKid)
	}
	if ids := jwksKids(); ids[0] != newKid || ids[1] != oldKid {
		t.Fatalf("JWKS kids %v, want current %s first then %s", ids, newKid, oldKid)
	}
	apiMe(t, ts, before.AccessToken).want(t, http.StatusOK)
	apiMe(t, ts, after.AccessToken).want(t, http.StatusOK)
	// Refresh tokens are not signed: they survive the rotation, and the
	// access token they now give carries the new kid.
	if kid := tokenKid(t, apiMustRefresh(t, ts, before.RefreshToken).AccessToken); kid != newKid {
		t.Fatalf("refreshed token kid %s, want %s", kid, newKid)
	}

	ts.mustCLI("", "keys", "retire", oldKid)
	apiWaitFor(t, "the server to drop the retired key", func() bool { return len(jwksKids()) == 1 })
	apiWantInvalidToken(t, apiMe(t, ts, before.AccessToken), api.ProblemInvalidToken)
	apiMe(t, ts, after.AccessToken).want(t, http.StatusOK)
}

// tokenKid returns the kid header of a JWT without verifying it.
func tokenKid(t *testing.T, token string) string {
	t.Helper()
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// Sign-in failures: one answer for wrong credentials, 403 for an unverified
// address, 429 after repeated failures.
func TestAPISignInRefusals(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "new@example.com")

	wrong := []map[string]string{
		{"email": "ada@example.com", "password": "wrong password"},
		{"email": "nobody@example.com", "password": goodPassword},
		{"email": strings.Repeat("a", 400) + "@example.com", "password": goodPassword},
		{"email": "ada@example.com", "password": strings.Repeat("p", 2000)},
		{"email": "not an address", "password": goodPassword},
	}
	var first api.ProblemBody
	for i, body := range wrong {
		r := apiJSON(t, ts, "/api/v1/token", body)
		p := apiWantProblem(t, r, http.StatusUnauthorized)
		if i == 0 {
			first = p
		}
		if p != first || p.Type != api.ProblemCredentials.Type {
			t.Errorf("wrong credentials #%d answered %+v, want %+v", i, p, first)
		}
		if r.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
	}

	// The right password for an unverified address: 403, and no tokens.
	r := apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "new@example.com", "password": goodPassword})
	if p := apiWantProblem(t, r, http.StatusForbidden); p.Type != api.ProblemUnverified.Type || !strings.Contains(p.Detail, "erify your email") {
		t.Errorf("unverified answered %+v", p)
	}
	if strings.Contains(r.body, "token\"") {
		t.Errorf("unverified answer holds a token: %s", r.body)
	}
}

func TestAPIRateLimit(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	var limited *response
	for i := 0; i < 30 && limited == nil; i++ {
		r := apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "ada@example.com", "password": "guess " + strconv.Itoa(i)})
		switch r.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited = r
		default:
			t.Fatalf("attempt %d: status %d\n%s", i, r.StatusCode, r.body)
		}
	}
	if limited == nil {
		t.Fatal("30 wrong passwords and no 429")
	}
	apiWantProblem(t, limited, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q", limited.Header.Get("Retry-After"))
	}
	// Now even the right password waits: the limit is checked first.
	apiWantProblem(t, apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "ada@example.com", "password": goodPassword}), http.StatusTooManyRequests)
}

// Bodies: JSON only, small, strict.
func TestAPIBodies(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	good := `{"email":"ada@example.com","password":"` + goodPassword + `"}`
	tests := []struct {
		name, path, body string
		hdr              []string
		status           int
		problem          string
	}{
		{"no content type", "/api/v1/token", good, []string{"Content-Type", ""}, 415, "about:blank"},
		{"form", "/api/v1/token", good, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "about:blank"},
		{"text", "/api/v1/token/refresh", `{"refresh_token":"x"}`, []string{"Content-Type", "text/plain"}, 415, "about:blank"},
		{"latin1", "/api/v1/token", good, []string{"Content-Type", "application/json; charset=iso-8859-1"}, 415, "about:blank"},
		{"two content types", "/api/v1/token", good, []string{"Content-Type", "application/json", "Content-Type", "application/json"}, 415, "about:blank"},
		{"huge", "/api/v1/token", `{"email":"` + strings.Repeat("a", 20<<10) + `"}`, nil, 413, "about:blank"},
		{"empty", "/api/v1/token", " ", nil, 400, api.ProblemMalformed.Type},
		{"syntax", "/api/v1/token", `{"email":`, nil, 400, api.ProblemMalformed.Type},
		{"array", "/api/v1/token", `[` + good + `]`, nil, 400, api.ProblemMalformed.Type},
		{"two objects", "/api/v1/token", good + good, nil, 400, api.ProblemMalformed.Type},
		{"trailing", "/api/v1/token", good + ` x`, nil, 400, api.ProblemMalformed.Type},
		{"number", "/api/v1/token", `{"email":"ada@example.com","password":1}`, nil, 400, api.ProblemMalformed.Type},
		{"null", "/api/v1/token", `{"email":"ada@example.com","password":null}`, nil, 400, api.ProblemMalformed.Type},
		{"duplicate", "/api/v1/token", `{"email":"x@example.com","email":"ada@example.com","password":"p"}`, nil, 400, api.ProblemMalformed.Type},
		{"bad utf-8", "/api/v1/token", "{\"email\":\"\xff\",\"password\":\"p\"}", nil, 400, api.ProblemMalformed.Type},
		{"unknown field", "/api/v1/token", `{"email":"ada@example.com","password":"p","admin":"true"}`, nil, 400, api.ProblemUnknownField.Type},
		{"csrf token is no substitute", "/api/v1/token", `{"email":"ada@example.com","password":"p","csrf_token":"x"}`, nil, 400, api.ProblemUnknownField.Type},
		{"missing password", "/api/v1/token", `{"email":"ada@example.com"}`, nil, 400, api.ProblemMissingField.Type},
		{"empty refresh token", "/api/v1/token/refresh", `{"refresh_token":""}`, nil, 400, api.ProblemMissingField.Type},
		{"missing refresh token", "/api/v1/token/revoke", `{}`, nil, 400, api.ProblemMissingField.Type},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := apiCall(t, ts, http.MethodPost, tc.path, tc.body, tc.hdr...)
			if p := apiWantProblem(t, r, tc.status); p.Type != tc.problem {
				t.Errorf("problem %+v, want type %s", p, tc.problem)
			}
		})
	}
	// The same body, well formed, works (so the table tested the body).
	apiDecodeTokens(t, apiCall(t, ts, http.MethodPost, "/api/v1/token", good, "Content-Type", "application/json; charset=UTF-8"))
}

// Unknown API paths and wrong methods answer problem+json, not HTML.
func TestAPIRoutingErrors(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v1/token", 405, "POST, OPTIONS"},
		{"DELETE", "/api/v1/me", 405, "GET, HEAD, OPTIONS"},
		{"POST", "/.well-known/jwks.json", 405, "GET, HEAD, OPTIONS"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v2/me", 404, ""},
	}
	for _, tc := range tests {
		r := apiCall(t, ts, tc.method, tc.path, "")
		apiWantProblem(t, r, tc.status)
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// HEAD of the key set works like GET.
	apiCall(t, ts, http.MethodHead, "/.well-known/jwks.json", "").want(t, http.StatusOK)
}

func TestAPICORS(t *testing.T) {
	const allowed, other = "https://app.example.com", "https://evil.example.net"
	ts := startServer(t, "--cors-origins", "https://App.example.com:443, https://other.example.org")
	apiVerifiedUser(ts, "ada@example.com")
	pair := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	corsHeaders := []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Credentials", "Access-Control-Expose-Headers", "Access-Control-Max-Age"}

	// Preflight from an allowed origin.
	r := apiCall(t, ts, http.MethodOptions, "/api/v1/me", "", "Origin", allowed,
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	r.want(t, http.StatusNoContent)
	wantHeaders := map[string]string{
		"Access-Control-Allow-Origin":  allowed,
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers": "Authorization, Content-Type",
		"Access-Control-Max-Age":       "600",
	}
	for k, v := range wantHeaders {
		if got := r.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("preflight headers %v", r.Header)
	}
	// The actual request from the allowed origin.
	r = apiCall(t, ts, http.MethodGet, "/api/v1/me", "", "Origin", allowed, "Authorization", "Bearer "+pair.AccessToken).want(t, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != allowed || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed origin headers %v", r.Header)
	}
	// A refusal is readable too, with its challenge.
	r = apiCall(t, ts, http.MethodGet, "/api/v1/me", "", "Origin", allowed)
	if r.Header.Get("Access-Control-Allow-Origin") != allowed || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("refusal CORS headers %v", r.Header)
	}

	// Other origins, a method the route lacks, and lookalikes get no CORS headers at all.
	denied := []struct {
		name string
		hdr  []string
	}{
		{"other origin", []string{"Origin", other, "Access-Control-Request-Method", "GET"}},
		{"http scheme", []string{"Origin", "http://app.example.com", "Access-Control-Request-Method", "GET"}},
		{"suffix", []string{"Origin", "https://app.example.com.evil.net", "Access-Control-Request-Method", "GET"}},
		{"null", []string{"Origin", "null", "Access-Control-Request-Method", "GET"}},
		{"wrong method", []string{"Origin", allowed, "Access-Control-Request-Method", "DELETE"}},
	}
	for _, tc := range denied {
		r := apiCall(t, ts, http.MethodOptions, "/api/v1/me", "", tc.hdr...)
		r.want(t, http.StatusNoContent)
		for _, h := range corsHeaders {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("%s: preflight has %s: %q", tc.name, h, v)
			}
		}
	}
	r = apiCall(t, ts, http.MethodGet, "/api/v1/me", "", "Origin", other, "Authorization", "Bearer "+pair.AccessToken).want(t, http.StatusOK)
	for _, h := range corsHeaders {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("other origin: answer has %s: %q", h, v)
		}
	}

	// Without CORS_ORIGINS, nobody is allowed.
	closed := startServer(t)
	r = apiCall(t, closed, http.MethodOptions, "/api/v1/token", "", "Origin", allowed, "Access-Control-Request-Method", "POST")
	r.want(t, http.StatusNoContent)
	if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("closed server allowed %q", v)
	}
}

var (
	apiTOTPSecret   = regexp.MustCompile(`id="totp-secret">([^<]+)<`)
	apiRecoveryCode = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// Accounts with two-factor authentication need totp_code: a TOTP code or a
// recovery code.
func TestAPITwoFactor(t *testing.T) {
	ts := startServer(t, "--login-limit=100/hour") // many sign-ins from one address
	apiVerifiedUser(ts, "ada@example.com")
	b := ts.browser()
	b.signIn("ada@example.com", goodPassword)
	setup := b.submit("/account/2fa", "/account/2fa/totp/setup", "password", goodPassword).want(t, http.StatusOK)
	m := apiTOTPSecret.FindStringSubmatch(setup.body)
	if m == nil {
		t.Fatalf("no secret on the setup page:\n%s", trim(setup.body))
	}
	secret, err := totp.DecodeSecret(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	codes := b.submit("/account/2fa", "/account/2fa/totp/confirm", "code", totp.Code(secret, time.Now())).want(t, http.StatusOK)
	recovery := apiRecoveryCode.FindStringSubmatch(codes.body)
	if recovery == nil {
		t.Fatalf("no recovery codes:\n%s", trim(codes.body))
	}

	signIn := func(code string) *response {
		body := map[string]string{"email": "ada@example.com", "password": goodPassword}
		if code != "" {
			body["totp_code"] = code
		}
		return apiJSON(t, ts, "/api/v1/token", body)
	}
	if p := apiWantProblem(t, signIn(""), http.StatusUnauthorized); p.Type != api.ProblemSecondFactor.Type {
		t.Fatalf("no code: %+v", p)
	}
	// A wrong code, or a wrong password with a good code, get the one generic answer.
	if p := apiWantProblem(t, signIn("12345x"), http.StatusUnauthorized); p.Type != api.ProblemCredentials.Type {
		t.Fatalf("wrong code: %+v", p)
	}
	next := totp.Code(secret, time.Now().Add(30*time.Second)) // the confirmation used this step's code
	wrongPw := apiJSON(t, ts, "/api/v1/token", map[string]string{"email": "ada@example.com", "password": "not it", "totp_code": next})
	if p := apiWantProblem(t, wrongPw, http.StatusUnauthorized); p.Type != api.ProblemCredentials.Type {
		t.Fatalf("wrong password: %+v", p)
	}

	pair := apiDecodeTokens(t, signIn(next))
	apiMe(t, ts, pair.AccessToken).want(t, http.StatusOK, `"two_factor":true`)
	tok, err := josejwt.ParseSigned(pair.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil || !slices.Contains(claims.AMR, "otp") {
		t.Fatalf("amr %v (%v)", claims.AMR, err)
	}
	// The same code again is a replay.
	if p := apiWantProblem(t, signIn(next), http.StatusUnauthorized); p.Type != api.ProblemCredentials.Type {
		t.Fatalf("replayed code: %+v", p)
	}
	// A recovery code works once.
	apiDecodeTokens(t, signIn(recovery[1]))
	apiWantProblem(t, signIn(recovery[1]), http.StatusUnauthorized)
}

// apiKeysOnly keeps the JSON API's Ed25519 keys of a JWKS, which also
// publishes the OpenID Connect provider's RS256 keys (docs/oidc.md).
func apiKeysOnly(keys []jose.JSONWebKey) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.Algorithm == "EdDSA" {
			out = append(out, k)
		}
	}
	return out
}
