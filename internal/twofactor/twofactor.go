// Package twofactor is the two-factor sign-in feature: the second sign-in
// step (/login/2fa), step-up for signed-in one-factor sessions
// (/login/step-up), TOTP setup and recovery codes (/account/2fa...) and the
// admin reset, with per-account limits on attempts. It imports the kit,
// internal/account, internal/web and ring 1; never another feature or
// internal/app.
package twofactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// The rules (secrets sealed at rest, replay protection, single-use recovery
// codes, audit) live in account.TwoFactor; this file wires them into the
// sign-in flow and adds the per-account limits on attempts. The handlers
// are in handlers.go, step-up in stepup.go.

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

// Config is what New needs; every field is required.
type Config struct {
	// Kit is the server's page kit.
	Kit *kit.Kit
	// Service holds the two-factor rules and storage.
	Service *account.TwoFactor
	// Now is the clock of pending sign-ins.
	Now func() time.Time
	// Log is the feature's logger.
	Log *slog.Logger
	// CompleteLogin signs the session in once every factor was checked
	// (the sign-in core's last step), recording amr, and redirects to next.
	CompleteLogin func(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string, amr ...string)
	// Notify mails the account's owner a security notice of kind
	// ("twofactor_enabled", "twofactor_disabled").
	Notify func(ctx context.Context, u account.User, kind string)
}

// Feature is the two-factor feature of one server.
type Feature struct {
	k     *kit.Kit
	svc   *account.TwoFactor
	now   func() time.Time
	log   *slog.Logger
	c     Config
	trips *ratelimit.Memory // throttles audit records of refusals
}

// New builds the feature.
func New(c Config) (*Feature, error) {
	if err := twoFactorBackoff.Validate(); err != nil {
		return nil, err
	}
	return &Feature{k: c.Kit, svc: c.Service, now: c.Now, log: c.Log, c: c,
		trips: ratelimit.NewMemory(ratelimit.WithMaxKeys(1 << 14))}, nil
}

// Service is the two-factor service the feature uses.
func (f *Feature) Service() *account.TwoFactor { return f.svc }

// Needs reports whether sign-in needs a second step for u.
func (f *Feature) Needs(ctx context.Context, u account.User) (bool, error) {
	return f.svc.Enabled(ctx, u.ID)
}

// Start parks the sign-in until the second factor is given:
// the session gets a new id and holds only the pending sign-in, with no
// user, so every page but /login/2fa and /logout treats it as signed out.
func (f *Feature) Start(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
	if sess.UserID() != "" {
		// Someone else was signed in on this browser: end that first.
		sess.Destroy()
	}
	sess.Renew()
	putPending(sess, pendingSignIn{UserID: u.ID, Remember: remember, Next: next, Since: f.now()})
	http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
}

// Check verifies a TOTP or recovery code for u (used by the
// API's totp_code), with the same replay protection and limits as the
// sign-in page. It returns nil when u has no second factor; an error
// matching kit.ErrSecondFactor (401) for any refused code, kit.ErrSecondFactorRequired
// when code is empty; a *kit.SecondFactorLimitedError matching
// kit.ErrSecondFactorLimited (429 with its RetryAfter); anything else is a
// backend failure (503).
// It is a kit.SecondFactorCheck.
func (f *Feature) Check(ctx context.Context, u account.User, code string, m account.Meta) error {
	on, err := f.Needs(ctx, u)
	if err != nil || !on {
		return err
	}
	release, after, ok := f.gate(ctx, u.ID, m)
	if !ok {
		return &kit.SecondFactorLimitedError{RetryAfter: after}
	}
	_, err = f.svc.Verify(ctx, u.ID, code, m)
	switch {
	case err == nil:
		release(true)
		return nil
	case errors.Is(err, account.ErrTwoFactorCode):
		release(false)
		if code == "" {
			return kit.ErrSecondFactorRequired
		}
		return fmt.Errorf("%w: %w", kit.ErrSecondFactor, err)
	case errors.Is(err, account.ErrTwoFactorOff):
		return nil // turned off meanwhile
	}
	return err
}

