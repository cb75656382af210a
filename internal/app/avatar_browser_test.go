package app

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAvatarBrowserJourney uploads a picture in headless Chromium: register,
// sign in, choose a file on the account page, upload, and see the picture
// (loaded, from /avatars/...) on the dashboard and in the header, without
// any CSP violation. Then a refused file shows its message on the page.
func TestAvatarBrowserJourney(t *testing.T) {
	ts := startServer(t)
	c := newChrome(t)
	face, err := filepath.Abs(filepath.Join("testdata", "avatar", "face.png"))
	if err != nil {
		t.Fatal(err)
	}
	svg, _ := filepath.Abs(filepath.Join("testdata", "avatar", "evil.svg"))
	c.do("register",
		chromedp.Navigate(ts.URL+"/register"),
		visible("#email"),
		fill(`form[action="/register"] button[type=submit]`, "#email", "pic@example.com", "#display_name", "Pia", "#password", goodPassword),
		visible(`form[action="/login"]`),
	)
	c.do("sign in",
		fill(`form[action="/login"] button[type=submit]`, "#email", "pic@example.com", "#password", goodPassword),
		visible(".tiles"),
	)
	c.do("upload a picture",
		chromedp.Navigate(ts.URL+"/account"),
		visible("#avatar-none"),
		chromedp.SetUploadFiles(chromedp.CSS("#avatar"), []string{face}),
		chromedp.Click(chromedp.CSS(`form[action="/account/avatar"] button[type=submit]`)),
		visible(".flash-success"),
		visible("#avatar-current"),
	)
	if got := c.text(".flash-success"); !strings.Contains(got, "Your picture was updated") {
		t.Fatalf("after upload: %q", got)
	}
	if !strings.HasSuffix(c.location(), "/account") {
		t.Fatalf("after upload at %s", c.location())
	}

	c.do("dashboard", chromedp.Navigate(ts.URL+"/dashboard"), visible(".profile img.avatar"))
	src := c.eval(`document.querySelector(".profile img.avatar").getAttribute("src")`)
	if !regexp.MustCompile(`^/avatars/[A-Za-z0-9_-]{22}$`).MatchString(src) {
		t.Fatalf("dashboard picture src %q", src)
	}
	if hdr := c.eval(`document.querySelector("header img.avatar").getAttribute("src")`); hdr != src {
		t.Fatalf("header picture %q, dashboard %q", hdr, src)
	}
	// The browser really loaded and decoded it: the CSP allows it and the
	// served type is right.
	if _, err := chromedp.Run(c.ctx, chromedp.Poll[bool](
		`[...document.querySelectorAll("img.avatar")].every(i => i.complete && i.naturalWidth === 72)`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("pictures did not load: %v\nconsole: %v", err, c.messages())
	}

	c.do("refused upload",
		chromedp.Navigate(ts.URL+"/account"),
		visible("#avatar-current"),
		chromedp.SetUploadFiles(chromedp.CSS("#avatar"), []string{svg}),
		chromedp.Click(chromedp.CSS(`form[action="/account/avatar"] button[type=submit]`)),
		visible("#avatar-error"),
	)
	if got := c.text("#avatar-error"); !strings.Contains(got, "Only PNG, JPEG and WebP") {
		t.Fatalf("after an SVG: %q", got)
	}
	if now := c.eval(`document.querySelector("#avatar-current").getAttribute("src")`); now != src {
		t.Fatalf("picture changed to %q after a refused upload", now)
	}

	c.do("remove",
		chromedp.Navigate(ts.URL+"/account"),
		chromedp.Click(chromedp.CSS(`form[action="/account/avatar/delete"] button[type=submit]`)),
		visible(".flash-success"),
		visible("#avatar-none"),
	)
	c.failOnCSP()
}
