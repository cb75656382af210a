package twofactor

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
	// MsgCode answers a refused code or recovery code.
	MsgCode = "That code is not correct. Use the newest code from your app, or one of your recovery codes."
	// MsgPassword answers a wrong password on a two-factor form.
	MsgPassword = "The password is not correct."
	// MsgDisable answers a refused attempt to turn two-factor sign-in off.
	MsgDisable = "The password or the code is not correct."
	// MsgConfirm answers a first code that does not match the new key.
	MsgConfirm = "That code does not match. Check that the time on your device is right and type the newest code."
	// MsgExpired is flashed when the second step took too long.
	MsgExpired = "Your sign-in took too long. Please sign in again."
	// MsgSignInAgain is flashed when a pending sign-in can no longer complete.
	MsgSignInAgain  = "Please sign in again."
	twoFactorQRSize = 256
)

// LoginForm shows the second sign-in step to a visitor whose
// password was accepted.
func (f *Feature) LoginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := kit.UserFrom(r.Context()); ok {
		http.Redirect(w, r, kit.DefaultNext, http.StatusSeeOther)
		return
	}
	sess := session.FromContext(r.Context())
	if _, ok := f.livePending(w, r, sess); !ok {
		return
	}
	f.k.Show(w, r, http.StatusOK, "login_2fa", f.pendingPage(r))
}

func (f *Feature) pendingPage(r *http.Request) *web.Page {
	p := f.k.Page(r, "Two-factor sign-in")
	p.Pending = true
	return p
}

// livePending returns the session's pending sign-in if there is one that
// has not expired. Otherwise it clears what is left, sends the visitor to
// the sign-in page and reports false.
func (f *Feature) livePending(w http.ResponseWriter, r *http.Request, sess *session.Session) (pendingSignIn, bool) {
	p, ok := readPending(sess)
	p.Next = f.k.Next(p.Next)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return pendingSignIn{}, false
	}
	if p.expired(f.now()) {
		clearPending(sess)
		kit.Flash(r, "error", MsgExpired)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return pendingSignIn{}, false
	}
	return p, true
}

// Login checks the second factor (a code, or a recovery code) of a
// pending sign-in and completes it.
func (f *Feature) Login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, ok := kit.UserFrom(ctx); ok {
		http.Redirect(w, r, kit.DefaultNext, http.StatusSeeOther)
		return
	}
	sess := session.FromContext(ctx)
	pending, ok := f.livePending(w, r, sess)
	if !ok {
		return
	}
	u, err := f.k.Accounts().UserByID(ctx, pending.UserID)
	switch {
	case errors.Is(err, account.ErrNotFound):
		f.cancelPending(w, r, sess)
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	case !u.SessionValid(pending.Since):
		// Disabled, or signed out everywhere (a password change) since
		// the password step.
		f.cancelPending(w, r, sess)
		return
	}
	p := f.pendingPage(r)
	// Reset by an admin meanwhile: start again.
	res, ok := f.checkPosted(w, r, u.ID, "login_2fa", p, func() { f.cancelPending(w, r, sess) })
	if !ok {
		return
	}
	clearPending(sess)
	recoveryNotice(r, res, "You signed in")
	f.c.CompleteLogin(w, r, sess, u, pending.Remember, pending.Next, kit.AMRPassword, kit.AMROTP, kit.AMRMFA)
}

// checkPosted checks the code (or recovery_code) of a posted form for the
// account, under its limits. When it reports !ok it has answered: 429 when
// limited and 401 for a code not accepted (on page p), off() when the
// second factor was turned off meanwhile, 503 for a backend failure.
func (f *Feature) checkPosted(w http.ResponseWriter, r *http.Request, userID int64, page string, p *web.Page, off func()) (res account.TwoFactorResult, ok bool) {
	input := r.PostForm.Get("code")
	if input == "" {
		input = r.PostForm.Get("recovery_code")
	}
	m := f.k.Meta(r)
	release, after, allowed := f.gate(r.Context(), userID, m)
	if !allowed {
		f.twoFactorTooMany(w, r, after, page, p)
		return res, false
	}
	res, err := f.svc.Verify(r.Context(), userID, input, m)
	switch {
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		p.Error = MsgCode
		f.k.Show(w, r, http.StatusUnauthorized, page, p)
		return res, false
	case errors.Is(err, account.ErrTwoFactorOff):
		off()
		return res, false
	case err != nil:
		f.k.Fail(w, r, err)
		return res, false
	}
	release(true)
	return res, true
}

