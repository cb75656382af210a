package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
)

// Redis key prefixes of the shared limiters. The rate limiter and the
// backoff store keep different kinds of values under the same logical keys
// (the account's), so they must never share a prefix.
const (
	redisLimitPrefix   = "gatehouse:rl:"
	redisBackoffPrefix = "gatehouse:backoff:"
)

// Audit records of refusals are themselves rate limited, so that a flood of
// refused requests cannot turn into a flood of database writes: at most one
// record per limit and key per tripRecordLimit, and at most tripRecordGlobal
// in all. Every refusal is still counted in the metrics.
var (
	tripRecordLimit  = ratelimit.PerMinute(1)
	tripRecordGlobal = ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 100}
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
	ipKey    ratelimit.KeyFunc
	trips    *ratelimit.Memory // throttles the audit records of refusals
}

// limitName describes one of the guard's limits: its label in the metrics
// and its description in the audit trail.
type limitName struct{ metric, audit string }

var (
	limLoginIP      = limitName{"login_ip", "login per IP"}
	limLoginPair    = limitName{"login_account_ip", "login per account and IP"}
	limLoginAccount = limitName{"login_account", "login per account"}
	limLoginBackoff = limitName{"login_backoff", "login backoff"}
)

// ipLimitName names the per-IP limit of a form such as "register".
func ipLimitName(name string) limitName { return limitName{name + "_ip", name + " per IP"} }

// guardLimits are the settings the guard reads, for error messages and docs.
var guardLimits = []string{"LOGIN_LIMIT", "LOGIN_IP_LIMIT", "REGISTER_LIMIT", "FORGOT_LIMIT"}

func newGuard(cfg *Config, d *deps) (*guard, error) {
	g := &guard{d: d, policy: ratelimit.DefaultBackoff(), ipKey: ratelimit.ByIP(d.clientAddr)}
	limits, err := parseGuardLimits(cfg)
	if err != nil {
		return nil, err
	}
	g.login, g.loginIP, g.register, g.forgot = limits[0], limits[1], limits[2], limits[3]
	if err := g.policy.Validate(); err != nil {
		return nil, err
	}
	// An attacker guessing one account from one address meets this first;
	// the per-account limit stops a botnet spread over many addresses.
	g.pairIP = g.login.WithBurst(max(1, g.login.BurstSize()/2))
	g.openBackends(nil)
	for _, l := range []limitName{limLoginIP, limLoginPair, limLoginAccount, limLoginBackoff, ipLimitName("register"), ipLimitName("forgot")} {
		d.metrics.refusals.WithLabelValues(l.metric)
	}
	d.watchActiveSessions()
	return g, nil
}

// openBackends sets up the limiter and backoff stores: in Redis when
// instances share one (REDIS_URL), else in memory with the clock now (nil:
// the monotonic clock; tests pass a fake one). Redis uses its own clock.
func (g *guard) openBackends(now func() time.Time) {
	var mopts []ratelimit.MemoryOption
	if now != nil {
		mopts = append(mopts, ratelimit.WithNow(now))
	}
	if g.d.redis != nil {
		g.limiter = redislimit.New(g.d.redis, redislimit.WithPrefix(redisLimitPrefix))
		g.backoff = redislimit.NewBackoff(g.d.redis, redislimit.WithPrefix(redisBackoffPrefix))
	} else {
		g.limiter = ratelimit.NewMemory(mopts...)
		g.backoff = ratelimit.NewMemoryBackoff(mopts...)
	}
	g.trips = ratelimit.NewMemory(append(mopts, ratelimit.WithMaxKeys(1<<14))...)
}

// parseGuardLimits reads the limit settings in the order of guardLimits.
// A value that is not a sane limit names the setting in the error.
func parseGuardLimits(cfg *Config) ([]ratelimit.Limit, error) {
	values := map[string]string{"LOGIN_LIMIT": cfg.LoginLimit, "LOGIN_IP_LIMIT": cfg.LoginIPLimit,
		"REGISTER_LIMIT": cfg.RegisterLimit, "FORGOT_LIMIT": cfg.ForgotLimit}
	out := make([]ratelimit.Limit, len(guardLimits))
	for i, name := range guardLimits {
		l, err := ratelimit.ParseLimit(values[name])
		if err != nil {
			return nil, fmt.Errorf("setting %s (--%s): %w; write a limit such as 10/hour or 5/min", envName(name), flagName(name), err)
		}
		out[i] = l
	}
	return out, nil
}

