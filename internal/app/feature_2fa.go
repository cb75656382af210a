package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// Two-factor sign-in (TOTP and recovery codes).
//
// The rules (secrets sealed at rest, replay protection, single-use recovery
// codes, audit) live in account.TwoFactor; this file wires them into the
// sign-in flow and adds the per-account limits on attempts. The handlers
// are in twofactor_handlers.go.

// Limits on second-factor attempts. Every attempt that checks a code or
// re-checks the password on a two-factor form consumes one, before any
// checking, so concurrent guesses cannot overrun it; a success resets both.
var (
	// twoFactorLimit allows 5 attempts per account at once, then one a
	// minute.
	twoFactorLimit = ratelimit.Limit{Rate: 5, Period: 5 * time.Minute}
	// twoFactorBackoff pauses an account's attempts after 5 failures in a
	// row: 1 minute, then 2, 4, ... up to an hour; forgotten after a day.
	twoFactorBackoff = ratelimit.BackoffPolicy{Free: 5, Base: time.Minute, Max: time.Hour, Forget: 24 * time.Hour}
	// twoFactorTripLimit throttles the audit records of refusals, so a
	// flood of refused attempts cannot become a flood of writes.
	twoFactorTripLimit = ratelimit.PerMinute(1)
)

// Errors of checkSecondFactor, for the JSON API.
var (
	// errSecondFactor: the code was not accepted (401, one generic
	// message). It is also what a missing code gives.
	errSecondFactor = errors.New("app: second-factor code not accepted")
	// errSecondFactorRequired: no code was given but the account needs
	// one. errors.Is(err, errSecondFactor) holds too.
	errSecondFactorRequired = fmt.Errorf("%w: a code is required", errSecondFactor)
	// errSecondFactorLimited: too many attempts (429); the error is a
	// *secondFactorLimitedError carrying the Retry-After.
	errSecondFactorLimited = errors.New("app: too many second-factor attempts")
)

// secondFactorLimitedError is a refusal by the per-account limit.
type secondFactorLimitedError struct{ RetryAfter time.Duration }

func (e *secondFactorLimitedError) Error() string {
	return errSecondFactorLimited.Error() + "; retry after " + e.RetryAfter.Round(time.Second).String()
}

// Is makes errors.Is(err, errSecondFactorLimited) hold.
func (e *secondFactorLimitedError) Is(target error) bool { return target == errSecondFactorLimited }

// twoFactor holds what the second-factor flows need.
type twoFactor struct {
	d     *deps
	svc   *account.TwoFactor
	trips *ratelimit.Memory // throttles audit records of refusals
}

func newTwoFactor(d *deps) (*twoFactor, error) {
	if err := twoFactorBackoff.Validate(); err != nil {
		return nil, err
	}
	svc := account.NewTwoFactor(account.TwoFactorConfig{
		Accounts: d.accounts, Store: d.db.TwoFactor(), Sealer: keyring.NewAEAD(d.keys, "totp-secret"),
		Issuer: "Gatehouse", Now: d.now,
	})
	return &twoFactor{d: d, svc: svc, trips: ratelimit.NewMemory(ratelimit.WithMaxKeys(1 << 14))}, nil
}

// routes2FA adds the second-factor routes. auth wraps handlers that need a
// signed-in user.
func (s *Server) routes2FA(pages *http.ServeMux, auth func(http.Handler) http.Handler) {
	// The second sign-in step is reached without a signed-in user: the
	// session only holds the pending sign-in.
	pages.Handle("GET /login/2fa", http.HandlerFunc(s.loginTwoFactorForm))
	pages.Handle("POST /login/2fa", http.HandlerFunc(s.loginTwoFactor))

	pages.Handle("GET /account/2fa", auth(http.HandlerFunc(s.twoFactorPage)))
	pages.Handle("POST /account/2fa/totp/setup", auth(http.HandlerFunc(s.twoFactorSetup)))
	pages.Handle("POST /account/2fa/totp/confirm", auth(http.HandlerFunc(s.twoFactorConfirm)))
	pages.Handle("POST /account/2fa/recovery-codes", auth(http.HandlerFunc(s.twoFactorRecoveryCodes)))
	pages.Handle("POST /account/2fa/disable", auth(http.HandlerFunc(s.twoFactorDisable)))

	pages.Handle("POST /admin/users/{id}/reset-2fa", s.requireRole(account.RoleAdmin, http.HandlerFunc(s.adminResetTwoFactor)))
}