// Reset turns off a user's second factor (admin action, or the
// operator with actorID 0), ends every session and token of the user, and
// sends them a notice. It is audited (2fa.reset with the actor).
func (f *Feature) Reset(ctx context.Context, u account.User, actorID int64, m account.Meta) error {
	wasOn, err := f.svc.Reset(ctx, u.ID, actorID, m)
	if err != nil {
		return err
	}
	if _, err := f.k.Accounts().RevokeSessions(ctx, u.ID, m); err != nil {
		return err
	}
	f.k.EndAllSessions(ctx, u.ID)
	// A fresh start: the limits on codes do not carry over to a new setup.
	key := twoFactorKey(u.ID)
	_ = f.k.Limiter().Reset(ctx, key)
	_ = f.k.Backoff().Reset(ctx, key)
	if wasOn {
		f.c.Notify(ctx, u, "twofactor_disabled")
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
func (f *Feature) gate(ctx context.Context, userID int64, m account.Meta) (release func(success bool), retryAfter time.Duration, ok bool) {
	limiter, backoff := f.k.Limiter(), f.k.Backoff()
	key := twoFactorKey(userID)
	st, err := backoff.Check(ctx, key, twoFactorBackoff)
	if err != nil {
		f.log.Error("two-factor backoff check failed", "err", err)
		return nil, 5 * time.Second, false
	}
	if st.Locked {
		f.refused(ctx, userID, m, "twofactor_backoff", "two-factor attempts paused after repeated failures")
		return nil, st.RetryAfter, false
	}
	res, err := limiter.Allow(ctx, key, twoFactorLimit)
	if err != nil {
		f.log.Error("two-factor rate limiter failed", "err", err)
		return nil, 5 * time.Second, false
	}
	if !res.Allowed {
		f.refused(ctx, userID, m, "twofactor_account", "two-factor attempts per account")
		return nil, res.RetryAfter, false
	}
	return func(success bool) {
		ctx := context.WithoutCancel(ctx)
		if success {
			_ = backoff.Reset(ctx, key)
			_ = limiter.Reset(ctx, key)
			return
		}
		st, err := backoff.Fail(ctx, key, twoFactorBackoff)
		if err != nil {
			f.log.Error("two-factor backoff failed", "err", err)
			return
		}
		if st.Locked {
			_ = f.k.Accounts().Record(ctx, account.Event{Name: "login.locked", Outcome: account.OutcomeDenied,
				UserID: userID, IP: m.IP, UserAgent: m.UserAgent,
				Detail: "two-factor attempts paused for " + st.RetryAfter.Round(time.Second).String() + " after " + strconv.Itoa(st.Failures) + " failed attempts"})
		}
	}, 0, true
}

// refused counts a refusal in the metrics and, at most once a minute per
// account and limit, in the audit trail.
func (f *Feature) refused(ctx context.Context, userID int64, m account.Meta, metric, detail string) {
	f.k.RateLimited(metric)
	if res, err := f.trips.Allow(ctx, metric+":"+strconv.FormatInt(userID, 10), twoFactorTripLimit); err != nil || !res.Allowed {
		return
	}
	_ = f.k.Accounts().Record(context.WithoutCancel(ctx), account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
		UserID: userID, IP: m.IP, UserAgent: m.UserAgent, Detail: detail})
}

// The pending sign-in, kept in the (anonymous) session between the
// password step and the second factor.
const (
	pendingUserKey     = "2fa_user"
	pendingRememberKey = "2fa_remember"
	pendingNextKey     = "2fa_next"
	pendingSinceKey    = "2fa_since"

	// PendingTTL is how long the second step may take.
	PendingTTL = 5 * time.Minute
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
	return !now.Before(p.Since.Add(PendingTTL)) || now.Before(p.Since.Add(-time.Minute))
}
