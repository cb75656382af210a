package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core 4.14.1 (testdata/axe, MPL-2.0; update with
// `npm install axe-core` and copy axe.min.js and LICENSE), injected into pages by the
// tests through the DevTools protocol: Runtime.evaluate is not subject to
// the page's Content Security Policy, so the CSP stays as strict as ever.
// It is test data only and never served.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

// axeRun runs axe-core with the rule sets of WCAG 2.0 to 2.2, levels A and AA, and
// axe's best practices.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, resultTypes: ["violations"]})
  .then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`

// layout is one way a page is seen: a screen width and a colour scheme.
type layout struct {
	width, height int64
	scheme        string
}

var layouts = []layout{{390, 844, "light"}, {390, 844, "dark"}, {1280, 900, "light"}, {1280, 900, "dark"}}

func (l layout) String() string { return fmt.Sprintf("%dpx %s", l.width, l.scheme) }

// emulate sets the viewport and prefers-color-scheme.
func (l layout) emulate() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.EmulateViewport(l.width, l.height),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: l.scheme}}})
			return err
		}),
	)
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// checkA11y runs axe-core on the page shown and fails the test on any
// violation. It also fails when the page is wider than the screen.
func (c *chrome) checkA11y(axe, what string) {
	c.t.Helper()
	if c.eval(`typeof axe`) != "object" {
		if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[any](axe+";0")); err != nil {
			c.t.Fatalf("%s: inject axe-core: %v", what, err)
		}
	}
	out, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("%s: axe: %v", what, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		c.t.Fatalf("%s: axe result %q: %v", what, out, err)
	}
	for _, v := range vs {
		c.t.Errorf("%s: %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	if w := c.eval(`String(document.documentElement.scrollWidth - window.innerWidth)`); w != "0" {
		c.t.Errorf("%s: the page is %s px wider than the screen", what, w)
	}
}

// TestAccessibility runs axe-core on every page, signed out, as a user and
// as an administrator, at 390 and 1280 px, in light and dark mode.
func TestAccessibility(t *testing.T) {
	ts := startServer(t)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "admin@example.com", "--admin", "--verified")
	axe := axeSource(t)
	c := newChromeFor(t, 15*time.Minute) // some 90 pages, each checked by axe
	check := func(who string, pages []string, steps func(path string) chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, l := range layouts {
			c.do("layout "+l.String(), l.emulate())
			for _, path := range pages {
				what := who + " " + path + " at " + l.String()
				c.do(what, steps(path))
				c.checkA11y(axe, what)
			}
		}
	}
	get := func(path string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Navigate(ts.URL+path), visible("main"))
	}

	// Signed out, including the 404 page and a blank sign-in form (422).
	check("visitor", []string{"/", "/login", "/register", "/password/forgot", "/no-such-page", "/dev/outbox"}, get)
	check("visitor", []string{"blank sign-in"}, func(string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(get("/login"), clearField("#email"),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)), visible("#email-error"))
	})

	// A new user, whose address is not confirmed yet (the banner shows):
	// the sign-in page starts with the address just registered.
	c.do("register",
		get("/register"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "new@example.com", "#display_name", "Nora", "#password", goodPassword),
		visible(`form[action="/login"]`),
	)
	if got := c.eval(`document.querySelector("#email").value`); got != "new@example.com" {
		t.Errorf("the sign-in form after registering starts with %q", got)
	}
	if got := c.eval(`String(document.querySelectorAll('.flash a[href="/dev/outbox"]').length)`); got != "1" {
		t.Errorf("in dev mode the message about the mail links to the dev outbox %s times", got)
	}
	c.do("sign in", fill(`form[action="/login"] button[type=submit]`, "#password", goodPassword), visible(".banner"))
	check("user", []string{"/dashboard", "/account", "/account/sessions", "/account/activity", "/account/2fa", "/account/apps",
		"/login/step-up?next=%2Faccount", "/admin/users"}, get)
	c.do("sign out", get("/dashboard"), chromedp.Click(chromedp.CSS(`.nav-wide form[action="/logout"] button`)), visible(`a[href="/register"]`))

	// The administrator: admin pages, the audit log with a bad date, the
	// two-factor set-up and the recovery codes.
	c.do("admin signs in", get("/login"),
		fill(`form[action="/login"] button[type=submit]`, "#email", "admin@example.com", "#password", goodPassword), visible(".tiles"))
	check("admin", []string{"/dashboard", "/account", "/admin/users", "/admin/audit", "/admin/audit?since=yesterday", "/admin/clients",
		"/admin/access", "/dev/outbox"}, get)
	check("admin", []string{"2fa set-up"}, func(string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(get("/account/2fa"),
			fill(`form[action="/account/2fa/totp/setup"] button[type=submit]`, "#setup_password", goodPassword), visible("#totp-secret"))
	})
	app := &authenticator{t: t, secret: strings.TrimSpace(c.text("#totp-secret"))}
	c.do("turn on two-factor", fill(`form[action="/account/2fa/totp/confirm"] button[type=submit]`, "#code", app.code()), visible("#recovery-codes"))
	check("admin", []string{"/account/2fa", "recovery codes"}, func(path string) chromedp.Action[chromedp.Void] {
		if path != "recovery codes" {
			return get(path)
		}
		return chromedp.Steps(get("/account/2fa"),
			fill(`form[action="/account/2fa/recovery-codes"] button[type=submit]`, "#codes_password", goodPassword), visible("#recovery-codes"))
	})
	c.failOnCSP()
}

// TestKeyboardJourney signs in and reaches the account page with the
// keyboard alone: the first Tab reaches a visible skip link, focus is always
// visible, and the order follows the page.
func TestKeyboardJourney(t *testing.T) {
	ts := startServer(t)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "keys@example.com", "--verified")
	c := newChrome(t)
	c.do("open", layouts[2].emulate(), chromedp.Navigate(ts.URL+"/login"), visible("#email"))
	tab := func(want string) {
		t.Helper()
		c.do("tab", chromedp.KeyEvent("\t"))
		got := c.eval(`(e => e.id || e.getAttribute("href") || e.textContent.trim())(document.activeElement)`)
		if got != want {
			t.Fatalf("Tab reached %q, want %q", got, want)
		}
		style := c.eval(`(s => s.outlineStyle + " " + s.outlineWidth)(getComputedStyle(document.activeElement))`)
		if strings.HasPrefix(style, "none") || strings.HasSuffix(style, " 0px") {
			t.Errorf("focus on %q is not visible (outline %s)", want, style)
		}
	}
	tab("#main")
	if top := c.eval(`String(document.activeElement.getBoundingClientRect().top >= 0 && document.activeElement.textContent)`); top != "Skip to content" {
		t.Fatalf("skip link when focused: %q", top)
	}
	c.do("skip", chromedp.KeyEvent("\r"))
	if got := c.eval(`document.activeElement.id`); got != "main" {
		t.Fatalf("after the skip link focus is on %q", got)
	}
	tab("email")
	c.do("type the address", chromedp.KeyEvent("keys@example.com"))
	tab("password")
	c.do("type the password", chromedp.KeyEvent(goodPassword))
	tab("remember")
	tab("Sign in")
	c.do("submit", chromedp.KeyEvent("\r"), visible(".tiles"))
	// On the dashboard: skip link, brand, then the navigation in order.
	tab("#main")
	tab("/dashboard")
	for _, want := range []string{"/dashboard", "/account"} {
		tab(want)
	}
	c.do("open the account page", chromedp.KeyEvent("\r"), visible("#current_password"))
	if cur := c.eval(`document.querySelector('.nav-wide a[aria-current="page"]').getAttribute("href")`); cur != "/account" {
		t.Errorf("current page in the navigation: %q", cur)
	}
	c.failOnCSP()
}