// refused counts a refusal and records it in the audit trail, at most once
// per limit and key a minute. email is the address typed, for limits on an
// account ("" for limits on an IP).
func (g *guard) refused(ctx context.Context, r *http.Request, lim limitName, key, email string) {
	g.d.metrics.rateLimited(lim.metric)
	if !g.recordTrip(ctx, lim.metric+"|"+key) {
		return
	}
	e := account.Event{Name: eventRateLimited, Outcome: account.OutcomeDenied,
		IP: g.d.clientIP(r), UserAgent: r.UserAgent(), Detail: lim.audit}
	if email != "" {
		e.UserID = g.accountID(ctx, email)
		e.Detail += " (" + account.EmailKey(email) + ")"
	}
	_ = g.d.accounts.Record(context.WithoutCancel(ctx), e)
}

// recordTrip reports whether a refusal under key should be written to the
// audit trail now.
func (g *guard) recordTrip(ctx context.Context, key string) bool {
	if res, err := g.trips.Allow(ctx, "all", tripRecordGlobal); err != nil || !res.Allowed {
		return false
	}
	res, err := g.trips.Allow(ctx, key, tripRecordLimit)
	return err == nil && res.Allowed
}

// accountID is the ID of the account an address typed at sign-in belongs
// to, or 0. It only labels audit events: answers never depend on it.
func (g *guard) accountID(ctx context.Context, email string) int64 {
	u, err := g.d.accounts.UserByEmail(context.WithoutCancel(ctx), email)
	if err != nil {
		return 0
	}
	return u.ID
}

// The audit event names of the guard.
const (
	eventRateLimited account.EventName = "ratelimit.refused"
	eventLoginLocked account.EventName = "login.locked"
)

// limiterFailed fails closed: without the limiter a flood cannot be told
// apart, so the request is refused for a few seconds.
func (d *deps) limiterFailed(err error) time.Duration {
	d.metrics.storeError("ratelimit")
	d.log.Error("rate limiter failed", "err", err)
	return 5 * time.Second
}

// Limiter is the shared rate limiter.
func (g *guard) Limiter() ratelimit.Backend { return g.limiter }

// Backoff is the shared backoff store.
func (g *guard) Backoff() ratelimit.Backoff { return g.backoff }

var _ kit.Guard = (*guard)(nil)

// AllowIP consumes one request of the named per-IP limit ("register",
// "forgot"; any other name uses the sign-in per-IP limit under its own
// bucket). IPv6 clients are counted per /64. On refusal Retry-After is set.
func (g *guard) AllowIP(w http.ResponseWriter, r *http.Request, name string) error {
	d := g.d
	var l ratelimit.Limit
	switch name {
	case "register":
		l = g.register
	case "forgot":
		l = g.forgot
	default:
		l = g.loginIP
	}
	key := name + ":" + g.ipKey(r)
	res, err := g.limiter.Allow(r.Context(), key, l)
	if err != nil {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(d.limiterFailed(err)), 10))
		return kit.ErrLimiterDown
	}
	ratelimit.WriteHeaders(w, name, res)
	if !res.Allowed {
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(res.RetryAfter), 10))
		g.refused(r.Context(), r, ipLimitName(name), key, "")
		return kit.ErrLimited
	}
	return nil
}

// loginKey is the bucket of the account an address typed at sign-in names.
// Built from the typed text, so it exists whether the account does or not.
func loginKey(email string) string { return "login:acct:" + account.EmailKey(email) }

