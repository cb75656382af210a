package twofactor

import (
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
)

// Step-up: a signed-in session that used one factor (a password) gives its
// second, for a page or an application that needs both (forward-auth and
// OpenID Connect send the browser here). The checks, limits and audit
// events are those of the second sign-in step.

// EventStepUp is the audit event of a session that gave its second factor
// after signing in.
const EventStepUp account.EventName = "login.step_up"

// stepUpNoFactor is the message for an account without a second factor.
const stepUpNoFactor = "Your account has no second factor. Set up two-factor sign-in first."

// stepUpPage prepares the step-up page for next.
func (f *Feature) stepUpPage(r *http.Request, next string, noFactor bool) *web.Page {
	p := f.k.Page(r, "Confirm it is you")
	p.Data = web.StepUp{Next: next, NoSecondFactor: noFactor}
	return p
}

// noSecondFactor refuses a step-up by an account without a second factor
// (409), with the page that says how to set one up.
func (f *Feature) noSecondFactor(w http.ResponseWriter, r *http.Request, next string) {
	p := f.stepUpPage(r, next, true)
	p.Error = stepUpNoFactor
	f.k.Show(w, r, http.StatusConflict, "login_stepup", p)
}

// stepUpStart handles what GET and POST share: an anonymous visitor is sent
// to sign in (then back to next), a session that already used two factors
// goes on to next. It reports whether the handler continues, with the
// signed-in user and the safe next.
func (f *Feature) stepUpStart(w http.ResponseWriter, r *http.Request, next string) (account.User, string, bool) {
	next = kit.SafeNext(next)
	u, ok := kit.UserFrom(r.Context())
	if !ok {
		target := "/login"
		if next != kit.DefaultNext {
			target += "?next=" + url.QueryEscape(next)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return u, next, false
	}
	if kit.TwoFactorDone(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return u, next, false
	}
	return u, next, true
}

// StepUpForm asks a signed-in one-factor session for its second factor
// (GET /login/step-up?next=URL). An account without a second factor is
// told to set one up.
func (f *Feature) StepUpForm(w http.ResponseWriter, r *http.Request) {
	u, next, ok := f.stepUpStart(w, r, r.Form.Get("next"))
	if !ok {
		return
	}
	on, err := f.Needs(r.Context(), u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	f.k.Show(w, r, http.StatusOK, "login_stepup", f.stepUpPage(r, next, !on))
}

// StepUp checks the second factor (code or recovery_code) of a signed-in
// session under the per-account limits of the sign-in step; on success the
// session's amr gains "otp" and "mfa", the session gets a new id and the
// browser goes on to the safe next. An account without a second factor
// gets 409 and the page saying how to set one up.
func (f *Feature) StepUp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, next, ok := f.stepUpStart(w, r, r.PostForm.Get("next"))
	if !ok {
		return
	}
	on, err := f.Needs(ctx, u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if !on {
		f.noSecondFactor(w, r, next)
		return
	}
	// Turned off meanwhile (an admin reset): nothing to step up with.
	res, ok := f.checkPosted(w, r, u.ID, "login_stepup", f.stepUpPage(r, next, false), func() { f.noSecondFactor(w, r, next) })
	if !ok {
		return
	}
	if sess := session.FromContext(ctx); sess != nil {
		// A change of privilege: a new session id, the same contents.
		sess.Renew()
	}
	kit.AddAMR(r, kit.AMROTP, kit.AMRMFA)
	m := f.k.Meta(r)
	_ = f.k.Accounts().Record(ctx, account.Event{Name: EventStepUp, Outcome: account.OutcomeSuccess,
		UserID: u.ID, IP: m.IP, UserAgent: m.UserAgent, Detail: "method " + string(res.Method)})
	recoveryNotice(r, res, "You confirmed")
	http.Redirect(w, r, next, http.StatusSeeOther)
}