// needsSecondFactor reports whether sign-in needs a second step.
func (d *deps) needsSecondFactor(ctx context.Context, u account.User) (bool, error) {
	return d.tf.svc.Enabled(ctx, u.ID)
}

// startSecondFactor parks the sign-in until the second factor is given:
// the session gets a new id and holds only the pending sign-in, with no
// user, so every page but /login/2fa and /logout treats it as signed out.
func (s *Server) startSecondFactor(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
	if sess.UserID() != "" {
		// Someone else was signed in on this browser: end that first.
		sess.Destroy()
	}
	sess.Renew()
	putPending(sess, pendingSignIn{UserID: u.ID, Remember: remember, Next: next, Since: s.now()})
	http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
}

// checkSecondFactor verifies a TOTP or recovery code for u (used by the
// API's totp_code), with the same replay protection and limits as the
// sign-in page. It returns nil when u has no second factor; an error
// matching errSecondFactor (401) for any refused code, errSecondFactorRequired
// when code is empty; a *secondFactorLimitedError matching
// errSecondFactorLimited (429 with its RetryAfter); anything else is a
// backend failure (503).
func (d *deps) checkSecondFactor(ctx context.Context, u account.User, code string, m account.Meta) error {
	on, err := d.needsSecondFactor(ctx, u)
	if err != nil || !on {
		return err
	}
	release, after, ok := d.tf.gate(ctx, u.ID, m)
	if !ok {
		return &secondFactorLimitedError{RetryAfter: after}
	}
	_, err = d.tf.svc.Verify(ctx, u.ID, code, m)
	switch {
	case err == nil:
		release(true)
		return nil
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		if code == "" {
			return errSecondFactorRequired
		}
		return fmt.Errorf("%w: %w", errSecondFactor, err)
	case errors.Is(err, account.ErrTwoFactorOff):
		return nil // turned off meanwhile
	}
	return err
}

// resetSecondFactor turns off a user's second factor (admin action, or the
// operator with actorID 0), ends every session and token of the user, and
// sends them a notice. It is audited (2fa.reset with the actor).
func (d *deps) resetSecondFactor(ctx context.Context, u account.User, actorID int64, m account.Meta) error {
	wasOn, err := d.tf.svc.Reset(ctx, u.ID, actorID, m)
	if err != nil {
		return err
	}
	if _, err := d.accounts.RevokeSessions(ctx, u.ID, m); err != nil {
		return err
	}
	d.endAllSessions(ctx, u.ID)
	// A fresh start: the limits on codes do not carry over to a new setup.
	key := twoFactorKey(u.ID)
	_ = d.guard.limiter.Reset(ctx, key)
	_ = d.guard.backoff.Reset(ctx, key)
	if wasOn {
		d.securityNotice(ctx, u, "twofactor_disabled")
	}
	return nil
}

// twoFactorKey is the limiter and backoff key of an account's attempts.
func twoFactorKey(userID int64) string { return "2fa:acct:" + strconv.FormatInt(userID, 10) }