// LoginGate decides whether a sign-in attempt for email may verify a
// password at all. The limits are consumed before the password is checked,
// so concurrent guesses cannot overrun them. The same answer comes whether
// the account exists or not: keys are built from the typed address.
// release must be called with the outcome.
func (g *guard) LoginGate(ctx context.Context, r *http.Request, email string) (release func(success bool), retryAfter time.Duration, err error) {
	d := g.d
	acct := loginKey(email)
	ip := g.ipKey(r)
	st, err := g.backoff.Check(ctx, acct, g.policy)
	if err != nil {
		return nil, d.limiterFailed(err), kit.ErrLimiterDown
	}
	if st.Locked {
		g.refused(ctx, r, limLoginBackoff, acct, email)
		return nil, st.RetryAfter, kit.ErrLimited
	}
	checks := []struct {
		key   string
		limit ratelimit.Limit
		name  limitName
		email string
	}{
		{"login:" + ip, g.loginIP, limLoginIP, ""},
		{"login:pair:" + ip + ":" + account.EmailKey(email), g.pairIP, limLoginPair, email},
		{acct, g.login, limLoginAccount, email},
	}
	for _, c := range checks {
		res, err := g.limiter.Allow(ctx, c.key, c.limit)
		if err != nil {
			return nil, d.limiterFailed(err), kit.ErrLimiterDown
		}
		if !res.Allowed {
			g.refused(ctx, r, c.name, c.key, c.email)
			return nil, res.RetryAfter, kit.ErrLimited
		}
	}
	clientIP, ua := d.clientIP(r), r.UserAgent()
	return func(success bool) {
		// The outcome is recorded even if the client has gone.
		ctx := context.WithoutCancel(ctx)
		if success {
			d.metrics.signin("success")
			if err := g.backoff.Reset(ctx, acct); err != nil {
				d.limiterFailed(err)
			}
			return
		}
		d.metrics.signin("failure")
		st, err := g.backoff.Fail(ctx, acct, g.policy)
		if err != nil {
			d.limiterFailed(err)
			return
		}
		if st.Locked {
			_ = d.accounts.Record(ctx, account.Event{Name: eventLoginLocked, Outcome: account.OutcomeDenied,
				UserID: g.accountID(ctx, email), IP: clientIP, UserAgent: ua,
				Detail: "sign-in paused for " + st.RetryAfter.Round(time.Second).String() + " after " + strconv.Itoa(st.Failures) + " failed attempts"})
		}
	}, 0, nil
}

// ClearLoginDefence forgets an account's failures and limits, after the
// owner proved control of the mailbox with a password reset.
func (g *guard) ClearLoginDefence(ctx context.Context, email string, from ...*http.Request) {
	d := g.d
	acct := loginKey(email)
	if err := d.guard.backoff.Reset(ctx, acct); err != nil {
		d.limiterFailed(err)
	}
	if err := d.guard.limiter.Reset(ctx, acct); err != nil {
		d.limiterFailed(err)
	}
	// The owner will most likely sign in from where the reset came from:
	// forget that address's account-and-IP budget too.
	for _, r := range from {
		if err := d.guard.limiter.Reset(ctx, "login:pair:"+d.guard.ipKey(r)+":"+account.EmailKey(email)); err != nil {
			d.limiterFailed(err)
		}
	}
}

// preRefuse decides, before any other work on a sign-in request, whether
// its client address has already used up its per-IP sign-in budget: then the
// answer is a cheap 429 at once, without reading the body, loading a session
// or rendering a page, so that a flood from one address costs next to
// nothing. It only peeks; the budget is consumed where the request is
// handled. Other credential routes check their limits in their handlers,
// after validating the form.
func (g *guard) preRefuse(r *http.Request) (name string, res ratelimit.Result, refused bool) {
	if r.URL.Path != "/login" && r.URL.Path != "/api/v1/token" {
		return "", res, false
	}
	res, err := g.limiter.Peek(r.Context(), "login:"+g.ipKey(r), g.loginIP)
	if err != nil || res.Allowed {
		return "", res, false // the handler's own check decides (and fails closed)
	}
	g.d.metrics.rateLimited(limLoginIP.metric)
	return "login", res, true
}
