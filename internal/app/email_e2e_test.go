package app

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/kit"
)

const newPassword = "a brand new passphrase"

// flashText is the text of the page's flash messages (in dev mode, a
// message about mail ends with a link to the dev outbox).
var flashText = regexp.MustCompile(`<p class="flash[^"]*" role="status">([^<]*?)(?: <a href="/dev/outbox">Open the dev outbox</a>)?</p>`)

func flashes(body string) []string {
	var out []string
	for _, m := range flashText.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// signedUp registers an account, takes its verification mail and signs in.
func signedUp(ts *testServer, mb *mailbox, email string) *browser {
	ts.t.Helper()
	b := ts.browser()
	b.register(email, goodPassword)
	mb.next(email, "Confirm your email address")
	b.signIn(email, goodPassword)
	return b
}

func TestEmailVerificationJourney(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	b := ts.browser()
	b.register("Ada@Example.com", goodPassword)
	m := mb.next("Ada@Example.com", "Confirm your email address")
	link := m.link(t)
	if !strings.HasPrefix(link, "/verify-email?token=") || !strings.Contains(m.Text, "48 hours") {
		t.Fatalf("verification mail:\n%s", m.Text)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "Gatehouse") || !strings.Contains(from, "no-reply@") {
		t.Errorf("From %q", from)
	}
	b.signIn("ada@example.com", goodPassword)
	b.get("/dashboard").want(t, 200, "Please confirm your email address")

	// Opening the link changes nothing.
	b.openLink(link)
	b.get("/account").want(t, 200, "is not confirmed yet")
	// Posting its form does, once.
	b.followLink(link, "/verify-email").redirect(t, "/dashboard")
	d := b.get("/dashboard").want(t, 200, "Ada@Example.com is confirmed")
	if strings.Contains(d.body, "Please confirm your email address") {
		t.Error("banner still shown after verification")
	}
	b.get("/account").want(t, 200, "is confirmed.")
	b.get(link).want(t, 400, "This link is not valid")
	form := url.Values{"csrf_token": {b.token("/account")}, "token": {m.token(t)}}
	b.post("/verify-email", form).want(t, 400)

	// Anonymous confirmation works too, and leads to the sign-in page.
	ts.browser().register("bob@example.com", goodPassword)
	bob := mb.next("bob@example.com", "Confirm")
	anon := ts.browser()
	anon.followLink(bob.link(t), "/verify-email").redirect(t, "/login")
	anon.get("/login").want(t, 200, "bob@example.com is confirmed")
	mb.none(ts)
	ts.noSecrets(m.token(t), bob.token(t))
}

func TestEmailVerificationResend(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	b := ts.browser()
	b.register("ada@example.com", goodPassword)
	first := mb.next("ada@example.com", "Confirm")
	b.signIn("ada@example.com", goodPassword)

	// Anonymous visitors cannot ask.
	anon := ts.browser()
	anon.post("/verify-email/resend", url.Values{"csrf_token": {anon.token("/login")}}).redirect(t, "/login")

	var last gotMail
	for range 3 {
		b.submit("/account", "/verify-email/resend").redirect(t, "/account")
		last = mb.next("ada@example.com", "Confirm")
	}
	b.get("/account").want(t, 200, "We sent a new link to ada@example.com")
	r := b.submit("/account", "/verify-email/resend").want(t, 429, "<h1 id=\"error-title\">Too many attempts</h1>", "Go to your dashboard")
	if wait := kit.RetryText(r.Header.Get("Retry-After")); wait == "" || !strings.Contains(r.body, wait) {
		t.Errorf("429 page does not say how long to wait (Retry-After %q)", r.Header.Get("Retry-After"))
	}
	mb.none(ts)
	// Only the newest link works.
	b.get(first.link(t)).want(t, 400)
	b.followLink(last.link(t), "/verify-email").redirect(t, "/dashboard")
	b.submit("/account", "/verify-email/resend").redirect(t, "/account")
	b.get("/account").want(t, 200, "already confirmed")
	mb.none(ts)
}

func TestEmailRegisterExistingSendsNotice(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	ts.browser().register("Ada@Example.com", goodPassword)
	mb.next("Ada@Example.com", "Confirm your email address")

	again := ts.browser()
	again.register("ADA@example.COM", "another good passphrase")
	again.get("/login").want(t, 200, "If this address is new")
	// The owner, at the stored address, is told; nobody gets a link that
	// would verify or take over the account.
	m := mb.next("Ada@Example.com", "You already have an account")
	if !strings.HasSuffix(m.link(t), "/password/forgot") {
		t.Fatalf("notice link %s", m.link(t))
	}
	mb.none(ts)
}

func TestEmailPasswordResetJourney(t *testing.T) {
	ts, mb := startEmailServer(t, nil, "--trusted-proxies", "127.0.0.1")
	owner := ts.browser()
	owner.hdr.Set("X-Forwarded-For", "198.51.100.10")
	owner.register("Ada@Example.com", goodPassword)
	mb.next("Ada@Example.com", "Confirm")
	owner.signIn("ada@example.com", goodPassword)

	// An attacker, spread over many addresses, locks the account with
	// wrong passwords.
	for i := 0; ; i++ {
		attacker := ts.browser()
		attacker.hdr.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1))
		r := attacker.submit("/login", "/login", "email", "ada@example.com", "password", "wrong guess "+string(rune('a'+i)))
		if r.StatusCode == 429 {
			break
		}
		if i > 30 {
			t.Fatal("the account never locked")
		}
	}
	elsewhere := ts.browser()
	elsewhere.hdr.Set("X-Forwarded-For", "192.0.2.20")
	elsewhere.submit("/login", "/login", "email", "ada@example.com", "password", goodPassword).want(t, 429)

	// The owner asks for a link, typing the address in another case.
	elsewhere.submit("/password/forgot", "/password/forgot", "email", "  ADA@example.com ").redirect(t, "/password/forgot")
	elsewhere.get("/password/forgot").want(t, 200, "If an account uses that address")
	m := mb.next("Ada@Example.com", "Reset your password")
	link := m.link(t)
	if !strings.HasPrefix(link, "/password/reset?token=") || !strings.Contains(m.Text, "30 minutes") {
		t.Fatalf("reset mail:\n%s", m.Text)
	}

	// A weak password is refused; the link still works.
	elsewhere.followLink(link, "/password/reset", "password", "short").want(t, 422, "at least", `name="token" value="`+m.token(t)+`"`)
	r := elsewhere.followLink(link, "/password/reset", "password", newPassword)
	r.redirect(t, "/login")
	// Not signed in by the reset.
	elsewhere.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	elsewhere.get("/login").want(t, 200, "Your password was changed")
	// Every session ended.
	owner.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	mb.next("Ada@Example.com", "Your password was changed")
	// Used once.
	elsewhere.get(link).want(t, 400)
	form := url.Values{"csrf_token": {elsewhere.token("/login")}, "token": {m.token(t)}, "password": {"yet another passphrase"}}
	elsewhere.post("/password/reset", form).want(t, 400)

	// The lock is lifted: the owner signs in with the new password.
	elsewhere.submit("/login", "/login", "email", "ada@example.com", "password", goodPassword).want(t, 401)
	elsewhere.signIn("Ada@example.com", newPassword)
	mb.next("Ada@Example.com", "New sign-in to your account") // another network
	mb.none(ts)
	ts.noSecrets(m.token(t))
}

