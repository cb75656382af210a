package app

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/session"
)

// Field length limits, checked before any work is done.
const (
	maxEmailField    = 320
	maxPasswordField = 1024 // the policy allows 256 characters; NFKC may grow them
	maxNameField     = 256
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.show(w, r, http.StatusOK, "home", s.page(r, "Welcome"))
}

func (s *Server) registerForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := userFrom(r.Context()); ok {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	s.show(w, r, http.StatusOK, "register", s.page(r, "Create an account"))
}

// register creates an account. An address that already has one gets exactly
// the same answer (and its owner a notice by mail), so the form cannot be
// used to find out who has an account.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, maxFormBytes); err != nil {
		s.formError(w, r, err)
		return
	}
	in := account.RegisterInput{
		Email:       strings.TrimSpace(r.PostForm.Get("email")),
		Password:    r.PostForm.Get("password"),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
	}
	p := s.page(r, "Create an account")
	p.Form["email"], p.Form["display_name"] = in.Email, in.DisplayName
	if len(in.Email) > maxEmailField || len(in.Password) > maxPasswordField || len(in.DisplayName) > maxNameField {
		p.Errors["email"] = "One of the fields is far too long."
		s.show(w, r, http.StatusUnprocessableEntity, "register", p)
		return
	}
	if err := s.d.allowIP(w, r, "register"); err != nil {
		s.refuse(w, r, err, 0)
		return
	}
	reg, err := s.d.accounts.Register(r.Context(), in, s.meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields
		s.show(w, r, http.StatusUnprocessableEntity, "register", p)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.d.afterRegister(r.Context(), reg)
	flash(r, "success", "Thank you. If this address is new, your account is ready: check your inbox for a link to confirm it, and sign in.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, maxFormBytes); err != nil {
		s.formError(w, r, err)
		return
	}
	next := kit.SafeNext(r.Form.Get("next"))
	if _, ok := userFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := s.page(r, "Sign in")
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	s.show(w, r, http.StatusOK, "login", p)
}

// genericLoginError is the one message for every failed sign-in.
const genericLoginError = "The email address or password is not correct."

// login checks the credentials. Every failure (unknown email, wrong password,
// disabled account) answers 401 with one message after the same work.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, maxFormBytes); err != nil {
		s.formError(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	remember := r.PostForm.Get("remember") == "on"
	next := kit.SafeNext(r.PostForm.Get("next"))
	p := s.page(r, "Sign in")
	p.Form["email"] = email
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	if remember {
		p.Form["remember"] = "on"
	}
	if len(email) > maxEmailField || len(pw) > maxPasswordField {
		p.Error = genericLoginError
		s.show(w, r, http.StatusUnauthorized, "login", p)
		return
	}
	release, retryAfter, err := s.d.loginGate(r.Context(), r, email)
	if err != nil {
		s.refuse(w, r, err, retryAfter)
		return
	}
	u, err := s.d.accounts.Authenticate(r.Context(), email, pw, s.meta(r))
	if err == nil || errors.Is(err, account.ErrInvalidCredentials) {
		// A busy hasher or a lost connection is not a wrong password: it
		// neither feeds the backoff nor counts as a failure.
		release(err == nil)
	}
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		p.Error = genericLoginError
		s.show(w, r, http.StatusUnauthorized, "login", p)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if s.cfg.UnverifiedLogin == "deny" && !u.EmailVerified() {
		p.Error = "Please confirm your email address first: follow the link we sent you."
		s.show(w, r, http.StatusForbidden, "login", p)
		return
	}
	sess := session.FromContext(r.Context())
	need2FA, err := s.d.needsSecondFactor(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if need2FA {
		s.startSecondFactor(w, r, sess, u, remember, next)
		return
	}
	s.completeLogin(w, r, sess, u, remember, next)
}

// completeLogin turns the session into a signed-in one with a fresh id.
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
	sess.Login(strconv.FormatInt(u.ID, 10), remember)
	s.d.afterLogin(r.Context(), r, u)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends this session on the server and asks the browser to forget it.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := session.FromContext(r.Context())
	if u, ok := userFrom(r.Context()); ok {
		_ = s.d.accounts.Record(r.Context(), account.Event{Name: account.EventLogout, Outcome: account.OutcomeSuccess,
			UserID: u.ID, IP: s.d.clientIP(r), UserAgent: r.UserAgent()})
		if s.oidc != nil {
			// Signing out of Gatehouse signs out of every application.
			if err := s.oidc.SignedOut(r.Context(), u.ID); err != nil {
				s.unavailable(w, r, err)
				return
			}
		}
	}
	if sess != nil {
		sess.Destroy()
	}
	secheaders.ClearSiteData(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// tooMany answers 429 for a refused rate limit.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	s.errorPage(w, r, http.StatusTooManyRequests, "")
}
