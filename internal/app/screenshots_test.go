package app

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false, "write screenshots of the main pages to docs/screenshots")

// TestScreenshots regenerates docs/screenshots (desktop and phone, light
// and dark) when run with -screenshots:
//
//	go test ./internal/app -run TestScreenshots -screenshots
//
// (scripts/screenshots does the same).
func TestScreenshots(t *testing.T) {
	if !*screenshots {
		t.Skip("run with -screenshots to regenerate docs/screenshots")
	}
	out := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "ada@example.com", "--admin", "--verified")
	for _, e := range []string{"grace@example.com", "linus@example.com", "margaret@example.com"} {
		ts.mustCLI(goodPassword+"\n", "user", "create", "--email", e, "--verified")
	}
	ts.mustCLI("", "user", "disable", "linus@example.com")
	c := newChrome(t)
	desktop, phone := layout{1280, 860, "light"}, layout{390, 844, "light"}
	desktopDark, phoneDark := layout{1280, 860, "dark"}, layout{390, 844, "dark"}
	shot := func(name string, l layout, path string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c.do(name, l.emulate())
		if path != "" {
			c.do(name, chromedp.Navigate(ts.URL+path), visible("main"))
		}
		c.do(name, steps...)
		png, err := chromedp.Run(c.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("sign-in-desktop", desktop, "/login")
	shot("sign-in-phone-dark", phoneDark, "/login")
	c.do("sign in", chromedp.Navigate(ts.URL+"/login"),
		fill(`form[action="/login"] button[type=submit]`, "#email", "ada@example.com", "#password", goodPassword), visible(".tiles"))
	shot("dashboard-desktop", desktop, "/dashboard")
	shot("account-desktop-dark", desktopDark, "/account")
	shot("account-phone", phone, "/account")
	shot("admin-users-desktop", desktop, "/admin/users", chromedp.Click(chromedp.CSS(`details.confirm.danger > summary`)))
	shot("admin-users-phone", phone, "/admin/users")
	shot("two-factor-setup-desktop", desktop, "/account/2fa",
		fill(`form[action="/account/2fa/totp/setup"] button[type=submit]`, "#setup_password", goodPassword), visible("#totp-secret"))
	shot("menu-phone-dark", phoneDark, "/account/sessions", chromedp.Click(chromedp.CSS(`.nav-menu > summary`)))
	shot("error-phone-dark", phoneDark, "/no-such-page")
}