func TestEmailForgotSameAnswer(t *testing.T) {
	ts, mb := startEmailServer(t, nil, "--forgot-limit", "6/hour")
	ts.browser().register("Ada@Example.com", goodPassword)
	mb.next("Ada@Example.com", "Confirm")
	ts.browser().register("off@example.com", goodPassword)
	mb.next("off@example.com", "Confirm")
	ts.mustCLI("", "user", "disable", "off@example.com")

	norm := regexp.MustCompile(`value="[^"]*"`)
	var pages []string
	for _, email := range []string{"ada@example.com", "nobody@example.com", "ADA@EXAMPLE.COM", "off@example.com", " Ada@Example.com "} {
		b := ts.browser()
		r := b.submit("/password/forgot", "/password/forgot", "email", email)
		r.redirect(t, "/password/forgot")
		p := b.get("/password/forgot").want(t, 200)
		if f := flashes(p.body); len(f) != 1 || !strings.HasPrefix(f[0], "If an account uses that address") {
			t.Fatalf("%q: flashes %v", email, f)
		}
		pages = append(pages, norm.ReplaceAllString(p.body, `value=""`))
	}
	for i, p := range pages[1:] {
		if p != pages[0] {
			t.Fatalf("answer %d differs from the first", i+1)
		}
	}
	// Mail only to the stored address of the enabled account, once per
	// request for it.
	for range 3 {
		mb.next("Ada@Example.com", "Reset your password")
	}
	mb.none(ts)

	// Input that is not an address is a form error, not an answer about
	// accounts; far too long is one too.
	b := ts.browser()
	b.submit("/password/forgot", "/password/forgot", "email", "not an address").want(t, 422, "Enter a valid email address")
	b.submit("/password/forgot", "/password/forgot", "email", strings.Repeat("a", 400)+"@example.com").want(t, 422)
	// FORGOT_LIMIT per IP.
	r := b.submit("/password/forgot", "/password/forgot", "email", "ada@example.com")
	r.want(t, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	mb.none(ts)
}

func TestEmailResetTokenRules(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	b := ts.browser()
	b.register("ada@example.com", goodPassword)
	mb.next("ada@example.com", "Confirm")
	forgot := func() gotMail {
		t.Helper()
		ts.browser().submit("/password/forgot", "/password/forgot", "email", "ada@example.com").redirect(t, "/password/forgot")
		return mb.next("ada@example.com", "Reset your password")
	}

	// A newer link voids the older one.
	older, newer := forgot(), forgot()
	ts.browser().get(older.link(t)).want(t, 400)
	ts.browser().followLink(newer.link(t), "/password/reset", "password", newPassword).redirect(t, "/login")
	mb.next("ada@example.com", "Your password was changed")

	// A password change voids a pending link.
	pending := forgot()
	b.signIn("ada@example.com", newPassword)
	b.submit("/account", "/account/password", "current_password", newPassword, "new_password", goodPassword).redirect(t, "/account")
	mb.next("ada@example.com", "Your password was changed")
	ts.browser().get(pending.link(t)).want(t, 400)

	// Bad tokens, in the link or in the form: 400, and nothing changes.
	real := forgot()
	tok := real.token(t)
	tampered := tok[:40] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, tok[40:41]) + tok[41:]
	for _, tc := range []struct {
		name, query string
		status      int
	}{
		{"missing", "", 400},
		{"empty", "token=", 400},
		{"repeated", "token=" + tok + "&token=" + tok, 400},
		{"array-shaped", "token[]=" + tok, 400},
		{"oversized", "token=" + strings.Repeat("A", 5000), 400},
		{"non-UTF-8", "token=%ff" + tok[1:], 400},
		{"tampered", "token=" + tampered, 400},
		{"truncated", "token=" + tok[:63], 400},
		{"other purpose", "token=" + strings.Repeat("A", 64), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.browser()
			r := c.get("/password/reset?"+tc.query).want(t, tc.status)
			if strings.Contains(r.body, tok) {
				t.Fatal("the real token is on the error page")
			}
			body := tc.query + "&password=" + url.QueryEscape(newPassword) + "&csrf_token=" + url.QueryEscape(c.token("/login"))
			req, _ := http.NewRequest("POST", ts.URL+"/password/reset", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", ts.URL)
			if got := c.do(req); got.StatusCode != 400 {
				t.Fatalf("POST: status %d\n%s", got.StatusCode, trim(got.body))
			}
		})
	}
	// The token in the query string of a POST is not read.
	c := ts.browser()
	c.post("/password/reset?token="+tok, url.Values{"csrf_token": {c.token("/login")}, "password": {newPassword}}).want(t, 400)
	ts.browser().signIn("ada@example.com", goodPassword)
	ts.browser().followLink(real.link(t), "/password/reset", "password", newPassword).redirect(t, "/login")
	mb.next("ada@example.com", "Your password was changed")
	mb.none(ts)
}

