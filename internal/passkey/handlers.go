package passkey

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
)

// Messages shown to users.
const (
	// MsgRefused is the one answer to a passkey that was not accepted.
	MsgRefused = "That passkey was not accepted. Try again, or sign in with your password."
	// MsgConfirm asks for the password before passkeys are added or removed.
	MsgConfirm = "Enter your password (or a code from your authenticator app) first: adding or removing a passkey needs it."
)

// credentialField reads the browser's answer from the posted form.
func credentialField(r *http.Request) []byte {
	return []byte(r.PostForm.Get("credential"))
}

// LoginOptions starts a discoverable sign-in (the button, or the
// browser's autofill): POST /login/passkey/options, JSON.
func (f *Feature) LoginOptions(w http.ResponseWriter, r *http.Request) {
	f.begin(w, r, f.svc.BeginLogin)
}

// begin answers a script's request for the options of a ceremony that
// start begins with the session's binding, after the per-IP limit.
func (f *Feature) begin(w http.ResponseWriter, r *http.Request, start func(ctx context.Context, bind []byte) ([]byte, error)) {
	if err := f.limitIP(w, r); err != nil {
		f.optionsFailed(w, r, err)
		return
	}
	bind, ok := binding(r)
	if !ok {
		f.optionsFailed(w, r, errors.New("passkey: no session"))
		return
	}
	opts, err := start(r.Context(), bind)
	if err != nil {
		f.optionsFailed(w, r, err)
		return
	}
	sendOptions(w, opts)
}

// loginPage shows the sign-in page again with an error.
func (f *Feature) loginPage(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	p := f.k.Page(r, "Sign in")
	if next != kit.DefaultNext {
		p.Form["next"] = next
	}
	p.Error = msg
	f.k.Show(w, r, status, "login", p)
}

// Login signs in with a passkey: POST /login/passkey (credential, next,
// remember). A passkey counts as two factors: the session's amr is
// "hwk mfa", and an account with TOTP skips the code step.
func (f *Feature) Login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	next := kit.SafeNext(r.PostForm.Get("next"))
	resp := credentialField(r)
	release, after, err := f.gate(r, resp)
	if err != nil {
		f.k.Refuse(w, r, err, after)
		return
	}
	u, _, err := f.svc.FinishLogin(ctx, existingBinding(r), resp, f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrPasskeyRefused):
		release(false)
		f.loginPage(w, r, http.StatusUnauthorized, next, MsgRefused)
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	release(true)
	if f.c.RequireVerifiedEmail && !u.EmailVerified() {
		f.loginPage(w, r, http.StatusForbidden, next, "Please confirm your email address first: follow the link we sent you.")
		return
	}
	sess := session.FromContext(ctx)
	if sess.UserID() != "" && sess.UserID() != strconv.FormatInt(u.ID, 10) {
		sess.Destroy()
	}
	f.c.ClearPending(r)
	f.c.CompleteLogin(w, r, sess, u, r.PostForm.Get("remember") == "on", next, kit.AMRHardware, kit.AMRMFA)
}

// SecondFactorOptions starts the check of a passkey as the second step of
// a pending sign-in: POST /login/2fa/passkey/options, JSON.
func (f *Feature) SecondFactorOptions(w http.ResponseWriter, r *http.Request) {
	p, ok := f.pendingJSON(w, r)
	if !ok {
		return
	}
	f.secondFactorOptions(w, r, p.User.ID)
}

// pendingJSON is Pending for a script's request: without a pending
// sign-in it answers 409 in JSON rather than with a redirect.
func (f *Feature) pendingJSON(w http.ResponseWriter, r *http.Request) (Pending, bool) {
	probe := &discard{h: http.Header{}}
	p, ok := f.c.Pending(probe, r)
	if !ok {
		jsonError(w, http.StatusConflict, "Your sign-in took too long. Please sign in again.")
	}
	return p, ok
}

// discard is a ResponseWriter that drops what it is given.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func (f *Feature) secondFactorOptions(w http.ResponseWriter, r *http.Request, userID int64) {
	f.begin(w, r, func(ctx context.Context, bind []byte) ([]byte, error) {
		return f.svc.BeginSecondFactor(ctx, userID, bind)
	})
}

