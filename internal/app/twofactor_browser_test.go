package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTwoFactorBrowserJourney enrols and signs in with two-factor sign-in
// in headless Chromium: register, sign in, turn on TOTP (reading the key
// from the page, the code from oathtool), sign out, sign in with password
// and code. It fails on any Content Security Policy report: the QR code is
// an inline data: image and the pages have no script.
func TestTwoFactorBrowserJourney(t *testing.T) {
	ts := startServer(t)
	c := newChrome(t)
	c.do("register and sign in",
		chromedp.Navigate(ts.URL+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "totp@example.com", "#password", goodPassword),
		visible(`form[action="/login"]`),
		fill(`form[action="/login"] button[type=submit]`, "#email", "totp@example.com", "#password", goodPassword),
		visible(".tiles"),
	)
	c.do("start the setup",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.Click(chromedp.CSS(`a[href="/account/2fa"]`)),
		visible("#setup_password"),
		fill(`form[action="/account/2fa/totp/setup"] button[type=submit]`, "#setup_password", goodPassword),
		visible("#totp-secret"),
	)
	// The QR code is drawn (an img from a data: URI the CSP allows).
	if w := c.eval(`String(document.querySelector("img.qr").naturalWidth)`); w == "0" || w == "" {
		t.Fatalf("the QR code did not load (naturalWidth %q); console: %v", w, c.messages())
	}
	app := &authenticator{t: t, secret: strings.TrimSpace(c.text("#totp-secret"))}
	c.do("confirm with the first code",
		fill(`form[action="/account/2fa/totp/confirm"] button[type=submit]`, "#code", app.code()),
		visible("#recovery-codes"),
	)
	if got := c.text("#recovery-codes"); strings.Count(got, "-") != 30 {
		t.Fatalf("recovery codes shown: %q", got)
	}
	c.do("sign out, and in with the password",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		visible(`a[href="/login"]`),
		chromedp.Navigate(ts.URL+"/login"),
		visible("#email"),
		fill(`form[action="/login"] button[type=submit]`, "#email", "totp@example.com", "#password", goodPassword),
		visible(`form[action="/login/2fa"] #code`),
	)
	if got := c.text("header"); !strings.Contains(got, "Cancel sign-in") || strings.Contains(got, "Dashboard") {
		t.Fatalf("header while pending: %q", got)
	}
	c.do("second step",
		fill(`form[action="/login/2fa"] button[type=submit]`, "#code", app.code()),
		visible(".tiles"),
	)
	if url := c.location(); !strings.HasSuffix(url, "/dashboard") {
		t.Fatalf("after the second step: %s", url)
	}
	c.do("the two-factor page says it is on",
		chromedp.Navigate(ts.URL+"/account/2fa"),
		visible("#recovery-left"),
	)
	if got := c.text("#recovery-left"); got != "10" {
		t.Fatalf("recovery codes left: %q", got)
	}
	c.failOnCSP()
}
