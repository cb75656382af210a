package app

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/totp"
)

// Messages of the two-factor pages. Every refused code gets the same one,
// whatever was wrong with it.
const (
	twoFactorCodeError     = "That code is not correct. Use the newest code from your app, or one of your recovery codes."
	twoFactorPasswordError = "The password is not correct."
	twoFactorDisableError  = "The password or the code is not correct."
	twoFactorConfirmError  = "That code does not match. Check that the time on your device is right and type the newest code."
	twoFactorExpired       = "Your sign-in took too long. Please sign in again."
	twoFactorSignInAgain   = "Please sign in again."
	twoFactorQRSize        = 256
)

// loginTwoFactorForm shows the second sign-in step to a visitor whose
// password was accepted.
func (s *Server) loginTwoFactorForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := userFrom(r.Context()); ok {
		http.Redirect(w, r, kit.DefaultNext, http.StatusSeeOther)
		return
	}
	sess := session.FromContext(r.Context())
	if _, ok := s.livePending(w, r, sess); !ok {
		return
	}
	s.show(w, r, http.StatusOK, "login_2fa", s.pendingPage(r))
}

func (s *Server) pendingPage(r *http.Request) *web.Page {
	p := s.page(r, "Two-step sign-in")
	p.Pending = true
	return p
}

// livePending returns the session's pending sign-in if there is one that
// has not expired. Otherwise it clears what is left, sends the visitor to
// the sign-in page and reports false.
func (s *Server) livePending(w http.ResponseWriter, r *http.Request, sess *session.Session) (pendingSignIn, bool) {
	p, ok := readPending(sess)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return pendingSignIn{}, false
	}
	if p.expired(s.now()) {
		clearPending(sess)
		flash(r, "error", twoFactorExpired)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return pendingSignIn{}, false
	}
	return p, true
}

