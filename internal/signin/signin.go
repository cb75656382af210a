// Package signin is the sign-in core: the home page, registration, sign-in
// and sign-out, the dashboard and account pages, password change and the
// user's sessions. Other features join in through the functions of Config
// (second factor, mail). It imports the kit, internal/account,
// internal/web and ring 1; never another feature or internal/app.
package signin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/session"
)

// Config is what New needs; every function is required.
type Config struct {
	// Kit is the server's page kit.
	Kit *kit.Kit
	// UnverifiedLogin is "deny" to refuse sign-in before the address is
	// verified (UNVERIFIED_LOGIN).
	UnverifiedLogin string
	// NeedsSecondFactor reports whether u signs in with a second factor.
	NeedsSecondFactor func(ctx context.Context, u account.User) (bool, error)
	// StartSecondFactor parks a sign-in whose password was accepted until
	// the second factor is given, and redirects to that step.
	StartSecondFactor func(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string)
	// AfterRegister runs after a registration that passed validation.
	AfterRegister func(ctx context.Context, reg account.Registration)
	// AfterLogin runs after a sign-in with every factor.
	AfterLogin func(ctx context.Context, r *http.Request, u account.User)
	// AfterPasswordChange runs after the user changed the password.
	AfterPasswordChange func(ctx context.Context, u account.User)
}

// Feature serves the sign-in core.
type Feature struct {
	k *kit.Kit
	c Config
}

// New builds the feature.
func New(c Config) *Feature { return &Feature{k: c.Kit, c: c} }

// Home is the landing page.
func (f *Feature) Home(w http.ResponseWriter, r *http.Request) {
	f.k.Show(w, r, http.StatusOK, "home", f.k.Page(r, "Welcome"))
}

// RegisterForm shows the registration form.
func (f *Feature) RegisterForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := kit.UserFrom(r.Context()); ok {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	p := f.k.Page(r, "Create an account")
	if next := f.k.Next(r.URL.Query().Get("next")); next != kit.DefaultNext {
		p.Form["next"] = next // carried to the sign-in that follows
	}
	f.k.Show(w, r, http.StatusOK, "register", p)
}

