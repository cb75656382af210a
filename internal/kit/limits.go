package kit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// Guard holds the abuse defences features share: the limiter and backoff
// stores (memory, or Redis when instances share one), the per-IP limits of
// credential forms and the sign-in defences. internal/app implements it.
type Guard interface {
	// Limiter is the shared rate limiter.
	Limiter() ratelimit.Backend
	// Backoff is the shared backoff store.
	Backoff() ratelimit.Backoff
	// AllowIP consumes one request of the named per-IP limit ("register",
	// "forgot"). On refusal it has set Retry-After and returns ErrLimited,
	// or ErrLimiterDown when the limiter cannot be reached.
	AllowIP(w http.ResponseWriter, r *http.Request, name string) error
	// LoginGate decides whether a sign-in attempt for email may verify a
	// password at all (ErrLimited, ErrLimiterDown otherwise, with when to
	// come back). When it may, release must be called with the outcome.
	LoginGate(ctx context.Context, r *http.Request, email string) (release func(success bool), retryAfter time.Duration, err error)
	// ClearLoginDefence forgets an account's sign-in failures and limits,
	// after its owner proved control of the mailbox; from are the requests
	// the proof came with.
	ClearLoginDefence(ctx context.Context, email string, from ...*http.Request)
}

// Why an attempt was not let through: refused by a limit (429), or the
// limiter itself is unreachable (503, failing closed).
var (
	ErrLimited     = errors.New("rate limited")
	ErrLimiterDown = errors.New("rate limiter unavailable")
)

// Guard returns the shared abuse defences.
func (k *Kit) Guard() Guard { return k.cfg.Guard }

// Limiter is the shared rate limiter (Guard().Limiter()).
func (k *Kit) Limiter() ratelimit.Backend { return k.cfg.Guard.Limiter() }

// Backoff is the shared backoff store (Guard().Backoff()).
func (k *Kit) Backoff() ratelimit.Backoff { return k.cfg.Guard.Backoff() }

// Refuse answers an attempt a limit did not let through: 429 for
// ErrLimited, 503 for ErrLimiterDown (failing closed), with Retry-After.
func (k *Kit) Refuse(w http.ResponseWriter, r *http.Request, err error, after time.Duration) {
	if after > 0 || w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	}
	status := http.StatusTooManyRequests
	if errors.Is(err, ErrLimiterDown) {
		status = http.StatusServiceUnavailable
	}
	k.ErrorPage(w, r, status, "")
}

// TooMany answers 429, with Retry-After 60 unless one is set already.
func (k *Kit) TooMany(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	k.ErrorPage(w, r, http.StatusTooManyRequests, "")
}

// TooManyAfter answers 429 with Retry-After (at least a second).
func (k *Kit) TooManyAfter(w http.ResponseWriter, r *http.Request, after time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	k.ErrorPage(w, r, http.StatusTooManyRequests, "")
}

// EndAllSessions deletes every server-side session of a user. The user's
// sessions-valid-after cut-off has already been moved, which is what stops
// cookie sessions; this removes the rest.
func (k *Kit) EndAllSessions(ctx context.Context, userID int64) {
	if _, err := k.cfg.Sessions.RevokeAll(ctx, strconv.FormatInt(userID, 10), ""); err != nil && !errors.Is(err, session.ErrNotSupported) {
		k.cfg.Log.Warn("end sessions", "user", userID, "err", err)
	}
}

// Errors of a second-factor check (two-factor's Check, used by the JSON
// API and other features through a function internal/app hands them).
var (
	// ErrSecondFactor: the code was not accepted (401, one generic
	// message). It is also what a missing code gives.
	ErrSecondFactor = errors.New("app: second-factor code not accepted")
	// ErrSecondFactorRequired: no code was given but the account needs
	// one. errors.Is(err, ErrSecondFactor) holds too.
	ErrSecondFactorRequired = fmt.Errorf("%w: a code is required", ErrSecondFactor)
	// ErrSecondFactorLimited: too many attempts (429); the error is a
	// *SecondFactorLimitedError carrying the Retry-After.
	ErrSecondFactorLimited = errors.New("app: too many second-factor attempts")
)

// SecondFactorLimitedError is a refusal by the per-account limit on
// second-factor attempts.
type SecondFactorLimitedError struct{ RetryAfter time.Duration }

// Error says the attempt was refused and when to come back.
func (e *SecondFactorLimitedError) Error() string {
	return ErrSecondFactorLimited.Error() + "; retry after " + e.RetryAfter.Round(time.Second).String()
}

// Is makes errors.Is(err, ErrSecondFactorLimited) hold.
func (e *SecondFactorLimitedError) Is(target error) bool { return target == ErrSecondFactorLimited }

// SecondFactorCheck verifies a TOTP or recovery code for a user, with the
// limits of the sign-in page. It returns nil when the user has no second
// factor; an error matching ErrSecondFactor for a refused code (and
// ErrSecondFactorRequired when code is empty); a *SecondFactorLimitedError
// when limited; anything else is a backend failure (503).
type SecondFactorCheck func(ctx context.Context, u account.User, code string, m account.Meta) error
