package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserJourney walks the foundation in headless Chromium: register,
// sign in, dashboard, change password, sign out. It fails on any CSP
// violation and checks that scripts cannot read the session cookie.
func TestBrowserJourney(t *testing.T) {
	ts := startServer(t)
	c := newChrome(t)
	c.do("register",
		chromedp.Navigate(ts.URL+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "browser@example.com", "#display_name", "Bea", "#password", goodPassword),
		visible(`form[action="/login"]`),
	)
	if got := c.text("main"); !strings.Contains(got, "If this address is new") {
		t.Fatalf("after registering: %q", got)
	}
	c.do("sign in",
		fill(`form[action="/login"] button[type=submit]`, "#email", "browser@example.com", "#password", goodPassword),
		visible(".tiles"),
	)
	if got, url := c.text("main"), c.location(); !strings.Contains(got, "Hello, Bea") || !strings.HasSuffix(url, "/dashboard") {
		t.Fatalf("dashboard at %s: %q", url, got)
	}
	if cookies := c.eval(`document.cookie`); strings.Contains(cookies, "gatehouse") {
		t.Fatalf("scripts can read cookies: %q", cookies)
	}
	c.do("change password",
		chromedp.Navigate(ts.URL+"/account"),
		visible("#current_password"),
		fill(`form[action="/account/password"] button[type=submit]`, "#current_password", goodPassword, "#new_password", "a brand new passphrase"),
		visible(".flash-success"),
	)
	if got := c.text(".flash-success"); !strings.Contains(got, "password was changed") {
		t.Fatalf("after password change: %q", got)
	}
	c.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		visible(`a[href="/register"]`),
		chromedp.Navigate(ts.URL+"/dashboard"),
		visible(`form[action="/login"]`),
	)
	if url := c.location(); !strings.Contains(url, "/login?next=") {
		t.Fatalf("after sign-out the dashboard led to %s", url)
	}
	// The same page on a phone-sized screen still works.
	c.do("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/login"), visible("#email"))
	c.failOnCSP()
}