func TestEmailResetConcurrent(t *testing.T) {
	ts, mb := startEmailServer(t, nil, "--hash-workers", "4")
	ts.browser().register("ada@example.com", goodPassword)
	mb.next("ada@example.com", "Confirm")
	ts.browser().submit("/password/forgot", "/password/forgot", "email", "ada@example.com")
	m := mb.next("ada@example.com", "Reset your password")

	// Twenty browsers open the link; then all submit at once.
	type prepared struct {
		b    *browser
		form url.Values
	}
	var ps []prepared
	for i := range 20 {
		b := ts.browser()
		csrf := b.openLink(m.link(t))
		ps = append(ps, prepared{b, url.Values{"csrf_token": {csrf}, "token": {m.token(t)}, "password": {"concurrent passphrase " + string(rune('a'+i))}}})
	}
	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, p := range ps {
		wg.Go(func() {
			<-start
			r := p.b.post("/password/reset", p.form)
			switch r.StatusCode {
			case http.StatusSeeOther:
				wins.Add(1)
			case http.StatusBadRequest:
				refused.Add(1)
			default:
				t.Errorf("status %d", r.StatusCode)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || refused.Load() != 19 {
		t.Fatalf("%d succeeded and %d were refused, want 1 and 19", wins.Load(), refused.Load())
	}
	mb.next("ada@example.com", "Your password was changed")
	mb.none(ts)
}

func TestEmailChangeJourney(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	a := signedUp(ts, mb, "a@example.com")

	a.submit("/account", "/account/email", "password", "wrong password!", "new_email", "new@example.com").
		want(t, 422, "The password is not correct", `value="new@example.com"`)
	a.submit("/account", "/account/email", "password", goodPassword, "new_email", "A@EXAMPLE.com").want(t, 422, "already the address")
	a.submit("/account", "/account/email", "password", goodPassword, "new_email", "\u0430@example.com").want(t, 422, "valid email")
	mb.none(ts)

	a.submit("/account", "/account/email", "password", goodPassword, "new_email", "New@Example.com").redirect(t, "/account")
	a.get("/account").want(t, 200, "We sent a link to New@Example.com", "a@example.com")
	confirm := mb.next("New@Example.com", "Confirm your new email address")
	notice := mb.next("a@example.com", "Your email address is being changed")
	if !strings.Contains(notice.Text, "New@Example.com") {
		t.Fatalf("notice:\n%s", notice.Text)
	}
	// Nothing changed yet.
	ts.browser().signIn("a@example.com", goodPassword)

	a.followLink(confirm.link(t), "/account/email/confirm").redirect(t, "/account")
	a.get("/account").want(t, 200, "Your email address is now New@Example.com")
	changed := mb.next("a@example.com", "Your email address was changed")
	if !strings.Contains(changed.Text, "New@Example.com") {
		t.Fatalf("changed notice:\n%s", changed.Text)
	}
	ts.browser().submit("/login", "/login", "email", "a@example.com", "password", goodPassword).want(t, 401)
	ts.browser().signIn("new@example.com", goodPassword)
	a.get(confirm.link(t)).want(t, 400)
	// Later mail goes to the new address.
	ts.browser().submit("/password/forgot", "/password/forgot", "email", "a@example.com")
	ts.browser().submit("/password/forgot", "/password/forgot", "email", "new@example.com")
	mb.next("New@Example.com", "Reset your password")
	mb.none(ts)
	ts.noSecrets(confirm.token(t))
}

func TestEmailChangeTwoPending(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	a, b := ts.browser(), ts.browser()
	for _, u := range []struct {
		b     *browser
		email string
	}{{a, "a@example.com"}, {b, "b@example.com"}} {
		u.b.register(u.email, goodPassword)
		mb.next(u.email, "Confirm")
		u.b.signIn(u.email, goodPassword)
	}
	request := func(br *browser, from, to string) gotMail {
		t.Helper()
		br.submit("/account", "/account/email", "password", goodPassword, "new_email", to).redirect(t, "/account")
		m := mb.next(to, "Confirm your new email address")
		mb.next(from, "being changed")
		return m
	}
	// Each pending change confirms its own address for its own account,
	// whatever the order and whoever opens the link.
	toX := request(a, "a@example.com", "x@example.com")
	toY := request(b, "b@example.com", "y@example.com")
	other := ts.browser()
	other.followLink(toY.link(t), "/account/email/confirm").redirect(t, "/login")
	mb.next("b@example.com", "was changed")
	other.followLink(toX.link(t), "/account/email/confirm").redirect(t, "/login")
	mb.next("a@example.com", "was changed")
	a.get("/account").want(t, 200, "x@example.com")
	b.get("/account").want(t, 200, "y@example.com")

	// Two changes to one address: the first confirmation wins, the second
	// fails at confirmation, and the address being taken was not revealed
	// at request time.
	z1 := request(a, "x@example.com", "z@example.com")
	z2 := request(b, "y@example.com", "Z@example.com")
	b.followLink(z2.link(t), "/account/email/confirm").redirect(t, "/account")
	mb.next("y@example.com", "was changed")
	a.followLink(z1.link(t), "/account/email/confirm").want(t, 409, "Another account uses this address")
	a.get("/account").want(t, 200, "x@example.com")
	// Asking for a taken address answers as for a free one.
	a.submit("/account", "/account/email", "password", goodPassword, "new_email", "z@EXAMPLE.com").redirect(t, "/account")
	taken := mb.next("z@EXAMPLE.com", "Confirm your new email address")
	mb.next("x@example.com", "being changed")
	a.followLink(taken.link(t), "/account/email/confirm").want(t, 409)
	mb.none(ts)
}

func TestEmailChangeRateLimited(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	a := signedUp(ts, mb, "a@example.com")
	for range 5 {
		a.submit("/account", "/account/email", "password", "wrong password!", "new_email", "n@example.com").want(t, 422)
	}
	// Also with the right password: the limit bounds guesses.
	a.submit("/account", "/account/email", "password", goodPassword, "new_email", "n@example.com").want(t, 429)
	mb.none(ts)
}

func TestEmailSecurityNotices(t *testing.T) {
	ts, mb := startEmailServer(t, nil, "--trusted-proxies", "127.0.0.1")
	at := func(ip, ua string) *browser {
		b := ts.browser()
		b.hdr.Set("X-Forwarded-For", ip)
		if ua != "" {
			b.ua = ua
		}
		return b
	}
	home := at("198.51.100.10", "")
	home.register("ada@example.com", goodPassword)
	mb.next("ada@example.com", "Confirm")
	// The first sign-in after registration is no news.
	home.signIn("ada@example.com", goodPassword)
	// Same browser family, OS and /24: nothing.
	at("198.51.100.99", strings.Replace(home.ua, "128.0", "129.0", 2)).signIn("ada@example.com", goodPassword)
	mb.none(ts)

	chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	at("198.51.100.10", chrome).signIn("ada@example.com", goodPassword)
	m := mb.next("ada@example.com", "New sign-in to your account")
	if !strings.Contains(m.Text, "198.51.100.10") || !strings.Contains(m.Text, "Chrome 126 on Linux") {
		t.Fatalf("new device notice:\n%s", m.Text)
	}
	at("203.0.113.5", "").signIn("ada@example.com", goodPassword)
	mb.next("ada@example.com", "New sign-in")
	at("203.0.113.200", "").signIn("ada@example.com", goodPassword)
	mb.none(ts)

	// Password change.
	home.submit("/account", "/account/password", "current_password", goodPassword, "new_password", newPassword).redirect(t, "/account")
	m = mb.next("ada@example.com", "Your password was changed")
	if !strings.Contains(m.Text, "198.51.100.10") || !strings.Contains(m.Text, "Firefox 128 on Linux") {
		t.Fatalf("password notice:\n%s", m.Text)
	}
	mb.none(ts)
}

// TestEmailSecurityNoticeKinds drives the hook the 2FA feature calls.
func TestEmailSecurityNoticeKinds(t *testing.T) {
	ts, mb := startEmailServer(t, nil)
	ts.browser().register("ada@example.com", goodPassword)
	mb.next("ada@example.com", "Confirm")
	d := mustDeps(t, ts)
	u, err := d.accounts.UserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, subject string }{
		{"twofactor_enabled", "Two-factor authentication turned on"},
		{"twofactor_disabled", "Two-factor authentication turned off"},
		{"recovery_codes_replaced", "New recovery codes"},
		{"no such kind\r\nBcc: eve@example.com", "Security notice"},
	} {
		d.email.SecurityNotice(t.Context(), u, tc.kind)
		// The server's worker delivers what these deps queued.
		mb.next("ada@example.com", tc.subject)
	}
	mb.none(ts)
}

func TestEmailSMTPDownThenUp(t *testing.T) {
	attempts := fastMailRetries(t)
	mb := newMailbox(t) // not listening yet
	ts, _ := startEmailServer(t, mb)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		ts.browser().register(e, goodPassword)
	}
	// The relay refuses connections: the worker keeps retrying.
	waitFor(t, "delivery attempts", func() bool { return attempts.Load() >= 6 })
	if len(mb.all()) != 0 {
		t.Fatal("mail while the relay was down")
	}
	mb.start()
	got := map[string]gotMail{}
	for range 3 {
		m := mb.nextAny()
		got[m.To[0]] = m
	}
	mb.none(ts)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		m, ok := got[e]
		if !ok {
			t.Fatalf("mail to %s lost", e)
		}
		b := ts.browser()
		b.followLink(m.link(t), "/verify-email").redirect(t, "/login")
	}
	if n := len(mb.all()); n != 3 {
		t.Fatalf("%d messages delivered, want 3 (each exactly once)", n)
	}
}

func TestEmailDevOutbox(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("ada@example.com", goodPassword)
	var page *response
	waitFor(t, "the dev outbox", func() bool {
		page = b.get("/dev/outbox").want(t, 200)
		return strings.Contains(page.body, "Confirm your email address")
	})
	page.want(t, 200, "ada@example.com", "/verify-email?token=")
	if cc := page.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q", cc)
	}
	// The mailed link, taken from the outbox, works.
	link := regexp.MustCompile(`http://\S+/verify-email\?token=[A-Za-z0-9_-]{64}`).FindString(page.body)
	u, _ := url.Parse(link)
	b.followLink(u.RequestURI(), "/verify-email").redirect(t, "/login")
}