// checkSecondFactor verifies a passkey answer for u with the sign-in
// limits; on refusal it has answered with page and reports false.
func (f *Feature) checkSecondFactor(w http.ResponseWriter, r *http.Request, u account.User, page string, p *web.Page) bool {
	resp := credentialField(r)
	release, after, err := f.gate(r, resp)
	if err != nil {
		f.k.Refuse(w, r, err, after)
		return false
	}
	_, err = f.svc.FinishSecondFactor(r.Context(), u.ID, existingBinding(r), resp, f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrPasskeyRefused):
		release(false)
		p.Error = MsgRefused
		f.k.Show(w, r, http.StatusUnauthorized, page, p)
		return false
	case err != nil:
		f.k.Fail(w, r, err)
		return false
	}
	release(true)
	return true
}

// SecondFactor completes a pending sign-in with a passkey instead of a
// code: POST /login/2fa/passkey (credential).
func (f *Feature) SecondFactor(w http.ResponseWriter, r *http.Request) {
	pending, ok := f.c.Pending(w, r)
	if !ok {
		return
	}
	p := f.k.Page(r, "Two-step sign-in")
	p.Pending = true
	if !f.checkSecondFactor(w, r, pending.User, "login_2fa", p) {
		return
	}
	f.c.ClearPending(r)
	f.c.CompleteLogin(w, r, session.FromContext(r.Context()), pending.User, pending.Remember, pending.Next,
		kit.AMRPassword, kit.AMRHardware, kit.AMRMFA)
}

// StepUpOptions starts the check of a passkey as the second factor of a
// signed-in one-factor session: POST /login/step-up/passkey/options, JSON.
func (f *Feature) StepUpOptions(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	f.secondFactorOptions(w, r, u.ID)
}

