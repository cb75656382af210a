// Package passkey is the passkeys feature: signing in with a passkey
// (discoverable credentials, a button and the browser's autofill), a
// passkey as the second factor at /login/2fa and /login/step-up, and
// managing passkeys on the account pages. The ceremonies' rules live in
// account.Passkeys; this package turns requests into calls to it. It
// imports the kit, internal/account, internal/web and ring 1; never
// another feature or internal/app.
package passkey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/session"
)

// Session keys of the feature.
const (
	// bindKey holds the random value that binds ceremonies to the session.
	bindKey = "passkey_bind"
	// confirmedKey holds when the user last re-entered a password or a
	// second factor on the passkeys page (unix microseconds).
	confirmedKey = "passkey_confirmed"
)

// ConfirmWindow is how long re-entering the password (or a second factor)
// lets the user add or remove passkeys.
const ConfirmWindow = 5 * time.Minute

// Pending is a sign-in waiting for its second factor (the password was
// accepted), as the two-factor feature keeps it.
type Pending struct {
	User     account.User
	Remember bool
	Next     string
}

// Config is what New needs. Every field but RequireVerifiedEmail is
// required.
type Config struct {
	// Kit is the server's page kit.
	Kit *kit.Kit
	// Service holds the passkey rules and storage.
	Service *account.Passkeys
	// CompleteLogin signs the session in (the sign-in core's last step),
	// recording amr, and redirects to next.
	CompleteLogin func(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string, amr ...string)
	// Pending returns the session's sign-in waiting for its second factor.
	// When there is none (or it can no longer complete) it has answered
	// (a redirect to /login) and reports false.
	Pending func(w http.ResponseWriter, r *http.Request) (Pending, bool)
	// ClearPending drops the session's pending sign-in.
	ClearPending func(r *http.Request)
	// CheckSecondFactor verifies a TOTP or recovery code (the two-factor
	// feature's check, with its limits), to confirm it is the user.
	CheckSecondFactor kit.SecondFactorCheck
	// TwoFactorEnabled reports whether the user has TOTP on.
	TwoFactorEnabled func(ctx context.Context, u account.User) (bool, error)
	// RequireVerifiedEmail refuses sign-in to an account whose address is
	// not confirmed (the UNVERIFIED_LOGIN=deny setting).
	RequireVerifiedEmail bool
	// Now is the clock.
	Now func() time.Time
	// Log is the feature's logger.
	Log *slog.Logger
}

// Feature is the passkeys feature of one server.
type Feature struct {
	k   *kit.Kit
	svc *account.Passkeys
	c   Config
}

// New builds the feature; it panics when a field is missing, since that is
// a wiring bug.
func New(c Config) *Feature {
	if c.Kit == nil || c.Service == nil || c.CompleteLogin == nil || c.Pending == nil || c.ClearPending == nil ||
		c.CheckSecondFactor == nil || c.TwoFactorEnabled == nil || c.Now == nil || c.Log == nil {
		panic("passkey: New needs every Config field")
	}
	return &Feature{k: c.Kit, svc: c.Service, c: c}
}

// binding returns the session's ceremony binding, made on first use.
func binding(r *http.Request) ([]byte, bool) {
	sess := session.FromContext(r.Context())
	if sess == nil {
		return nil, false
	}
	if b, err := base64.RawURLEncoding.DecodeString(sess.Get(bindKey)); err == nil && len(b) == 32 {
		return b, true
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, false
	}
	sess.Put(bindKey, base64.RawURLEncoding.EncodeToString(b))
	return b, true
}

// existingBinding returns the session's binding without making one.
func existingBinding(r *http.Request) []byte {
	sess := session.FromContext(r.Context())
	if sess == nil {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(sess.Get(bindKey))
	if err != nil || len(b) != 32 {
		return nil
	}
	return b
}

// jsonError answers a script's request with status and a message for the
// user.
func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// sendOptions answers a script's request with the ceremony options.
func sendOptions(w http.ResponseWriter, opts []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(opts)
}

// optionsFailed maps an error of a begin step to a JSON answer.
func (f *Feature) optionsFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, kit.ErrLimited):
		jsonError(w, http.StatusTooManyRequests, "Too many attempts. Please wait a little and try again.")
	case errors.Is(err, account.ErrPasskeyNone):
		jsonError(w, http.StatusConflict, "Your account has no passkey yet.")
	case errors.Is(err, account.ErrPasskeyLimit):
		jsonError(w, http.StatusConflict, "You have as many passkeys as an account may have. Remove one first.")
	case errors.Is(err, context.Canceled):
	default:
		kit.Logger(r.Context()).Error("passkey options", "err", err)
		w.Header().Set("Retry-After", "5")
		jsonError(w, http.StatusServiceUnavailable, "The service is briefly unavailable. Please try again in a moment.")
	}
}

// limitIP consumes one request of the per-IP limit of passkey ceremonies
// (the sign-in per-IP limit, in its own bucket).
func (f *Feature) limitIP(w http.ResponseWriter, r *http.Request) error {
	return f.k.Guard().AllowIP(w, r, "passkey")
}

// gate applies the sign-in limits and backoff to an answer, per
// credential and per IP: the same limits as a password sign-in, with the
// credential id in the place of the email address.
func (f *Feature) gate(r *http.Request, response []byte) (func(bool), time.Duration, error) {
	cred := account.PasskeyCredentialKey(response)
	if cred == "" {
		cred = "malformed"
	}
	return f.k.Guard().LoginGate(r.Context(), r, "passkey:"+cred)
}

// confirmedRecently reports whether the user re-entered a password or a
// second factor (or signed in) within ConfirmWindow.
func (f *Feature) confirmedRecently(r *http.Request) bool {
	sess := session.FromContext(r.Context())
	if sess == nil {
		return false
	}
	now := f.c.Now()
	if at := sess.AuthAt(); !at.IsZero() && now.Sub(at) < ConfirmWindow && !now.Before(at) {
		return true
	}
	us, err := strconv.ParseInt(sess.Get(confirmedKey), 10, 64)
	if err != nil {
		return false
	}
	at := time.UnixMicro(us)
	return now.Sub(at) < ConfirmWindow && !now.Before(at)
}
