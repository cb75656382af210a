package emailflow

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/session"
)

// maxEmailTokenField bounds a token field before any work; a real token has
// onetime.EncodedLen (64) characters.
const maxEmailTokenField = 128

// emailBadLinkMessage is the one answer to every unusable link.
const emailBadLinkMessage = "This link is not valid: it may have expired, been used already, or been replaced by a newer one. Ask for a new link."

// emailLinkToken trims a token field and refuses empty or oversized ones.
func emailLinkToken(v string) (string, bool) {
	v = strings.TrimSpace(v)
	return v, v != "" && len(v) <= maxEmailTokenField
}

// emailBadLink answers a token that cannot be used: 400, one message.
func (e *Feature) emailBadLink(w http.ResponseWriter, r *http.Request) {
	e.k.ErrorPage(w, r, http.StatusBadRequest, emailBadLinkMessage)
}

// emailAllowRedeem limits token redemptions per client IP. Tokens cannot be
// guessed (256-bit verifiers); this only bounds the work a client causes.
func (e *Feature) emailAllowRedeem(w http.ResponseWriter, r *http.Request) bool {
	return e.emailAllow(w, r, "email_token:ip:"+e.k.IP(r), e.limits.redeem)
}

// emailAllow consumes one event of key under l, writing the rate
// limit headers; on refusal the caller answers with s.tooMany.
func (e *Feature) emailAllow(w http.ResponseWriter, r *http.Request, key string, l ratelimit.Limit) bool {
	res, err := e.k.Limiter().Allow(r.Context(), key, l)
	if err != nil {
		kit.Logger(r.Context()).Error("rate limiter failed", "err", err)
		w.Header().Set("Retry-After", "5")
		return false
	}
	if !res.Allowed {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(res.RetryAfter), 10))
		_ = e.k.Accounts().Record(r.Context(), account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
			IP: e.k.IP(r), UserAgent: r.UserAgent(), Detail: key[:strings.IndexByte(key, ':')]})
	}
	return res.Allowed
}

// emailPostedToken reads the token field of a posted link form. It sends
// no Referer from the answer and limits redemptions per IP; on failure it
// has answered (400 or 429).
func (e *Feature) emailPostedToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	secheaders.NoReferrer(w)
	raw, ok := emailLinkToken(r.PostForm.Get("token"))
	if !ok {
		e.emailBadLink(w, r)
		return "", false
	}
	if !e.emailAllowRedeem(w, r) {
		e.k.TooMany(w, r)
		return "", false
	}
	return raw, true
}

