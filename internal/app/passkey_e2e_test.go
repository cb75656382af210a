package app

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account/passkeytest"
)

// options posts to a passkey options endpoint with the CSRF token of page
// and returns the JSON answer.
func (b *browser) passkeyOptions(page, path string) *response {
	b.t.Helper()
	return b.post(path, url.Values{"csrf_token": {b.token(page)}})
}

// passkeyPost posts the authenticator's answer to action, as passkey.js
// does, with the CSRF token of page.
func (b *browser) passkeyPost(page, action string, answer []byte, fields ...string) *response {
	b.t.Helper()
	form := url.Values{"csrf_token": {b.token(page)}, "credential": {string(answer)}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.post(action, form)
}

// addPasskey answers the registration options opts with a and posts the
// answer; it returns the answer.
func (b *browser) addPasskey(a *passkeytest.Authenticator, opts *response, name string) []byte {
	b.t.Helper()
	answer, _, err := a.Create([]byte(opts.body))
	if err != nil {
		b.t.Fatal(err)
	}
	b.passkeyPost("/account/passkeys", "/account/passkeys", answer, "name", name).redirect(b.t, "/account/passkeys")
	return answer
}

// newPasskeyUser registers email and signs in, in a new browser, and gives
// a software authenticator for the server's origin.
func newPasskeyUser(ts *testServer, email string) (*browser, *passkeytest.Authenticator) {
	ts.t.Helper()
	b := ts.browser()
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	return b, &passkeytest.Authenticator{Origin: ts.URL}
}

// The operator's reset-2fa removes the user's passkeys: they no longer
// sign in.
func TestPasskeyResetByOperator(t *testing.T) {
	ts := startPasskeyServer(t)
	b, a := newPasskeyUser(ts, "reset@example.com")
	b.addPasskey(a, b.passkeyOptions("/account/passkeys", "/account/passkeys/options"), "k")
	ts.mustCLI("", "user", "reset-2fa", "reset@example.com")
	b2 := ts.browser()
	answer, err := a.Get([]byte(b2.passkeyOptions("/login", "/login/passkey/options").body))
	if err != nil {
		t.Fatal(err)
	}
	b2.passkeyPost("/login", "/login/passkey", answer).want(t, 401)
}

// TestPasskeyEndToEnd drives the passkey routes over HTTP with a software
// authenticator: add, sign in, replay, forged origin, step-up, remove.
func TestPasskeyEndToEnd(t *testing.T) {
	ts := startPasskeyServer(t)
	b, a := newPasskeyUser(ts, "e2e@example.com")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))

	// Options need the CSRF token.
	b.post("/account/passkeys/options", url.Values{}).want(t, 403)
	opts := b.passkeyOptions("/account/passkeys", "/account/passkeys/options").want(t, 200, `"rp":{"name":"Gatehouse","id":"localhost"}`)
	if ct := opts.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("options content type %q", ct)
	}
	answer := b.addPasskey(a, opts, "Software key")
	b.get("/account/passkeys").want(t, 200, `value="Software key"`, "Only on one device", "Never")
	// The same answer again is refused.
	b.passkeyPost("/account/passkeys", "/account/passkeys", answer).want(t, 422)

	// Confirming with a wrong password is refused; the right one works.
	b.submit("/account/passkeys", "/account/passkeys/confirm", "password", "wrong password").want(t, 401)
	b.submit("/account/passkeys", "/account/passkeys/confirm", "password", goodPassword).redirect(t, "/account/passkeys#add")

	// Sign out, then sign in with the passkey from a new browser.
	b2 := ts.browser()
	opts = b2.passkeyOptions("/login", "/login/passkey/options").want(t, 200, `"rpId":"localhost"`, `"userVerification":"required"`)
	answer, err := a.Get([]byte(opts.body))
	if err != nil {
		t.Fatal(err)
	}
	b2.passkeyPost("/login", "/login/passkey", answer, "next", "/account").redirect(t, "/account")
	// Two factors: step-up lets the session through.
	b2.get("/login/step-up?next=/account").redirect(t, "/account")
	// A replayed answer signs nobody in.
	b3 := ts.browser()
	b3.passkeyPost("/login", "/login/passkey", answer).want(t, 401, "not accepted")

	// An answer made for another origin is refused.
	evil := *a
	evil.Origin = "http://evil.localhost:" + port
	opts = b3.passkeyOptions("/login", "/login/passkey/options")
	answer, _ = evil.Get([]byte(opts.body))
	b3.passkeyPost("/login", "/login/passkey", answer).want(t, 401)
	// Garbage is refused, and the per-credential limit stops repeats.
	var last *response
	for range 8 {
		last = b3.passkeyPost("/login", "/login/passkey", []byte(`{"id":"AAAA","response":{}}`))
		if last.StatusCode == 429 {
			break
		}
		last.want(t, 401)
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("repeated refusals: status %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	// No pending sign-in: the second-factor options say so.
	r := b3.passkeyOptions("/login", "/login/2fa/passkey/options").want(t, 409)
	var msg map[string]string
	if json.Unmarshal([]byte(r.body), &msg) != nil || msg["error"] == "" {
		t.Fatalf("409 body %q", r.body)
	}

	// Remove the passkey (the session confirmed its password above).
	page := b.get("/account/passkeys").body
	i := strings.Index(page, `/remove"`)
	j := strings.LastIndex(page[:i], `action="`)
	b.submit("/account/passkeys", page[j+len(`action="`):i+len(`/remove`)]).redirect(t, "/account/passkeys")
	b.get("/account/passkeys").want(t, 200, "You have no passkeys yet.")
	b4 := ts.browser()
	opts = b4.passkeyOptions("/login", "/login/passkey/options")
	answer, _ = a.Get([]byte(opts.body))
	b4.passkeyPost("/login", "/login/passkey", answer).want(t, 401)
}