// loginTwoFactor checks the second factor (a code, or a recovery code) of a
// pending sign-in and completes it.
func (s *Server) loginTwoFactor(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, ok := userFrom(ctx); ok {
		http.Redirect(w, r, kit.DefaultNext, http.StatusSeeOther)
		return
	}
	sess := session.FromContext(ctx)
	pending, ok := s.livePending(w, r, sess)
	if !ok {
		return
	}
	u, err := s.d.accounts.UserByID(ctx, pending.UserID)
	switch {
	case errors.Is(err, account.ErrNotFound):
		s.cancelPending(w, r, sess)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case !u.SessionValid(pending.Since):
		// Disabled, or signed out everywhere (a password change) since
		// the password step.
		s.cancelPending(w, r, sess)
		return
	}
	input := r.PostForm.Get("code")
	if input == "" {
		input = r.PostForm.Get("recovery_code")
	}
	m := s.meta(r)
	p := s.pendingPage(r)
	release, after, ok := s.d.tf.gate(ctx, u.ID, m)
	if !ok {
		s.twoFactorTooMany(w, r, after, "login_2fa", p)
		return
	}
	res, err := s.d.tf.svc.Verify(ctx, u.ID, input, m)
	switch {
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		p.Error = twoFactorCodeError
		s.show(w, r, http.StatusUnauthorized, "login_2fa", p)
		return
	case errors.Is(err, account.ErrTwoFactorOff):
		// Reset by an admin meanwhile: start again.
		s.cancelPending(w, r, sess)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	release(true)
	clearPending(sess)
	if res.Method == account.TwoFactorRecoveryCode {
		msg := "You signed in with a recovery code; it cannot be used again. " + strconv.Itoa(res.RecoveryCodesLeft) + " left."
		if res.RecoveryCodesLeft <= 3 {
			msg += " Make a new set on the two-factor page."
		}
		flash(r, "info", msg)
	}
	s.completeLogin(w, r, sess, u, pending.Remember, pending.Next)
}

// cancelPending drops a pending sign-in that can no longer complete.
func (s *Server) cancelPending(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	clearPending(sess)
	flash(r, "error", twoFactorSignInAgain)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// twoFactorTooMany answers 429 with Retry-After, on the form's own page.
func (s *Server) twoFactorTooMany(w http.ResponseWriter, r *http.Request, after time.Duration, page string, p *web.Page) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	p.Error = "Too many attempts. Please wait a little and try again."
	s.show(w, r, http.StatusTooManyRequests, page, p)
}

// twoFactorStatusPage prepares the /account/2fa page for u.
func (s *Server) twoFactorStatusPage(r *http.Request, u account.User) (*web.Page, error) {
	st, err := s.d.tf.svc.Status(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	p := s.page(r, "Two-factor sign-in")
	p.Data = web.TwoFactorStatus{Enabled: st.Enabled, EnabledAt: st.EnabledAt, RecoveryCodesLeft: st.RecoveryCodesLeft}
	return p, nil
}

func (s *Server) twoFactorPage(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	p, err := s.twoFactorStatusPage(r, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.show(w, r, http.StatusOK, "twofactor", p)
}

// twoFactorRefused shows the two-factor page again with a message.
func (s *Server) twoFactorRefused(w http.ResponseWriter, r *http.Request, status int, field, msg string) {
	u, _ := userFrom(r.Context())
	p, err := s.twoFactorStatusPage(r, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if field == "" {
		p.Error = msg
	} else {
		p.Errors[field] = msg
	}
	s.show(w, r, status, "twofactor", p)
}

// twoFactorGate applies the per-account limit on a two-factor form of the
// signed-in user; it answers 429 itself when refused.
func (s *Server) twoFactorGate(w http.ResponseWriter, r *http.Request) (account.User, func(bool), bool) {
	u, _ := userFrom(r.Context())
	release, after, ok := s.d.tf.gate(r.Context(), u.ID, s.meta(r))
	if !ok {
		p, err := s.twoFactorStatusPage(r, u)
		if err != nil {
			s.fail(w, r, err)
			return u, nil, false
		}
		s.twoFactorTooMany(w, r, after, "twofactor", p)
	}
	return u, release, ok
}

// backToTwoFactor sends the user back to the two-factor page with a message.
func (s *Server) backToTwoFactor(w http.ResponseWriter, r *http.Request, kind, msg string) {
	flash(r, kind, msg)
	http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
}

// twoFactorSetup makes a new secret after checking the password and shows
// it as a QR code and as text.
func (s *Server) twoFactorSetup(w http.ResponseWriter, r *http.Request) {
	u, release, ok := s.twoFactorGate(w, r)
	if !ok {
		return
	}
	key, err := s.d.tf.svc.Begin(r.Context(), u.ID, r.PostForm.Get("password"), s.meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled):
		release(false)
		s.twoFactorRefused(w, r, http.StatusUnauthorized, "setup_password", twoFactorPasswordError)
		return
	case errors.Is(err, account.ErrTwoFactorOn):
		release(true)
		s.backToTwoFactor(w, r, "info", "Two-factor sign-in is already on.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	release(true)
	s.showSetup(w, r, http.StatusOK, key, "")
}

// showSetup renders the setup page for key: the QR code is made here and
// sent inline (a data: URI), so the secret never leaves this response.
func (s *Server) showSetup(w http.ResponseWriter, r *http.Request, status int, key totp.Key, codeError string) {
	png, err := totp.QRCodePNG(key.URI(), twoFactorQRSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.page(r, "Set up two-factor sign-in")
	if codeError != "" {
		p.Errors["code"] = codeError
	}
	p.Data = web.TwoFactorSetup{
		// Our own PNG bytes, base64: a safe URL for an img src.
		QRCode:  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Secret:  totp.FormatSecret(key.Secret),
		Issuer:  key.Issuer,
		Account: key.AccountName,
	}
	clear(key.Secret)
	s.show(w, r, status, "twofactor_setup", p)
}

// twoFactorConfirm turns TOTP on with the first code and shows the
// recovery codes, once.
func (s *Server) twoFactorConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, release, ok := s.twoFactorGate(w, r)
	if !ok {
		return
	}
	codes, err := s.d.tf.svc.Confirm(ctx, u.ID, r.PostForm.Get("code"), s.meta(r))
	switch {
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		key, kerr := s.d.tf.svc.PendingKey(ctx, u.ID)
		if errors.Is(kerr, account.ErrTwoFactorNoSetup) {
			s.backToTwoFactor(w, r, "error", "The setup was replaced or finished elsewhere. Please start again.")
			return
		}
		if kerr != nil {
			s.fail(w, r, kerr)
			return
		}
		s.showSetup(w, r, http.StatusUnprocessableEntity, key, twoFactorConfirmError)
		return
	case errors.Is(err, account.ErrTwoFactorNoSetup):
		s.backToTwoFactor(w, r, "error", "There is no setup to confirm. Please start again.")
		return
	case errors.Is(err, account.ErrTwoFactorOn):
		s.backToTwoFactor(w, r, "info", "Two-factor sign-in is already on.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	release(true)
	s.d.securityNotice(ctx, u, "twofactor_enabled")
	p := s.page(r, "Your recovery codes")
	p.Data = web.TwoFactorCodes{Codes: codes, JustEnabled: true}
	s.show(w, r, http.StatusOK, "twofactor_codes", p)
}

// twoFactorRecoveryCodes makes a new set of recovery codes after checking
// the password; the old ones stop working.
func (s *Server) twoFactorRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	u, release, ok := s.twoFactorGate(w, r)
	if !ok {
		return
	}
	codes, err := s.d.tf.svc.RegenerateRecoveryCodes(r.Context(), u.ID, r.PostForm.Get("password"), s.meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled):
		release(false)
		s.twoFactorRefused(w, r, http.StatusUnauthorized, "codes_password", twoFactorPasswordError)
		return
	case errors.Is(err, account.ErrTwoFactorOff):
		s.backToTwoFactor(w, r, "info", "Two-factor sign-in is off: there are no recovery codes to replace.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	release(true)
	p := s.page(r, "Your recovery codes")
	p.Data = web.TwoFactorCodes{Codes: codes}
	s.show(w, r, http.StatusOK, "twofactor_codes", p)
}

// twoFactorDisable turns two-factor sign-in off, given the password and a
// code, and ends every other session of the user.
func (s *Server) twoFactorDisable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, release, ok := s.twoFactorGate(w, r)
	if !ok {
		return
	}
	err := s.d.tf.svc.Disable(ctx, u.ID, r.PostForm.Get("password"), r.PostForm.Get("code"), s.meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled), errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		s.twoFactorRefused(w, r, http.StatusUnauthorized, "", twoFactorDisableError)
		return
	case errors.Is(err, account.ErrTwoFactorOff):
		s.backToTwoFactor(w, r, "info", "Two-factor sign-in was already off.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	release(true)
	// Whoever else holds a session may be the reason it is turned off:
	// every other session and token ends; this one gets a fresh id.
	sess := session.FromContext(ctx)
	if _, err := s.d.accounts.RevokeSessions(ctx, u.ID, s.meta(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := s.d.sessions.RevokeAll(ctx, strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		logger(ctx).Warn("revoke other sessions", "err", err)
	}
	s.d.securityNotice(ctx, u, "twofactor_disabled")
	s.backToTwoFactor(w, r, "success", "Two-factor sign-in is off. You were signed out everywhere else.")
}

// adminResetTwoFactor turns off another user's second factor, for a user
// who lost both the authenticator and the recovery codes.
func (s *Server) adminResetTwoFactor(w http.ResponseWriter, r *http.Request) {
	admin, _ := userFrom(r.Context())
	id, ok := pathID(r)
	if !ok {
		s.errorPage(w, r, http.StatusNotFound, "")
		return
	}
	if id == admin.ID {
		s.errorPage(w, r, http.StatusForbidden, "Turn off your own two-factor sign-in on your account page: it needs your password and a code.")
		return
	}
	u, err := s.d.accounts.UserByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.resetSecondFactor(r.Context(), u, admin.ID, s.meta(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	flash(r, "success", "Two-factor sign-in was reset for "+u.Email+", and their sessions were ended.")
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}