// emailTokenPage shows a page whose form posts the token of the link it was
// opened with. The token was checked, but nothing changed: GET is safe for
// mail scanners that open links. The URL carries the token, so the page
// sends no Referer and is never cached.
func (e *Feature) emailTokenPage(w http.ResponseWriter, r *http.Request, purpose account.TokenPurpose, title, page string) {
	secheaders.NoReferrer(w)
	raw, ok := emailLinkToken(r.URL.Query().Get("token"))
	if !ok {
		e.emailBadLink(w, r)
		return
	}
	t, u, err := e.tokens.Check(r.Context(), purpose, raw)
	switch {
	case errors.Is(err, account.ErrTokenInvalid):
		e.emailBadLink(w, r)
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	p := e.k.Page(r, title)
	p.Data = web.TokenForm{Token: raw, Email: u.Email, NewEmail: t.Email}
	e.k.Show(w, r, http.StatusOK, page, p)
}

// emailAfterLink sends the browser on after a redeemed link: to target when it
// is signed in as u, else to the sign-in page.
func emailAfterLink(w http.ResponseWriter, r *http.Request, u account.User, target string) {
	if cur, ok := kit.UserFrom(r.Context()); !ok || cur.ID != u.ID {
		target = "/login"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Verification.

// VerifyForm shows the page a verification link opens: a button that
// confirms the address.
func (e *Feature) VerifyForm(w http.ResponseWriter, r *http.Request) {
	e.emailTokenPage(w, r, account.TokenVerifyEmail, "Confirm your email address", "verify_email")
}

// Verify redeems a verification link: the account's address is verified.
func (e *Feature) Verify(w http.ResponseWriter, r *http.Request) {
	raw, ok := e.emailPostedToken(w, r)
	if !ok {
		return
	}
	u, err := e.tokens.VerifyEmail(r.Context(), raw, e.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrTokenInvalid):
		e.emailBadLink(w, r)
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	kit.Flash(r, "success", "Thank you: "+u.Email+" is confirmed.")
	emailAfterLink(w, r, u, "/dashboard")
}

// Resend mails the signed-in user a new verification link.
func (e *Feature) Resend(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	if u.EmailVerified() {
		kit.Flash(r, "info", "Your email address is already confirmed.")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if !e.emailAllow(w, r, "verify_resend:user:"+strconv.FormatInt(u.ID, 10), e.limits.resend) {
		e.k.TooMany(w, r)
		return
	}
	if err := e.sendVerification(r.Context(), u); err != nil {
		e.k.Fail(w, r, err)
		return
	}
	kit.MailFlash(r, "We sent a new link to "+u.Email+". Earlier links no longer work.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// Password reset.

// ForgotForm shows the form that asks for a reset link.
func (e *Feature) ForgotForm(w http.ResponseWriter, r *http.Request) {
	e.k.Show(w, r, http.StatusOK, "forgot", e.k.Page(r, "Forgot your password?"))
}

// emailForgotMessage is the answer to every reset request.
const emailForgotMessage = "If an account uses that address, we sent it a link to choose a new password. Check your inbox; the link works once and expires soon."

// Forgot answers every well-formed address alike, after the same
// work: whether an account has the address is never told.
func (e *Feature) Forgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	p := e.k.Page(r, "Forgot your password?")
	p.Form["email"] = email
	if len(email) > kit.MaxEmailField {
		p.Errors["email"] = "Enter a valid email address."
		e.k.Show(w, r, http.StatusUnprocessableEntity, "forgot", p)
		return
	}
	if err := e.k.Guard().AllowIP(w, r, "forgot"); err != nil {
		e.k.Refuse(w, r, err, 0)
		return
	}
	res, err := e.tokens.RequestPasswordReset(r.Context(), email, e.c.ResetTTL, e.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields
		e.k.Show(w, r, http.StatusUnprocessableEntity, "forgot", p)
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	data := mail.Data{Link: e.link("/password/reset", res.Token), ExpiresIn: e.c.ResetTTL}
	if res.Send && e.allowQuietly(r.Context(), "forgot:user:", res.User.ID, e.limits.forgot) {
		// Only to the stored address, whatever case or spacing was typed.
		_ = e.send(r.Context(), mail.PasswordReset, res.User.Email, data)
	} else {
		// The same rendering and insert, rolled back: no mail.
		data.Link = e.link("/password/reset", strings.Repeat("A", 64))
		e.decoySend(r.Context(), mail.PasswordReset, "nobody@invalid", data)
	}
	kit.MailFlash(r, emailForgotMessage)
	http.Redirect(w, r, "/password/forgot", http.StatusSeeOther)
}

// ResetForm shows the page a reset link opens: a new password form.
func (e *Feature) ResetForm(w http.ResponseWriter, r *http.Request) {
	e.emailTokenPage(w, r, account.TokenResetPassword, "Choose a new password", "reset")
}

// Reset sets a new password with a reset link. It ends every
// session of the account, lifts the sign-in backoff (the owner proved
// control of the mailbox) and does not sign in: the normal sign-in, second
// factor included, follows.
func (e *Feature) Reset(w http.ResponseWriter, r *http.Request) {
	raw, ok := e.emailPostedToken(w, r)
	if !ok {
		return
	}
	pw := r.PostForm.Get("password")
	reshow := func(msg string) {
		p := e.k.Page(r, "Choose a new password")
		p.Errors["password"] = msg
		p.Data = web.TokenForm{Token: raw}
		e.k.Show(w, r, http.StatusUnprocessableEntity, "reset", p)
	}
	if len(pw) > kit.MaxPasswordField {
		reshow("Use at most 256 characters.")
		return
	}
	u, err := e.tokens.ResetPassword(r.Context(), raw, pw, e.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		reshow(verr.Fields[account.FieldPassword])
		return
	case errors.Is(err, account.ErrTokenInvalid):
		e.emailBadLink(w, r)
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	e.k.EndAllSessions(r.Context(), u.ID)
	e.k.Guard().ClearLoginDefence(r.Context(), u.Email, r)
	if sess := session.FromContext(r.Context()); sess != nil && sess.UserID() == strconv.FormatInt(u.ID, 10) {
		sess.Destroy()
	}
	e.passwordChanged(r.Context(), u, e.k.IP(r), r.UserAgent())
	kit.Flash(r, "success", "Your password was changed and every session of your account was ended. Sign in with the new password.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// Email change.

// Change starts an email change: it needs the password, mails a link
// to the new address and a notice to the old one. Whether the new address
// belongs to another account is not told here; the confirmation fails.
func (e *Feature) Change(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	pw, newEmail := r.PostForm.Get("password"), strings.TrimSpace(r.PostForm.Get("new_email"))
	p := e.k.AccountPage(r, "Account")
	p.Form["new_email"] = newEmail
	if len(newEmail) > kit.MaxEmailField || len(pw) > kit.MaxPasswordField {
		p.Errors["new_email"] = "One of the fields is far too long."
		e.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	}
	// Consumed before the password is checked, so it also bounds guesses.
	if !e.emailAllow(w, r, "email_change:user:"+strconv.FormatInt(u.ID, 10), e.limits.change) {
		e.k.TooMany(w, r)
		return
	}
	ch, err := e.tokens.RequestEmailChange(r.Context(), u.ID, pw, newEmail, e.c.VerifyTTL, e.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		// Own keys: the account page holds other forms with a password field.
		p.Errors["new_email"] = verr.Fields[account.FieldNewEmail]
		p.Errors["email_password"] = verr.Fields[account.FieldPassword]
		e.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	case errors.Is(err, account.ErrDisabled):
		e.k.ErrorPage(w, r, http.StatusForbidden, "")
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	if err := e.send(r.Context(), mail.EmailChangeConfirm, ch.NewEmail, mail.Data{Email: ch.User.Email, NewEmail: ch.NewEmail,
		Link: e.link("/account/email/confirm", ch.Token), ExpiresIn: e.c.VerifyTTL}); err != nil {
		e.k.Fail(w, r, err)
		return
	}
	_ = e.send(r.Context(), mail.EmailChangeNotice, ch.User.Email, mail.Data{NewEmail: ch.NewEmail})
	kit.MailFlash(r, "We sent a link to "+ch.NewEmail+". Your address changes once you open it.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// ConfirmForm shows the page an email change link opens.
func (e *Feature) ConfirmForm(w http.ResponseWriter, r *http.Request) {
	e.emailTokenPage(w, r, account.TokenChangeEmail, "Confirm your new email address", "email_confirm")
}

// Confirm redeems an email change link: the account it was issued
// for gets the address it was mailed to, and the old address a notice.
func (e *Feature) Confirm(w http.ResponseWriter, r *http.Request) {
	raw, ok := e.emailPostedToken(w, r)
	if !ok {
		return
	}
	before, after, err := e.tokens.ConfirmEmailChange(r.Context(), raw, e.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrEmailTaken):
		e.k.ErrorPage(w, r, http.StatusConflict, "Another account uses this address now, so it cannot become yours. Your address was not changed.")
		return
	case errors.Is(err, account.ErrTokenInvalid):
		e.emailBadLink(w, r)
		return
	case err != nil:
		e.k.Fail(w, r, err)
		return
	}
	_ = e.send(r.Context(), mail.SecurityNotice, before.Email, mail.Data{
		Title: "Your email address was changed",
		Body: "The email address of your account was changed from " + before.Email + " to " + after.Email + " on " +
			e.now().UTC().Format("2006-01-02 15:04 UTC") + ". Mail about your account now goes to the new address.",
	})
	kit.Flash(r, "success", "Your email address is now "+after.Email+".")
	emailAfterLink(w, r, after, "/account")
}

// DevOutbox lists the mail of the development outbox (dev mode only).
func (e *Feature) DevOutbox(w http.ResponseWriter, r *http.Request) {
	if !e.c.Dev {
		e.k.ErrorPage(w, r, http.StatusNotFound, "")
		return
	}
	data := web.DevOutbox{SMTP: e.smtp}
	if e.dev != nil {
		for _, m := range e.dev.List() {
			data.Messages = append(data.Messages, web.DevMail{ID: m.ID, To: m.To, Subject: m.Subject, Text: m.Text, Time: m.Time})
		}
	}
	p := e.k.Page(r, "Outbox")
	p.Data = data
	e.k.Show(w, r, http.StatusOK, "outbox", p)
}