// cancelPending drops a pending sign-in that can no longer complete.
func (f *Feature) cancelPending(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	clearPending(sess)
	kit.Flash(r, "error", MsgSignInAgain)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// twoFactorTooMany answers 429 with Retry-After, on the form's own page.
func (f *Feature) twoFactorTooMany(w http.ResponseWriter, r *http.Request, after time.Duration, page string, p *web.Page) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	p.Error = "Too many attempts. Please wait a little and try again."
	f.k.Show(w, r, http.StatusTooManyRequests, page, p)
}

// twoFactorStatusPage prepares the /account/2fa page for u.
func (f *Feature) twoFactorStatusPage(r *http.Request, u account.User) (*web.Page, error) {
	st, err := f.svc.Status(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	p := f.k.Page(r, "Two-factor sign-in")
	p.Data = web.TwoFactorStatus{Enabled: st.Enabled, EnabledAt: st.EnabledAt, RecoveryCodesLeft: st.RecoveryCodesLeft}
	return p, nil
}

// Status shows the two-factor page (/account/2fa): on or off, and the
// forms to set it up, replace the recovery codes or turn it off.
func (f *Feature) Status(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	p, err := f.twoFactorStatusPage(r, u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	f.k.Show(w, r, http.StatusOK, "twofactor", p)
}

// twoFactorRefused shows the two-factor page again with a message.
func (f *Feature) twoFactorRefused(w http.ResponseWriter, r *http.Request, status int, field, msg string) {
	u, _ := kit.UserFrom(r.Context())
	p, err := f.twoFactorStatusPage(r, u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if field == "" {
		p.Error = msg
	} else {
		p.Errors[field] = msg
	}
	f.k.Show(w, r, status, "twofactor", p)
}

// twoFactorGate applies the per-account limit on a two-factor form of the
// signed-in user; it answers 429 itself when refused.
func (f *Feature) twoFactorGate(w http.ResponseWriter, r *http.Request) (account.User, func(bool), bool) {
	u, _ := kit.UserFrom(r.Context())
	release, after, ok := f.gate(r.Context(), u.ID, f.k.Meta(r))
	if !ok {
		p, err := f.twoFactorStatusPage(r, u)
		if err != nil {
			f.k.Fail(w, r, err)
			return u, nil, false
		}
		f.twoFactorTooMany(w, r, after, "twofactor", p)
	}
	return u, release, ok
}

// backToTwoFactor sends the user back to the two-factor page with a message.
func (f *Feature) backToTwoFactor(w http.ResponseWriter, r *http.Request, kind, msg string) {
	kit.Flash(r, kind, msg)
	http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
}

// Setup makes a new secret after checking the password and shows
// it as a QR code and as text.
func (f *Feature) Setup(w http.ResponseWriter, r *http.Request) {
	u, release, ok := f.twoFactorGate(w, r)
	if !ok {
		return
	}
	key, err := f.svc.Begin(r.Context(), u.ID, r.PostForm.Get("password"), f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled):
		release(false)
		f.twoFactorRefused(w, r, http.StatusUnauthorized, "setup_password", MsgPassword)
		return
	case errors.Is(err, account.ErrTwoFactorOn):
		release(true)
		f.backToTwoFactor(w, r, "info", "Two-factor sign-in is already on.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	release(true)
	f.showSetup(w, r, http.StatusOK, key, "")
}

// showSetup renders the setup page for key: the QR code is made here and
// sent inline (a data: URI), so the secret never leaves this response.
func (f *Feature) showSetup(w http.ResponseWriter, r *http.Request, status int, key totp.Key, codeError string) {
	png, err := totp.QRCodePNG(key.URI(), twoFactorQRSize)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	p := f.k.Page(r, "Set up two-factor sign-in")
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
	f.k.Show(w, r, status, "twofactor_setup", p)
}

// Confirm turns TOTP on with the first code and shows the
// recovery codes, once.
func (f *Feature) Confirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, release, ok := f.twoFactorGate(w, r)
	if !ok {
		return
	}
	codes, err := f.svc.Confirm(ctx, u.ID, r.PostForm.Get("code"), f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		key, kerr := f.svc.PendingKey(ctx, u.ID)
		if errors.Is(kerr, account.ErrTwoFactorNoSetup) {
			f.backToTwoFactor(w, r, "error", "The setup was replaced or finished elsewhere. Please start again.")
			return
		}
		if kerr != nil {
			f.k.Fail(w, r, kerr)
			return
		}
		f.showSetup(w, r, http.StatusUnprocessableEntity, key, MsgConfirm)
		return
	case errors.Is(err, account.ErrTwoFactorNoSetup):
		f.backToTwoFactor(w, r, "error", "There is no setup to confirm. Please start again.")
		return
	case errors.Is(err, account.ErrTwoFactorOn):
		f.backToTwoFactor(w, r, "info", "Two-factor sign-in is already on.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	release(true)
	f.c.Notify(ctx, u, "twofactor_enabled")
	p := f.k.Page(r, "Your recovery codes")
	p.Data = web.TwoFactorCodes{Codes: codes, JustEnabled: true}
	f.k.Show(w, r, http.StatusOK, "twofactor_codes", p)
}

// RecoveryCodes makes a new set of recovery codes after checking
// the password; the old ones stop working.
func (f *Feature) RecoveryCodes(w http.ResponseWriter, r *http.Request) {
	u, release, ok := f.twoFactorGate(w, r)
	if !ok {
		return
	}
	codes, err := f.svc.RegenerateRecoveryCodes(r.Context(), u.ID, r.PostForm.Get("password"), f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled):
		release(false)
		f.twoFactorRefused(w, r, http.StatusUnauthorized, "codes_password", MsgPassword)
		return
	case errors.Is(err, account.ErrTwoFactorOff):
		f.backToTwoFactor(w, r, "info", "Two-factor sign-in is off: there are no recovery codes to replace.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	release(true)
	p := f.k.Page(r, "Your recovery codes")
	p.Data = web.TwoFactorCodes{Codes: codes}
	f.k.Show(w, r, http.StatusOK, "twofactor_codes", p)
}

// Disable turns two-factor sign-in off, given the password and a
// code, and ends every other session of the user.
func (f *Feature) Disable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, release, ok := f.twoFactorGate(w, r)
	if !ok {
		return
	}
	err := f.svc.Disable(ctx, u.ID, r.PostForm.Get("password"), r.PostForm.Get("code"), f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrDisabled), errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		f.twoFactorRefused(w, r, http.StatusUnauthorized, "", MsgDisable)
		return
	case errors.Is(err, account.ErrTwoFactorOff):
		f.backToTwoFactor(w, r, "info", "Two-factor sign-in was already off.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	release(true)
	// Whoever else holds a session may be the reason it is turned off:
	// every other session and token ends; this one gets a fresh id.
	sess := session.FromContext(ctx)
	if _, err := f.k.Accounts().RevokeSessions(ctx, u.ID, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := f.k.Sessions().RevokeAll(ctx, strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		kit.Logger(ctx).Warn("revoke other sessions", "err", err)
	}
	f.c.Notify(ctx, u, "twofactor_disabled")
	f.backToTwoFactor(w, r, "success", "Two-factor sign-in is off. You were signed out everywhere else.")
}

// AdminReset turns off another user's second factor, for a user
// who lost both the authenticator and the recovery codes.
func (f *Feature) AdminReset(w http.ResponseWriter, r *http.Request) {
	admin, _ := kit.UserFrom(r.Context())
	id, ok := kit.PathID(r)
	if !ok {
		f.k.ErrorPage(w, r, http.StatusNotFound, "")
		return
	}
	if id == admin.ID {
		f.k.ErrorPage(w, r, http.StatusForbidden, "Turn off your own two-factor sign-in on your account page: it needs your password and a code.")
		return
	}
	u, err := f.k.Accounts().UserByID(r.Context(), id)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if err := f.Reset(r.Context(), u, admin.ID, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	kit.Flash(r, "success", "Two-factor sign-in was reset for "+u.Email+", and their sessions were ended.")
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// recoveryNotice tells a user who used a recovery code that it is spent and
// how many are left (did is "You signed in", say).
func recoveryNotice(r *http.Request, res account.TwoFactorResult, did string) {
	if res.Method != account.TwoFactorRecoveryCode {
		return
	}
	msg := did + " with a recovery code; it cannot be used again. " + strconv.Itoa(res.RecoveryCodesLeft) + " left."
	if res.RecoveryCodesLeft <= 3 {
		msg += " Make a new set on the two-factor page."
	}
	kit.Flash(r, "info", msg)
}