func TestEmailOutboxHiddenInProduction(t *testing.T) {
	attempts := fastMailRetries(t)
	ts := startServer(t, "--dev=false", "--base-url", "https://auth.example.test", "--argon2-memory=19456", "--argon2-time=2")
	r, err := http.Get(ts.URL + "/dev/outbox")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Fatalf("/dev/outbox in production: %d", r.StatusCode)
	}
	// Without SMTP_URL, production mail waits in the outbox.
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "ada@example.com")
	d := mustDeps(t, ts)
	u, _ := d.accounts.UserByEmail(t.Context(), "ada@example.com")
	d.email.SecurityNotice(t.Context(), u, "twofactor_enabled")
	d.email.Outbox().Notify()
	waitFor(t, "delivery attempts", func() bool { return attempts.Load() >= 2 })
	if n, err := d.email.Outbox().Pending(t.Context()); n != 1 || err != nil {
		t.Fatalf("pending = %d, %v; want the message kept", n, err)
	}
	if !strings.Contains(ts.logs.String(), "GATEHOUSE_SMTP_URL is not set") {
		t.Error("no warning about the missing SMTP_URL")
	}
}

func TestEmailInsecureSMTPRefusedInProduction(t *testing.T) {
	err := Run(t.Context(), []string{"--base-url", "https://auth.example.test", "--database-url", "sqlite:" + t.TempDir() + "/g.db",
		"--addr", freeAddr(t), "--metrics-addr=", "--smtp-url", "smtp://mail.example.com:25?starttls=insecure-none", "serve"}, func(string) string { return "" }, strings.NewReader(""), new(strings.Builder), new(strings.Builder))
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SMTP_URL") || !strings.Contains(err.Error(), "plain text") {
		t.Fatalf("Run = %v", err)
	}
	if strings.Contains(err.Error(), "mail.example.com:25?") {
		t.Error("the error repeats the URL")
	}
}
