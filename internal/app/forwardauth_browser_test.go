package app

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/internal/proxytest"
)

// TestForwardAuthBrowserJourney opens an app through the documented nginx
// configuration in headless Chromium, lands on Gatehouse's sign-in, signs
// in with a password and a TOTP code, comes back to the original URL and
// sees the identity the app got. Gatehouse and the app share the parent
// domain gatehouse.test (COOKIE_DOMAIN); Chromium resolves it to loopback.
func TestForwardAuthBrowserJourney(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("default: deny\nrules:\n  - domains: [app.gatehouse.test]\n    policy: two_factor\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerIn(t, dir, nil, "--base-url", "http://auth.gatehouse.test:{port}", "--cookie-domain", "gatehouse.test",
		"--access-rules", rules, "--trusted-proxies", "127.0.0.1/32")
	gh := strings.TrimPrefix(ts.URL, "http://")
	_, ghPort, _ := net.SplitHostPort(gh)
	auth := "http://auth.gatehouse.test:" + ghPort
	up := proxytest.Upstream(t)
	p := proxytest.Nginx(t, gh, strings.TrimPrefix(up.URL, "http://"))
	_, appPort, _ := net.SplitHostPort(p.Addr)
	app := "http://app.gatehouse.test:" + appPort + "/page?x=1"

	c := newChrome(t, chromedp.Flag("host-resolver-rules", "MAP *.gatehouse.test 127.0.0.1"),
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"))
	c.do("register, sign in and turn on two-factor sign-in",
		chromedp.Navigate(auth+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "journey@example.com", "#password", goodPassword),
		visible(`form[action="/login"]`),
		fill(`form[action="/login"] button[type=submit]`, "#email", "journey@example.com", "#password", goodPassword),
		visible(".tiles"),
		chromedp.Navigate(auth+"/account/2fa"),
		visible("#setup_password"),
		fill(`form[action="/account/2fa/totp/setup"] button[type=submit]`, "#setup_password", goodPassword),
		visible("#totp-secret"),
	)
	totp := &authenticator{t: t, secret: strings.TrimSpace(c.text("#totp-secret"))}
	c.do("confirm, then sign out",
		fill(`form[action="/account/2fa/totp/confirm"] button[type=submit]`, "#code", totp.code()),
		visible("#recovery-codes"),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		visible(`a[href="/login"]`),
	)
	c.do("open the app: Gatehouse asks to sign in",
		chromedp.Navigate(app),
		visible(`form[action="/login"] #email`),
	)
	if loc := c.location(); !strings.HasPrefix(loc, auth+"/login?next=") {
		t.Fatalf("the app sent the browser to %q", loc)
	}
	c.do("sign in with password and code",
		fill(`form[action="/login"] button[type=submit]`, "#email", "journey@example.com", "#password", goodPassword),
		visible(`form[action="/login/2fa"] #code`),
		fill(`form[action="/login/2fa"] button[type=submit]`, "#code", totp.code()),
		visible("body > pre"), // the app: the echo upstream answers JSON
	)
	if loc := c.location(); loc != app {
		t.Fatalf("after sign-in the browser is at %q, want %q\n%s", loc, app, c.text("body"))
	}
	if body := c.text("body"); !strings.Contains(body, `"Remote-Email":["journey@example.com"]`) || !strings.Contains(body, `"Remote-Token"`) {
		t.Fatalf("the app did not get the identity:\n%s", body)
	}
	c.failOnCSP()
}
