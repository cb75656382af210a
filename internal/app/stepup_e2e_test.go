package app

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/twofactor"
)

// Step-up (/login/step-up): a signed-in session that used only a password
// gives its second factor, then goes on to next; the amr of the session
// decides whether it is asked.
func TestStepUp(t *testing.T) {
	ts := startServer(t)
	anon := ts.browser()
	plain := ts.browser() // signed in, no second factor on the account
	plain.register("pat@example.com", goodPassword)
	plain.signIn("pat@example.com", goodPassword)
	one, app, _ := enrolled(t, ts, "una@example.com") // enrolled in a password-only session
	_, tiaApp, _ := enrolled(t, ts, "tia@example.com")
	two := ts.browser() // signs in with both factors
	passwordStep(t, two, "tia@example.com", goodPassword)
	two.submit("/login/2fa", "/login/2fa", "code", tiaApp.code()).redirect(t, "/dashboard")

	const page = "/login/step-up?next=%2Faccount%2Fsessions"
	type row struct {
		name     string
		b        *browser
		post     []string // form fields; nil: GET page
		status   int
		location string // for 303
		contains string
	}
	tests := []row{
		{"anonymous GET goes to sign in", anon, nil, 303, "/login?next=%2Faccount%2Fsessions", ""},
		{"anonymous POST goes to sign in", anon, []string{"code", "123456", "next", "/account"}, 303, "/login?next=%2Faccount", ""},
		{"no second factor: told to set one up", plain, nil, 200, "", `href="/account/2fa"`},
		{"no second factor: POST refused", plain, []string{"code", "123456", "next", "/account"}, 409, "", "has no second factor"},
		{"two factors already: straight on", two, nil, 303, "/account/sessions", ""},
		{"two factors already: unsafe next", two, []string{"next", "//evil.example"}, 303, "/dashboard", ""},
		{"password only: asked for a code", one, nil, 200, "", `name="next" value="/account/sessions"`},
		{"wrong code", one, []string{"code", "000000", "next", "/account/sessions"}, 401, "", twofactor.MsgCode},
		{"empty code", one, []string{"next", "/account/sessions"}, 401, "", twofactor.MsgCode},
		{"good code", one, []string{"code", app.code(), "next", "/account/sessions"}, 303, "/account/sessions", ""},
		{"then straight on", one, nil, 303, "/account/sessions", ""},
	}
	for _, tc := range tests {
		t.Logf("step: %s", tc.name) // shown when a step fails
		var r *response
		if tc.post == nil {
			r = tc.b.get(page)
		} else {
			from := "/dashboard"
			if tc.b == anon {
				from = "/login"
			}
			r = tc.b.submit(from, "/login/step-up", tc.post...)
		}
		if tc.status == 303 {
			r.redirect(t, tc.location)
			continue
		}
		r.want(t, tc.status, tc.contains)
	}

	// A recovery code steps up too, once, and the event is audited.
	other := ts.browser()
	other.register("val@example.com", goodPassword)
	other.signIn("val@example.com", goodPassword)
	_, codes := enrol(t, other, goodPassword)
	other.submit("/dashboard", "/login/step-up", "recovery_code", codes[0], "next", "/account").redirect(t, "/account")
	other.get("/account").want(t, 200, "with a recovery code")
	if n := countEvents(t, ts, twofactor.EventStepUp); n != 2 {
		t.Fatalf("%d step-up events, want 2", n)
	}
	if n := countEvents(t, ts, account.EventName("2fa.verify")); n < 4 {
		t.Fatalf("%d 2fa.verify events, want at least 4 (sign-in, wrong, good, recovery)", n)
	}
}

// Step-up attempts count against the same per-account limit as the
// second sign-in step.
func TestStepUpLimit(t *testing.T) {
	ts := startServer(t)
	b, app, recovery := enrolled(t, ts, "wes@example.com")
	for _, bad := range []string{"", "12345", "abc def", strings.Repeat("9", 300), "１２３４５６"} {
		b.submit("/dashboard", "/login/step-up", "code", bad).want(t, 401, twofactor.MsgCode)
	}
	b.submit("/dashboard", "/login/step-up", "code", app.code()).want(t, 429, "Too many attempts")
	// The sign-in step of the same account is limited too.
	other := ts.browser()
	passwordStep(t, other, "wes@example.com", goodPassword)
	other.submit("/login/2fa", "/login/2fa", "recovery_code", recovery[0]).want(t, 429)
	// A repeated field is a bad request, not a code attempt.
	tok := b.token("/dashboard")
	b.post("/login/step-up", url.Values{"csrf_token": {tok}, "code": {"1", "2"}}).want(t, 400)
}