// gate decides whether an attempt at a second-factor code (or a password
// re-check on a two-factor form) for the account may be checked at all.
// When ok, release must be called with the outcome of a check of the
// secret (true resets the account's failures and limit); it need not be
// called when no secret was checked. When refused, retryAfter says when
// to come back; a limiter failure refuses too (fail closed).
func (tf *twoFactor) gate(ctx context.Context, userID int64, m account.Meta) (release func(success bool), retryAfter time.Duration, ok bool) {
	d, g := tf.d, tf.d.guard
	key := twoFactorKey(userID)
	st, err := g.backoff.Check(ctx, key, twoFactorBackoff)
	if err != nil {
		d.log.Error("two-factor backoff check failed", "err", err)
		return nil, 5 * time.Second, false
	}
	if st.Locked {
		tf.refused(ctx, userID, m, "twofactor_backoff", "two-factor attempts paused after repeated failures")
		return nil, st.RetryAfter, false
	}
	res, err := g.limiter.Allow(ctx, key, twoFactorLimit)
	if err != nil {
		d.log.Error("two-factor rate limiter failed", "err", err)
		return nil, 5 * time.Second, false
	}
	if !res.Allowed {
		tf.refused(ctx, userID, m, "twofactor_account", "two-factor attempts per account")
		return nil, res.RetryAfter, false
	}
	return func(success bool) {
		ctx := context.WithoutCancel(ctx)
		if success {
			_ = g.backoff.Reset(ctx, key)
			_ = g.limiter.Reset(ctx, key)
			return
		}
		st, err := g.backoff.Fail(ctx, key, twoFactorBackoff)
		if err != nil {
			d.log.Error("two-factor backoff failed", "err", err)
			return
		}
		if st.Locked {
			_ = d.accounts.Record(ctx, account.Event{Name: "login.locked", Outcome: account.OutcomeDenied,
				UserID: userID, IP: m.IP, UserAgent: m.UserAgent,
				Detail: "two-factor attempts paused for " + st.RetryAfter.Round(time.Second).String() + " after " + strconv.Itoa(st.Failures) + " failed attempts"})
		}
	}, 0, true
}

// refused counts a refusal in the metrics and, at most once a minute per
// account and limit, in the audit trail.
func (tf *twoFactor) refused(ctx context.Context, userID int64, m account.Meta, metric, detail string) {
	tf.d.metrics.rateLimited(metric)
	if res, err := tf.trips.Allow(ctx, metric+":"+strconv.FormatInt(userID, 10), twoFactorTripLimit); err != nil || !res.Allowed {
		return
	}
	_ = tf.d.accounts.Record(context.WithoutCancel(ctx), account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
		UserID: userID, IP: m.IP, UserAgent: m.UserAgent, Detail: detail})
}

// The pending sign-in, kept in the (anonymous) session between the
// password step and the second factor.
const (
	pendingUserKey     = "2fa_user"
	pendingRememberKey = "2fa_remember"
	pendingNextKey     = "2fa_next"
	pendingSinceKey    = "2fa_since"

	// pendingTTL is how long the second step may take.
	pendingTTL = 5 * time.Minute
)

// pendingSignIn is a sign-in waiting for its second factor.
type pendingSignIn struct {
	UserID   int64
	Remember bool
	Next     string
	// Since is when the password was accepted (to the microsecond, as the
	// user's sessions cut-off is kept).
	Since time.Time
}

func putPending(sess *session.Session, p pendingSignIn) {
	sess.Put(pendingUserKey, strconv.FormatInt(p.UserID, 10))
	remember := ""
	if p.Remember {
		remember = "1"
	}
	sess.Put(pendingRememberKey, remember)
	sess.Put(pendingNextKey, kit.SafeNext(p.Next))
	sess.Put(pendingSinceKey, strconv.FormatInt(p.Since.UnixMicro(), 10))
}

// readPending returns the session's pending sign-in, if it holds a well
// formed one.
func readPending(sess *session.Session) (pendingSignIn, bool) {
	if sess == nil || sess.UserID() != "" {
		return pendingSignIn{}, false
	}
	id, err := strconv.ParseInt(sess.Get(pendingUserKey), 10, 64)
	if err != nil || id <= 0 {
		return pendingSignIn{}, false
	}
	since, err := strconv.ParseInt(sess.Get(pendingSinceKey), 10, 64)
	if err != nil {
		return pendingSignIn{}, false
	}
	return pendingSignIn{UserID: id, Remember: sess.Get(pendingRememberKey) == "1",
		Next: kit.SafeNext(sess.Get(pendingNextKey)), Since: time.UnixMicro(since)}, true
}

// clearPending removes the pending sign-in from the session.
func clearPending(sess *session.Session) {
	for _, k := range []string{pendingUserKey, pendingRememberKey, pendingNextKey, pendingSinceKey} {
		sess.Remove(k)
	}
}

// expired reports whether the pending sign-in is too old at now (or
// claims to start in the future, beyond a little clock difference between
// instances).
func (p pendingSignIn) expired(now time.Time) bool {
	return !now.Before(p.Since.Add(pendingTTL)) || now.Before(p.Since.Add(-time.Minute))
}
