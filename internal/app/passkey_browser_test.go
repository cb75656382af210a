package app

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// startPasskeyServer runs a dev server whose base URL is
// http://localhost:PORT: WebAuthn needs a domain as relying party id, and
// browsers treat localhost as a secure context.
func startPasskeyServer(t *testing.T) *testServer {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	return startServerAt(t, t.TempDir(), nil, addr, "http://localhost:"+port)
}

// virtualAuthenticator adds Chromium's virtual authenticator (CTAP2,
// internal transport, resident keys, user verification that succeeds) to
// the tab and returns its id.
func (c *chrome) virtualAuthenticator() webauthn.AuthenticatorID {
	c.t.Helper()
	off := false
	if _, err := chromedp.Call(c.ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
		c.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(c.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
			// Only so that WebAuthn.addCredential accepts the cmtg field cdproto always sends.
			HasCmtgKey: true,
		}})
	if err != nil {
		c.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials returns the credentials the virtual authenticator holds.
func (c *chrome) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	c.t.Helper()
	res, err := chromedp.Call(c.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		c.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// registerAndSignIn registers email with the password form and signs in.
func (c *chrome) registerAndSignIn(ts *testServer, email string) {
	c.t.Helper()
	c.do("register and sign in",
		chromedp.Navigate(ts.URL+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", email, "#password", goodPassword),
		visible(`form[action="/login"]`),
		fill(`form[action="/login"] button[type=submit]`, "#email", email, "#password", goodPassword),
		visible(".tiles"),
	)
}

// noConditionalUI makes the tab's later pages look like a browser
// without passkey autofill, so that the button can be tested.
func (c *chrome) noConditionalUI() {
	c.t.Helper()
	_, err := chromedp.Call(c.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: "PublicKeyCredential.isConditionalMediationAvailable = undefined;"})
	if err != nil {
		c.t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
}

// waitLocation waits until the tab's URL path is path.
func (c *chrome) waitLocation(ts *testServer, path string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.HasPrefix(c.location(), ts.URL+path) {
		if time.Now().After(deadline) {
			c.t.Fatalf("location = %s, want %s; console: %v", c.location(), path, c.messages())
		}
		time.Sleep(50 * time.Millisecond) // polling the browser, not waiting for an expiry
	}
}

// TestPasskeyBrowserJourney adds a passkey in headless Chromium with its
// virtual authenticator, signs out, signs in with the button (and through
// the autofill), removes it; a credential whose counter went backwards is
// refused. The pages must raise no CSP report.
func TestPasskeyBrowserJourney(t *testing.T) {
	ts := startPasskeyServer(t)
	c := newChrome(t)
	auth := c.virtualAuthenticator()
	signOut := chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`))
	c.registerAndSignIn(ts, "pk@example.com")
	c.do("add a passkey",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.Click(chromedp.CSS(`a[href="/account/passkeys"]`)),
		visible("#passkey-add"),
		fill("#passkey-add", "#passkey-name", "Test laptop"),
		visible("#passkey-list"),
	)
	if name, got := c.eval(`document.querySelector("#passkey-list input[name=name]").value`), c.text("#passkey-list"); name != "Test laptop" || !strings.Contains(got, "Only on one device") {
		t.Fatalf("passkey list = %q, %q", name, got)
	}
	if creds := c.credentials(auth); len(creds) != 1 || !creds[0].IsResidentCredential || len(creds[0].UserHandle) != 64 {
		t.Fatalf("authenticator credentials = %+v", creds)
	}
	c.do("sign out", signOut, visible(`a[href="/login"]`))

	// The login page offers passkeys in the autofill (conditional UI);
	// Chromium's virtual authenticator answers it at once, which signs in.
	c.do("sign in through the autofill", chromedp.Navigate(ts.URL+"/login"))
	c.waitLocation(ts, "/dashboard")
	c.do("sign out after autofill", signOut, visible(`a[href="/login"]`))

	// A browser without the autofill uses the button.
	c.noConditionalUI()
	c.do("open the login page", chromedp.Navigate(ts.URL+"/login"), visible("#passkey-login"))
	c.do("sign in with the button", visible("#passkey-login"), chromedp.Click(chromedp.CSS("#passkey-login")))
	c.waitLocation(ts, "/dashboard")

	// A passkey sign-in counts as two factors: step-up lets it through.
	c.do("step-up is satisfied", chromedp.Navigate(ts.URL+"/login/step-up?next=/account"))
	c.waitLocation(ts, "/account")

	// A re-added credential with a lower counter is refused as a clone.
	creds := c.credentials(auth)
	cred := *creds[0]
	if _, err := chromedp.Call(c.ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: cred.CredentialID}); err != nil {
		t.Fatal(err)
	}
	clone := &webauthn.Credential{CredentialID: cred.CredentialID, IsResidentCredential: true, RpID: cred.RpID,
		PrivateKey: cred.PrivateKey, UserHandle: cred.UserHandle, SignCount: 0}
	if _, err := chromedp.Call(c.ctx, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: auth, Credential: clone}); err != nil {
		t.Fatal(err)
	}
	c.do("sign out", signOut, visible(`a[href="/login"]`))
	c.do("a cloned passkey is refused",
		chromedp.Navigate(ts.URL+"/login"),
		visible("#passkey-login"),
		chromedp.Click(chromedp.CSS("#passkey-login")),
		visible(".error-summary"),
	)
	if msg := c.text(".error-summary"); !strings.Contains(msg, "not accepted") {
		t.Fatalf("error = %q", msg)
	}
	c.do("sign in with the password and remove the passkey",
		chromedp.Navigate(ts.URL+"/login"),
		visible("#password"),
		fill(`form[action="/login"] button[type=submit]`, "#email", "pk@example.com", "#password", goodPassword),
		visible(".tiles"),
		chromedp.Navigate(ts.URL+"/account/passkeys"),
		visible(`form[action$="/remove"] button`),
		chromedp.Click(chromedp.CSS(`form[action$="/remove"] button`)),
		visible("#passkey-none"),
	)
	c.failOnCSP()
}

// TestPasskeyBrowserSecondFactor uses a passkey instead of a TOTP code at
// /login/2fa.
func TestPasskeyBrowserSecondFactor(t *testing.T) {
	ts := startPasskeyServer(t)
	c := newChrome(t)
	c.virtualAuthenticator()
	c.noConditionalUI()
	c.registerAndSignIn(ts, "pk2@example.com")
	c.do("turn on TOTP",
		chromedp.Navigate(ts.URL+"/account/2fa"),
		visible("#setup_password"),
		fill(`form[action="/account/2fa/totp/setup"] button[type=submit]`, "#setup_password", goodPassword),
		visible("#totp-secret"),
	)
	app := &authenticator{t: t, secret: strings.TrimSpace(c.text("#totp-secret"))}
	c.do("confirm TOTP and add a passkey",
		fill(`form[action="/account/2fa/totp/confirm"] button[type=submit]`, "#code", app.code()),
		visible("#recovery-codes"),
		chromedp.Navigate(ts.URL+"/account/passkeys"),
		visible("#passkey-add"),
		fill("#passkey-add", "#passkey-name", "Key"),
		visible("#passkey-list"),
		chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`)),
		visible(`a[href="/login"]`),
	)
	c.do("password, then a passkey instead of the code",
		chromedp.Navigate(ts.URL+"/login?next=/account"),
		visible("#password"),
		fill(`form[action="/login"] button[type=submit]`, "#email", "pk2@example.com", "#password", goodPassword),
		visible("#passkey-2fa"),
		chromedp.Click(chromedp.CSS("#passkey-2fa")),
	)
	c.waitLocation(ts, "/account")
	c.failOnCSP()
}

// TestPasskeyBrowserWithoutJavaScript: with scripts off, the pages still
// work and show no passkey controls.
func TestPasskeyBrowserWithoutJavaScript(t *testing.T) {
	ts := startPasskeyServer(t)
	c := newChrome(t)
	if _, err := chromedp.Call(c.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	c.do("register and sign in with the password",
		chromedp.Navigate(ts.URL+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "nojs@example.com", "#password", goodPassword),
		visible(`form[action="/login"]`),
	)
	if ac := c.eval(`document.querySelector("#email").getAttribute("autocomplete")`); ac != "username webauthn" {
		t.Fatalf("email autocomplete = %q", ac)
	}
	// eval runs through the protocol even with page scripts off.
	if v := c.eval(`getComputedStyle(document.querySelector("form[data-passkey]")).display`); v != "none" {
		t.Fatalf("passkey button shown without JavaScript: display = %q", v)
	}
	c.do("sign in and open the passkeys page",
		fill(`form[action="/login"] button[type=submit]`, "#email", "nojs@example.com", "#password", goodPassword),
		visible(".tiles"),
		chromedp.Navigate(ts.URL+"/account/passkeys"),
		visible("#passkey-none"),
		visible("[data-passkey-unsupported]"),
	)
}