// Register creates an account. An address that already has one gets exactly
// the same answer (and its owner a notice by mail), so the form cannot be
// used to find out who has an account.
func (f *Feature) Register(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	in := account.RegisterInput{
		Email:       strings.TrimSpace(r.PostForm.Get("email")),
		Password:    r.PostForm.Get("password"),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
	}
	p := f.k.Page(r, "Create an account")
	p.Form["email"], p.Form["display_name"] = in.Email, in.DisplayName
	next := f.k.Next(r.PostForm.Get("next"))
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	if len(in.Email) > kit.MaxEmailField || len(in.Password) > kit.MaxPasswordField || len(in.DisplayName) > kit.MaxNameField {
		p.Errors["email"] = "One of the fields is far too long."
		f.k.Show(w, r, http.StatusUnprocessableEntity, "register", p)
		return
	}
	if err := f.k.Guard().AllowIP(w, r, "register"); err != nil {
		f.k.Refuse(w, r, err, 0)
		return
	}
	reg, err := f.k.Accounts().Register(r.Context(), in, f.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields
		f.k.Show(w, r, http.StatusUnprocessableEntity, "register", p)
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	f.c.AfterRegister(r.Context(), reg)
	kit.MailFlash(r, "Thank you. If this address is new, your account is ready: check your inbox for a link to confirm it, and sign in.")
	if sess := session.FromContext(r.Context()); sess != nil {
		// The sign-in form starts with the address just typed.
		sess.Put(registeredEmailKey, in.Email)
	}
	target := "/login"
	if next != kit.DefaultNext {
		target += "?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// LoginForm shows the sign-in form.
func (f *Feature) LoginForm(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	next := f.k.Next(r.Form.Get("next"))
	if _, ok := kit.UserFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := f.k.Page(r, "Sign in")
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	if sess := session.FromContext(r.Context()); sess != nil {
		if email := sess.Pop(registeredEmailKey); len(email) <= kit.MaxEmailField {
			p.Form["email"] = email
		}
	}
	// An OpenID Connect login_hint arrives as ?email= (internal/oidc).
	if e := r.Form.Get("email"); p.Form["email"] == "" && e != "" && len(e) <= kit.MaxEmailField {
		p.Form["email"] = e
	}
	f.k.Show(w, r, http.StatusOK, "login", p)
}

// registeredEmailKey keeps, in the session, the address just registered
// for the sign-in form that follows.
const registeredEmailKey = "registered_email"

// GenericLoginError is the one message for every failed sign-in.
const GenericLoginError = "The email address or password is not correct."

// Login checks the credentials. Every failure (unknown email, wrong password,
// disabled account) answers 401 with one message after the same work.
func (f *Feature) Login(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	remember := r.PostForm.Get("remember") == "on"
	next := f.k.Next(r.Form.Get("next")) // the body's, else the query's (a form posted to its own URL)
	p := f.k.Page(r, "Sign in")
	p.Form["email"] = email
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	if remember {
		p.Form["remember"] = "on"
	}
	if email == "" || pw == "" {
		// Nothing to check yet: say which field is missing (422), without
		// spending an attempt.
		if email == "" {
			p.Errors["email"] = "Enter your email address."
		}
		if pw == "" {
			p.Errors["password"] = "Enter your password."
		}
		f.k.Show(w, r, http.StatusUnprocessableEntity, "login", p)
		return
	}
	if len(email) > kit.MaxEmailField || len(pw) > kit.MaxPasswordField {
		p.Error = GenericLoginError
		f.k.Show(w, r, http.StatusUnauthorized, "login", p)
		return
	}
	release, retryAfter, err := f.k.Guard().LoginGate(r.Context(), r, email)
	if err != nil {
		f.k.Refuse(w, r, err, retryAfter)
		return
	}
	u, err := f.k.Accounts().Authenticate(r.Context(), email, pw, f.k.Meta(r))
	if err == nil || errors.Is(err, account.ErrInvalidCredentials) {
		// A busy hasher or a lost connection is not a wrong password: it
		// neither feeds the backoff nor counts as a failure.
		release(err == nil)
	}
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		p.Error = GenericLoginError
		f.k.Show(w, r, http.StatusUnauthorized, "login", p)
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	if f.c.UnverifiedLogin == "deny" && !u.EmailVerified() {
		p.Error = "Please confirm your email address first: follow the link we sent you."
		f.k.Show(w, r, http.StatusForbidden, "login", p)
		return
	}
	sess := session.FromContext(r.Context())
	need2FA, err := f.c.NeedsSecondFactor(r.Context(), u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if need2FA {
		f.c.StartSecondFactor(w, r, sess, u, remember, next)
		return
	}
	f.CompleteLogin(w, r, sess, u, remember, next, kit.AMRPassword)
}

// CompleteLogin turns the session into a signed-in one with a fresh id,
// recording how it signed in (amr, RFC 8176 values).
func (f *Feature) CompleteLogin(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string, amr ...string) {
	sess.Login(strconv.FormatInt(u.ID, 10), remember)
	kit.SetAMR(r, amr...)
	f.c.AfterLogin(r.Context(), r, u)
	f.k.GoNext(w, r, next)
}

// Logout ends this session on the server and asks the browser to forget it.
func (f *Feature) Logout(w http.ResponseWriter, r *http.Request) {
	sess := session.FromContext(r.Context())
	if u, ok := kit.UserFrom(r.Context()); ok {
		_ = f.k.Accounts().Record(r.Context(), account.Event{Name: account.EventLogout, Outcome: account.OutcomeSuccess,
			UserID: u.ID, IP: f.k.IP(r), UserAgent: r.UserAgent()})
	}
	if sess != nil {
		sess.Destroy()
	}
	secheaders.ClearSiteData(w)
	target := "/"
	if next := f.k.Next(r.PostForm.Get("next")); next != kit.DefaultNext {
		target = next // a local page, or a protected app (forward-auth)
	}
	f.k.GoNext(w, r, target)
}
