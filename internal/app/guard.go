package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// guard holds the abuse defences: rate limits per IP, per account and per
// account and IP together, and exponential backoff after failed sign-ins.
type guard struct {
	d        *deps
	limiter  ratelimit.Backend
	backoff  ratelimit.Backoff
	policy   ratelimit.BackoffPolicy
	login    ratelimit.Limit // per account
	loginIP  ratelimit.Limit // per client IP
	pairIP   ratelimit.Limit // per account and IP
	register ratelimit.Limit // per IP
	forgot   ratelimit.Limit // per IP
}

func newGuard(cfg *Config, d *deps) (*guard, error) {
	g := &guard{d: d, policy: ratelimit.DefaultBackoff()}
	var err error
	parse := func(name, v string) ratelimit.Limit {
		if err != nil {
			return ratelimit.Limit{}
		}
		var l ratelimit.Limit
		l, err = ratelimit.ParseLimit(v)
		if err != nil {
			err = fmt.Errorf("setting %s (--%s): %w", envName(name), flagName(name), err)
		}
		return l
	}
	g.login = parse("LOGIN_LIMIT", cfg.LoginLimit)
	g.loginIP = parse("LOGIN_IP_LIMIT", cfg.LoginIPLimit)
	g.register = parse("REGISTER_LIMIT", cfg.RegisterLimit)
	g.forgot = parse("FORGOT_LIMIT", cfg.ForgotLimit)
	if err != nil {
		return nil, err
	}
	// An attacker guessing one account from one address meets this first;
	// the per-account limit stops a botnet spread over many addresses.
	g.pairIP = g.login.WithBurst(max(1, g.login.BurstSize()/2))
	g.limiter, g.backoff = d.newLimiters()
	return g, nil
}

// refused records a refusal in the metrics and the audit trail.
func (g *guard) refused(ctx context.Context, r *http.Request, limit string, userID int64) {
	g.d.metrics.rateLimited(limit)
	_ = g.d.accounts.Record(ctx, account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
		UserID: userID, IP: g.d.clientIP(r), UserAgent: r.UserAgent(), Detail: limit})
}

// allowIP consumes one request of the named per-IP limit.
func (d *deps) allowIP(w http.ResponseWriter, r *http.Request, name string) bool {
	g := d.guard
	var l ratelimit.Limit
	switch name {
	case "register":
		l = g.register
	case "forgot":
		l = g.forgot
	default:
		l = g.loginIP
	}
	res, err := g.limiter.Allow(r.Context(), name+":ip:"+d.clientIP(r), l)
	if err != nil {
		// Fail closed: without the limiter we cannot tell a flood apart.
		d.log.Error("rate limiter failed", "err", err)
		w.Header().Set("Retry-After", "5")
		return false
	}
	ratelimit.WriteHeaders(w, name, res)
	if !res.Allowed {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(res.RetryAfter), 10))
		g.refused(r.Context(), r, name+" per IP", 0)
	}
	return res.Allowed
}

// loginGate decides whether a sign-in attempt for email may verify a
// password at all. The limits are consumed before the password is checked,
// so concurrent guesses cannot overrun them. The same answer comes whether
// the account exists or not: keys are built from the typed address.
// release must be called with the outcome.
func (d *deps) loginGate(ctx context.Context, r *http.Request, email string) (release func(success bool), retryAfter time.Duration, ok bool) {
	g := d.guard
	acct := "login:acct:" + account.EmailKey(email)
	ip := d.clientIP(r)
	st, err := g.backoff.Check(ctx, acct, g.policy)
	if err != nil {
		d.log.Error("backoff check failed", "err", err)
		return nil, 5 * time.Second, false
	}
	if st.Locked {
		g.refused(ctx, r, "login backoff", 0)
		return nil, st.RetryAfter, false
	}
	checks := []struct {
		key   string
		limit ratelimit.Limit
		name  string
	}{
		{"login:ip:" + ip, g.loginIP, "login per IP"},
		{acct + ":ip:" + ip, g.pairIP, "login per account and IP"},
		{acct, g.login, "login per account"},
	}
	for _, c := range checks {
		res, err := g.limiter.Allow(ctx, c.key, c.limit)
		if err != nil {
			d.log.Error("rate limiter failed", "err", err)
			return nil, 5 * time.Second, false
		}
		if !res.Allowed {
			g.refused(ctx, r, c.name, 0)
			return nil, res.RetryAfter, false
		}
	}
	return func(success bool) {
		// The outcome is recorded even if the client has gone.
		ctx := context.WithoutCancel(ctx)
		if success {
			_ = g.backoff.Reset(ctx, acct)
			d.metrics.signin("success")
			return
		}
		d.metrics.signin("failure")
		st, err := g.backoff.Fail(ctx, acct, g.policy)
		if err == nil && st.Locked {
			_ = d.accounts.Record(ctx, account.Event{Name: "login.locked", Outcome: account.OutcomeDenied,
				IP: ip, UserAgent: r.UserAgent(), Detail: "backoff for " + st.RetryAfter.Round(time.Second).String() + " after " + strconv.Itoa(st.Failures) + " failures"})
		}
	}, 0, true
}

// clearLoginDefence forgets an account's failures and limits, after the
// owner proved control of the mailbox with a password reset.
func (d *deps) clearLoginDefence(ctx context.Context, email string) {
	acct := "login:acct:" + account.EmailKey(email)
	_ = d.guard.backoff.Reset(ctx, acct)
	_ = d.guard.limiter.Reset(ctx, acct)
}

// tooManyAfter answers 429 with Retry-After.
func (s *Server) tooManyAfter(w http.ResponseWriter, r *http.Request, after time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	s.errorPage(w, r, http.StatusTooManyRequests, "")
}
