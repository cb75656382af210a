package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/twofactor"
)

// Codes in these tests come from Debian's oathtool, an implementation of
// RFC 6238 independent of ours (the RFC vectors are in package totp).

// oathtoolCode returns the TOTP code of a base32 secret at time at.
func oathtoolCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path := testenv.Command(t, "oathtool")
	out, err := exec.Command(path, "--totp", "--base32", "--now", "@"+strconv.FormatInt(at.Unix(), 10),
		strings.ReplaceAll(secret, " ", "")).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if len(code) != 6 {
		t.Fatalf("oathtool printed %q", code)
	}
	return code
}

// authenticator plays the user's app: it makes a fresh code for the
// newest step not used yet. The server accepts the next step too (clock
// skew), so two codes are available in any 30 seconds; tests are written
// to need no more per secret.
type authenticator struct {
	t      *testing.T
	secret string
	last   int64
}

func (a *authenticator) code() string {
	a.t.Helper()
	now := time.Now().Unix() / 30
	step := max(now, a.last+1)
	if step > now+1 {
		a.t.Fatal("test needs a third fresh code within 30 seconds")
	}
	a.last = step
	return oathtoolCode(a.t, a.secret, time.Unix(step*30, 0))
}

var (
	secretOnPage  = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)</code>`)
	recoveryCodes = regexp.MustCompile(`<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>`)
	qrImage       = regexp.MustCompile(`<img class="qr" src="data:image/png;base64,(?:[A-Za-z0-9/=]|&#43;)+"`)
)

// enrol turns two-factor sign-in on for the signed-in browser b, as a
// user would: password, scan (read the key from the page), first code.
func enrol(t *testing.T, b *browser, pw string) (*authenticator, []string) {
	t.Helper()
	page := b.submit("/account/2fa", "/account/2fa/totp/setup", "password", pw).want(t, 200, "Set up two-factor sign-in")
	if !qrImage.MatchString(page.body) {
		t.Fatalf("no inline QR code on the setup page:\n%s", trim(page.body))
	}
	m := secretOnPage.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no key on the setup page:\n%s", trim(page.body))
	}
	if cc := page.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("setup page Cache-Control %q", cc)
	}
	a := &authenticator{t: t, secret: m[1]}
	done := b.submit("/account/2fa", "/account/2fa/totp/confirm", "code", a.code()).want(t, 200, "Save these codes now")
	var codes []string
	for _, c := range recoveryCodes.FindAllStringSubmatch(done.body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), trim(done.body))
	}
	return a, codes
}

// enrolled registers email, signs in and turns two-factor sign-in on.
func enrolled(t *testing.T, ts *testServer, email string) (*browser, *authenticator, []string) {
	t.Helper()
	b := ts.browser()
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	app, recovery := enrol(t, b, goodPassword)
	return b, app, recovery
}

// passwordStep signs in with the password and expects the second step.
func passwordStep(t *testing.T, b *browser, email, pw string) {
	t.Helper()
	b.submit("/login", "/login", "email", email, "password", pw).redirect(t, "/login/2fa")
}

func TestTwoFactorJourney(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("alice@example.com", goodPassword)
	b.signIn("alice@example.com", goodPassword)
	b.get("/account").want(t, 200, `href="/account/2fa"`)
	b.get("/account/2fa").want(t, 200, "Off", `action="/account/2fa/totp/setup"`)
	// A wrong password makes no secret.
	b.submit("/account/2fa", "/account/2fa/totp/setup", "password", "not my password").want(t, 401, twofactor.MsgPassword)
	app, recovery := enrol(t, b, goodPassword)
	confirmCode := oathtoolCode(t, app.secret, time.Unix(app.last*30, 0))
	b.get("/account/2fa").want(t, 200, "On", `<strong id="recovery-left">10</strong>`, `action="/account/2fa/disable"`)

	// Sign in again: after the password the session is only pending.
	b.submit("/dashboard", "/logout").redirect(t, "/")
	passwordStep(t, b, "alice@example.com", goodPassword)
	for _, path := range []string{"/dashboard", "/account", "/account/2fa", "/account/sessions"} {
		b.get(path).redirect(t, "/login?next="+url.QueryEscape(path))
	}
	b.submit("/login/2fa", "/account/2fa/disable", "password", goodPassword, "code", "123456").redirect(t, "/login")
	if r := b.get("/api/v1/me"); r.StatusCode == http.StatusOK {
		t.Fatalf("the API answered a pending session: %s", trim(r.body))
	}
	page := b.get("/login/2fa").want(t, 200, "Two-factor sign-in", "Cancel sign-in", `name="recovery_code"`)
	if strings.Contains(page.body, `href="/dashboard"`) {
		t.Fatal("the pending page links to the dashboard as if signed in")
	}

	// The code that confirmed the setup was used: refused, with the
	// generic message.
	b.submit("/login/2fa", "/login/2fa", "code", confirmCode).want(t, 401, twofactor.MsgCode)
	before := b.cookie("gatehouse").Value
	code := app.code()
	b.submit("/login/2fa", "/login/2fa", "code", code).redirect(t, "/dashboard")
	if b.cookie("gatehouse").Value == before {
		t.Fatal("the session id did not change at the second step")
	}
	b.get("/dashboard").want(t, 200, "alice@example.com")

	// The same code again, in a new sign-in: refused.
	b.submit("/dashboard", "/logout").redirect(t, "/")
	passwordStep(t, b, "alice@example.com", goodPassword)
	b.submit("/login/2fa", "/login/2fa", "code", code).want(t, 401, twofactor.MsgCode)

	// A recovery code works once, typed loosely, and keeps next.
	b.submit("/login/2fa", "/logout").redirect(t, "/")
	b.submit("/login", "/login", "email", "alice@example.com", "password", goodPassword, "next", "/account/sessions").redirect(t, "/login/2fa")
	b.submit("/login/2fa", "/login/2fa", "recovery_code", strings.ToUpper(recovery[0])).redirect(t, "/account/sessions")
	b.get("/account/sessions").want(t, 200, "recovery code", "9 left")
	b.submit("/dashboard", "/logout").redirect(t, "/")
	passwordStep(t, b, "alice@example.com", goodPassword)
	b.submit("/login/2fa", "/login/2fa", "recovery_code", recovery[0]).want(t, 401, twofactor.MsgCode)

	// Cancel sign-in ends the pending session.
	b.submit("/login/2fa", "/logout").redirect(t, "/")
	b.get("/login/2fa").redirect(t, "/login")

	// The audit trail has the story, and no code.
	logs := ts.logs.String()
	for _, secret := range []string{code, recovery[0], app.secret, goodPassword} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the logs: %q", secret)
		}
	}
}

// Bad codes get the generic message and a 401, never a 500; they count
// against the account, and the sixth attempt in a row is refused (429)
// even with the right code.
func TestTwoFactorBadInputAndLimit(t *testing.T) {
	ts := startServer(t)
	b, app, _ := enrolled(t, ts, "bob@example.com")
	b.submit("/dashboard", "/logout").redirect(t, "/")
	passwordStep(t, b, "bob@example.com", goodPassword)
	for _, bad := range []string{"", "12345", "abc def", strings.Repeat("9", 300), "１２３４５６"} {
		b.submit("/login/2fa", "/login/2fa", "code", bad).want(t, 401, twofactor.MsgCode)
	}
	r := b.submit("/login/2fa", "/login/2fa", "code", app.code()).want(t, 429, "Too many attempts", "Cancel sign-in")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Another browser with the password meets the same per-account limit.
	other := ts.browser()
	passwordStep(t, other, "bob@example.com", goodPassword)
	other.submit("/login/2fa", "/login/2fa", "recovery_code", "abcd-efgh-jkmn-pqrs").want(t, 429)
	// A repeated field is a bad request, not a code attempt.
	tok := b.token("/login/2fa")
	b.post("/login/2fa", url.Values{"csrf_token": {tok}, "code": {"1", "2"}}).want(t, 400)
}

func TestTwoFactorDisable(t *testing.T) {
	ts := startServer(t)
	b, app, recovery := enrolled(t, ts, "carol@example.com")

	// Another device signs in (with a recovery code).
	other := ts.browser()
	passwordStep(t, other, "carol@example.com", goodPassword)
	other.submit("/login/2fa", "/login/2fa", "recovery_code", recovery[1]).redirect(t, "/dashboard")

	code := app.code()
	for _, tc := range []struct{ pw, code string }{
		{"wrong password", code},
		{goodPassword, ""},
		{goodPassword, "000000x"},
		{"", ""},
	} {
		b.submit("/account/2fa", "/account/2fa/disable", "password", tc.pw, "code", tc.code).want(t, 401, twofactor.MsgDisable)
	}
	b.get("/account/2fa").want(t, 200, "On")
	before := b.cookie("gatehouse").Value
	b.submit("/account/2fa", "/account/2fa/disable", "password", goodPassword, "code", code).redirect(t, "/account/2fa")
	if b.cookie("gatehouse").Value == before {
		t.Error("disabling did not renew the session id")
	}
	b.get("/account/2fa").want(t, 200, "Two-factor sign-in is off", "Off")
	other.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	// Password alone is enough now.
	ts.browser().signIn("carol@example.com", goodPassword)
}

func TestTwoFactorAdminReset(t *testing.T) {
	ts := startServer(t)
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", "root@example.com", "--admin", "--verified")
	admin := ts.browser()
	admin.signIn("root@example.com", goodPassword)
	user := ts.browser()
	user.register("dave@example.com", goodPassword)
	user.signIn("dave@example.com", goodPassword)
	enrol(t, user, goodPassword)

	page := admin.get("/admin/users").want(t, 200, "dave@example.com")
	if !strings.Contains(page.body, `action="/admin/users/2/reset-2fa"`) {
		t.Fatalf("no reset form for dave:\n%s", trim(page.body))
	}
	// Only admins; not oneself; only users who exist.
	user.submit("/dashboard", "/admin/users/2/reset-2fa").want(t, 403)
	admin.submit("/admin/users", "/admin/users/1/reset-2fa").want(t, 403)
	admin.submit("/admin/users", "/admin/users/99/reset-2fa").want(t, 404)
	admin.submit("/admin/users", "/admin/users/x/reset-2fa").want(t, 404)

	admin.submit("/admin/users", "/admin/users/2/reset-2fa").redirect(t, "/admin/users")
	admin.get("/admin/users").want(t, 200, "Two-factor sign-in was reset for dave@example.com")
	// Dave's sessions ended; the password alone signs him in now.
	user.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	user.signIn("dave@example.com", goodPassword)

	// The operator can do the same from the command line.
	enrol(t, user, goodPassword)
	passwordStep(t, ts.browser(), "dave@example.com", goodPassword)
	out := ts.mustCLI("", "user", "reset-2fa", "dave@example.com")
	if !strings.Contains(out, "turned off two-factor sign-in for user 2") {
		t.Fatalf("CLI said %q", out)
	}
	user.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
	ts.browser().signIn("dave@example.com", goodPassword)
	if _, err := ts.cli("", "user", "reset-2fa", "nobody@example.com"); err == nil {
		t.Fatal("reset-2fa of an unknown user succeeded")
	}
}

// Setup corner cases: confirming a wrong code keeps the same key on the
// page; a new setup replaces the pending one; regenerated recovery codes
// replace the old ones.
func TestTwoFactorSetupAndRecoveryCodes(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("erin@example.com", goodPassword)
	b.signIn("erin@example.com", goodPassword)
	b.submit("/account/2fa", "/account/2fa/totp/confirm", "code", "123456").redirect(t, "/account/2fa")
	first := b.submit("/account/2fa", "/account/2fa/totp/setup", "password", goodPassword).want(t, 200)
	key := secretOnPage.FindStringSubmatch(first.body)[1]
	again := b.submit("/account/2fa", "/account/2fa/totp/confirm", "code", "12345").want(t, 422, twofactor.MsgConfirm)
	if got := secretOnPage.FindStringSubmatch(again.body); got == nil || got[1] != key {
		t.Fatal("the setup page lost its key after a wrong code")
	}
	app, recovery := enrol(t, b, goodPassword)
	if app.secret == key {
		t.Fatal("a new setup reused the key")
	}
	// Setting up again while on is refused.
	b.submit("/account/2fa", "/account/2fa/totp/setup", "password", goodPassword).redirect(t, "/account/2fa")

	b.submit("/account/2fa", "/account/2fa/recovery-codes", "password", "wrong password").want(t, 401, twofactor.MsgPassword)
	fresh := b.submit("/account/2fa", "/account/2fa/recovery-codes", "password", goodPassword).want(t, 200, "no longer work")
	codes := recoveryCodes.FindAllStringSubmatch(fresh.body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d new codes", len(codes))
	}
	b.submit("/dashboard", "/logout").redirect(t, "/")
	passwordStep(t, b, "erin@example.com", goodPassword)
	b.submit("/login/2fa", "/login/2fa", "recovery_code", recovery[0]).want(t, 401)
	b.submit("/login/2fa", "/login/2fa", "recovery_code", codes[0][1]).redirect(t, "/dashboard")
}

// tfClock is an injected clock for the in-process server.
type tfClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tfClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *tfClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// tfServer is a server built in-process with NewServer, so that a test can
// move the clock the handlers see (the pending sign-in's age). Sessions,
// codes and limits keep the real clock.
type tfServer struct {
	*testServer
	d     *deps
	clock *tfClock
}

func startTwoFactorServer(t *testing.T) *tfServer {
	t.Helper()
	addr, dir := freeAddr(t), t.TempDir()
	args := append([]string{"--dev", "--addr", addr, "--base-url", "http://" + addr, "--metrics-addr=",
		"--database-url", "sqlite:" + filepath.Join(dir, "gatehouse.db"), "--log-level", "warn"}, fastHashArgs...)
	cfg, _, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := openDeps(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := &tfClock{t: time.Now()}
	d.now = clock.Now
	_, h, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &tfServer{testServer: &testServer{t: t, URL: "http://" + addr, dir: dir, args: args}, d: d, clock: clock}
}

// The pending sign-in lasts 5 minutes by the server's clock.
func TestTwoFactorPendingExpires(t *testing.T) {
	ts := startTwoFactorServer(t)
	b, app, _ := enrolled(t, ts.testServer, "fay@example.com")
	b.submit("/dashboard", "/logout").redirect(t, "/")

	passwordStep(t, b, "fay@example.com", goodPassword)
	ts.clock.Advance(twofactor.PendingTTL - time.Second)
	tok := csrfField.FindStringSubmatch(b.get("/login/2fa").want(t, 200, "Two-factor sign-in").body)[1]
	ts.clock.Advance(time.Second)
	b.post("/login/2fa", url.Values{"csrf_token": {tok}, "code": {app.code()}}).redirect(t, "/login")
	b.get("/login").want(t, 200, twofactor.MsgExpired)
	b.get("/login/2fa").redirect(t, "/login")

	// Within the time, the same flow completes (the expired attempt did not
	// use the code).
	passwordStep(t, b, "fay@example.com", goodPassword)
	ts.clock.Advance(4 * time.Minute)
	b.submit("/login/2fa", "/login/2fa", "code", oathtoolCode(t, app.secret, time.Unix(app.last*30, 0))).redirect(t, "/dashboard")
}

// checkSecondFactor is what the JSON API calls for totp_code: the same
// replay protection and limits as the sign-in page, and errors it can map
// to 401 and 429.
func TestTwoFactorCheckForAPI(t *testing.T) {
	ts := startTwoFactorServer(t)
	_, app, recovery := enrolled(t, ts.testServer, "gus@example.com")
	ctx := context.Background()
	d := ts.d
	u, err := d.accounts.UserByEmail(ctx, "gus@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m := account.Meta{IP: "192.0.2.1", UserAgent: "api-test"}
	nobody, _ := d.accounts.CreateUser(ctx, account.CreateUserInput{Email: "plain@example.com", Password: goodPassword}, m)
	if err := d.tf.Check(ctx, nobody, "", m); err != nil {
		t.Fatalf("user without 2FA: %v", err)
	}
	code := app.code()
	if err := d.tf.Check(ctx, u, code, m); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if err := d.tf.Check(ctx, u, code, m); !errors.Is(err, kit.ErrSecondFactor) {
		t.Fatalf("replayed code: %v", err)
	}
	if err := d.tf.Check(ctx, u, "", m); !errors.Is(err, kit.ErrSecondFactorRequired) || !errors.Is(err, kit.ErrSecondFactor) {
		t.Fatalf("no code: %v", err)
	}
	if err := d.tf.Check(ctx, u, recovery[4], m); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	for range 5 {
		if err := d.tf.Check(ctx, u, "000000a", m); !errors.Is(err, kit.ErrSecondFactor) {
			t.Fatalf("bad code: %v", err)
		}
	}
	err = d.tf.Check(ctx, u, recovery[5], m)
	var limited *kit.SecondFactorLimitedError
	if !errors.Is(err, kit.ErrSecondFactorLimited) || !errors.As(err, &limited) || limited.RetryAfter <= 0 {
		t.Fatalf("sixth attempt: %v", err)
	}
	evs, err := d.accounts.ListAudit(ctx, account.AuditFilter{UserID: u.ID, Name: "ratelimit.refused"})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no audit record of the refusal: %v", err)
	}
}