// StepUp adds a passkey as the second factor of a signed-in session:
// POST /login/step-up/passkey (credential, next).
func (f *Feature) StepUp(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	next := kit.SafeNext(r.PostForm.Get("next"))
	if kit.TwoFactorDone(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := f.k.Page(r, "Confirm it is you")
	p.Data = web.StepUp{Next: next}
	if !f.checkSecondFactor(w, r, u, "login_stepup", p) {
		return
	}
	kit.AddAMR(r, kit.AMRHardware, kit.AMRMFA)
	_ = f.k.Accounts().Record(r.Context(), account.Event{Name: "login.step_up", Outcome: account.OutcomeSuccess,
		UserID: u.ID, IP: f.k.IP(r), UserAgent: r.UserAgent(), Detail: "passkey"})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// managePage returns the passkeys page of u.
func (f *Feature) managePage(r *http.Request, u account.User) (*web.Page, error) {
	keys, err := f.svc.List(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	d := web.Passkeys{Confirmed: f.confirmedRecently(r), Max: account.MaxPasskeysPerUser}
	for _, k := range keys {
		d.Items = append(d.Items, web.PasskeyItem{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt,
			LastUsedAt: k.LastUsedAt, Synced: k.Synced()})
	}
	p := f.k.Page(r, "Passkeys")
	p.Data = d
	return p, nil
}

func (f *Feature) show(w http.ResponseWriter, r *http.Request, status int, errField, msg string) {
	u, _ := kit.UserFrom(r.Context())
	p, err := f.managePage(r, u)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if errField != "" {
		p.Errors[errField] = msg
	} else {
		p.Error = msg
	}
	f.k.Show(w, r, status, "passkeys", p)
}

// Manage shows the user's passkeys: GET /account/passkeys.
func (f *Feature) Manage(w http.ResponseWriter, r *http.Request) {
	f.show(w, r, http.StatusOK, "", "")
}

// Confirm records that the user re-entered the password (or a second
// factor), for ConfirmWindow: POST /account/passkeys/confirm (password |
// code). Attempts meet the sign-in limits of the account.
func (f *Feature) Confirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, _ := kit.UserFrom(ctx)
	pw, code := r.PostForm.Get("password"), strings.TrimSpace(r.PostForm.Get("code"))
	if len(pw) > kit.MaxPasswordField || len(code) > account.MaxCodeInputBytes {
		f.show(w, r, http.StatusUnprocessableEntity, "password", "That is not correct.")
		return
	}
	var ok bool
	switch {
	case pw != "":
		release, after, err := f.k.Guard().LoginGate(ctx, r, u.Email)
		if err != nil {
			f.k.Refuse(w, r, err, after)
			return
		}
		_, err = f.k.Accounts().VerifyPassword(ctx, u.ID, pw)
		if err == nil || errors.Is(err, account.ErrInvalidCredentials) {
			release(err == nil)
		}
		switch {
		case err == nil:
			ok = true
		case !errors.Is(err, account.ErrInvalidCredentials):
			f.k.Fail(w, r, err)
			return
		}
	case code != "":
		on, err := f.c.TwoFactorEnabled(ctx, u)
		if err != nil {
			f.k.Fail(w, r, err)
			return
		}
		if !on {
			break // no second factor: only the password can confirm
		}
		err = f.c.CheckSecondFactor(ctx, u, code, f.k.Meta(r))
		var lim *kit.SecondFactorLimitedError
		switch {
		case errors.As(err, &lim):
			f.k.TooManyAfter(w, r, lim.RetryAfter)
			return
		case errors.Is(err, kit.ErrSecondFactor):
		case err != nil:
			f.k.Fail(w, r, err)
			return
		default:
			ok = true
		}
	}
	if !ok {
		f.show(w, r, http.StatusUnauthorized, "password", "That is not correct.")
		return
	}
	session.FromContext(ctx).Put(confirmedKey, strconv.FormatInt(f.c.Now().UnixMicro(), 10))
	http.Redirect(w, r, "/account/passkeys#add", http.StatusSeeOther)
}

// AddOptions starts adding a passkey: POST /account/passkeys/options,
// JSON. It needs a recent confirmation.
func (f *Feature) AddOptions(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	if !f.confirmedRecently(r) {
		jsonError(w, http.StatusForbidden, MsgConfirm)
		return
	}
	f.begin(w, r, func(ctx context.Context, bind []byte) ([]byte, error) {
		return f.svc.BeginRegistration(ctx, u.ID, bind)
	})
}

// Add stores a new passkey: POST /account/passkeys (credential, name). It
// needs a recent confirmation; the owner gets a notice by mail.
func (f *Feature) Add(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	if !f.confirmedRecently(r) {
		f.show(w, r, http.StatusForbidden, "", MsgConfirm)
		return
	}
	name := r.PostForm.Get("name")
	if len(name) > 4*account.MaxPasskeyName {
		f.show(w, r, http.StatusUnprocessableEntity, "name", "That name is too long.")
		return
	}
	p, err := f.svc.FinishRegistration(r.Context(), u.ID, existingBinding(r), name, credentialField(r), f.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrPasskeyRefused):
		f.show(w, r, http.StatusUnprocessableEntity, "", "The passkey could not be added. Please try again.")
		return
	case errors.Is(err, account.ErrPasskeyLimit):
		f.show(w, r, http.StatusConflict, "", "You have as many passkeys as an account may have. Remove one first.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	kit.Flash(r, "success", "Passkey “"+p.Name+"” added. You can now sign in with it.")
	http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
}

// target returns the signed-in user and the passkey id of the path; for a
// malformed id it has answered 404.
func (f *Feature) target(w http.ResponseWriter, r *http.Request) (account.User, int64, bool) {
	u, _ := kit.UserFrom(r.Context())
	id, ok := kit.PathID(r)
	if !ok {
		f.k.ErrorPage(w, r, http.StatusNotFound, "")
	}
	return u, id, ok
}

// Rename renames a passkey: POST /account/passkeys/{id}/rename (name).
func (f *Feature) Rename(w http.ResponseWriter, r *http.Request) {
	u, id, ok := f.target(w, r)
	if !ok {
		return
	}
	name := r.PostForm.Get("name")
	if len(name) > 4*account.MaxPasskeyName {
		f.show(w, r, http.StatusUnprocessableEntity, "name", "That name is too long.")
		return
	}
	if err := f.svc.Rename(r.Context(), u.ID, id, name, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	kit.Flash(r, "success", "Passkey renamed.")
	http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
}

// Remove removes a passkey: POST /account/passkeys/{id}/remove. It needs a
// recent confirmation; the owner gets a notice by mail.
func (f *Feature) Remove(w http.ResponseWriter, r *http.Request) {
	u, id, ok := f.target(w, r)
	if !ok {
		return
	}
	if !f.confirmedRecently(r) {
		f.show(w, r, http.StatusForbidden, "", MsgConfirm)
		return
	}
	if err := f.svc.Remove(r.Context(), u.ID, id, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	kit.Flash(r, "success", "Passkey removed.")
	http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
}
