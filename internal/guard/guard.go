// Package guard holds the abuse defences of the server: rate limits per
// IP, per account and per account and IP, backoff after failed sign-ins,
// the audit records of refusals, and admission control of credential
// requests. It implements kit.Guard. It imports the kit, internal/account
// and ring 1; never a feature or internal/app.
package guard

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// Redis key prefixes of the shared limiters. The rate limiter and the
// backoff store keep different kinds of values under the same logical keys
// (the account's), so they must never share a prefix.
const (
	RedisLimitPrefix   = "gatehouse:rl:"
	RedisBackoffPrefix = "gatehouse:backoff:"
)

// Audit records of refusals are themselves rate limited, so that a flood of
// refused requests cannot turn into a flood of database writes: at most one
// record per limit and key per tripRecordLimit, and at most tripRecordGlobal
// in all. Every refusal is still counted in the metrics.
var (
	tripRecordLimit  = ratelimit.PerMinute(1)
	tripRecordGlobal = ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 100}
)

// Metrics are the counters the guard feeds.
type Metrics interface {
	// RateLimited counts a request refused by the named limit.
	RateLimited(limit string)
	// StoreError counts a failure of the named store ("ratelimit").
	StoreError(store string)
	// SignIn counts a sign-in attempt that verified a password
	// ("success", "failure").
	SignIn(outcome string)
}

// Config is what New needs.
type Config struct {
	// Login, LoginIP, Register and Forgot are the limits of sign-in per
	// account and per IP, and of registration and reset requests per IP.
	Login, LoginIP, Register, Forgot ratelimit.Limit
	// Redis, when set, holds the limits and backoff shared by instances.
	Redis *redis.Client
	// ClientAddr is the client's address.
	ClientAddr func(*http.Request) netip.Addr
	// Accounts records refusals and finds accounts for their labels.
	Accounts *account.Service
	// Metrics counts refusals, failures and sign-ins.
	Metrics Metrics
	// Log reports limiter failures.
	Log *slog.Logger
}

// Guard holds the abuse defences: rate limits per IP, per account and per
// account and IP together, and exponential backoff after failed sign-ins.
type Guard struct {
	c        Config
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

// MetricNames are the metric labels of the guard's limits, for series that
// start at zero.
func MetricNames() []string {
	var out []string
	for _, l := range []limitName{limLoginIP, limLoginPair, limLoginAccount, limLoginBackoff, ipLimitName("register"), ipLimitName("forgot")} {
		out = append(out, l.metric)
	}
	return out
}

// New builds the guard with its limiter and backoff stores.
func New(c Config) (*Guard, error) {
	g := &Guard{c: c, policy: ratelimit.DefaultBackoff(), ipKey: ratelimit.ByIP(c.ClientAddr)}
	g.login, g.loginIP, g.register, g.forgot = c.Login, c.LoginIP, c.Register, c.Forgot
	if err := g.policy.Validate(); err != nil {
		return nil, err
	}
	// An attacker guessing one account from one address meets this first;
	// the per-account limit stops a botnet spread over many addresses.
	g.pairIP = g.login.WithBurst(max(1, g.login.BurstSize()/2))
	g.SetClock(nil)
	return g, nil
}

// SetClock sets up the limiter and backoff stores: in Redis when
// instances share one (REDIS_URL), else in memory with the clock now (nil:
// the monotonic clock; tests pass a fake one before serving). Redis uses
// its own clock.
func (g *Guard) SetClock(now func() time.Time) {
	var mopts []ratelimit.MemoryOption
	if now != nil {
		mopts = append(mopts, ratelimit.WithNow(now))
	}
	if g.c.Redis != nil {
		g.limiter = redislimit.New(g.c.Redis, redislimit.WithPrefix(RedisLimitPrefix))
		g.backoff = redislimit.NewBackoff(g.c.Redis, redislimit.WithPrefix(RedisBackoffPrefix))
	} else {
		g.limiter = ratelimit.NewMemory(mopts...)
		g.backoff = ratelimit.NewMemoryBackoff(mopts...)
	}
	g.trips = ratelimit.NewMemory(append(mopts, ratelimit.WithMaxKeys(1<<14))...)
}

// refused counts a refusal and records it in the audit trail, at most once
// per limit and key a minute. email is the address typed, for limits on an
// account ("" for limits on an IP).
func (g *Guard) refused(ctx context.Context, r *http.Request, lim limitName, key, email string) {
	g.c.Metrics.RateLimited(lim.metric)
	if !g.recordTrip(ctx, lim.metric+"|"+key) {
		return
	}
	e := account.Event{Name: EventRateLimited, Outcome: account.OutcomeDenied,
		IP: g.clientIP(r), UserAgent: r.UserAgent(), Detail: lim.audit}
	if email != "" {
		e.UserID = g.accountID(ctx, email)
		e.Detail += " (" + account.EmailKey(email) + ")"
	}
	_ = g.c.Accounts.Record(context.WithoutCancel(ctx), e)
}

// recordTrip reports whether a refusal under key should be written to the
// audit trail now.
func (g *Guard) recordTrip(ctx context.Context, key string) bool {
	if res, err := g.trips.Allow(ctx, "all", tripRecordGlobal); err != nil || !res.Allowed {
		return false
	}
	res, err := g.trips.Allow(ctx, key, tripRecordLimit)
	return err == nil && res.Allowed
}

// accountID is the ID of the account an address typed at sign-in belongs
// to, or 0. It only labels audit events: answers never depend on it.
func (g *Guard) accountID(ctx context.Context, email string) int64 {
	u, err := g.c.Accounts.UserByEmail(context.WithoutCancel(ctx), email)
	if err != nil {
		return 0
	}
	return u.ID
}

// The audit event names of the guard.
const (
	EventRateLimited account.EventName = "ratelimit.refused"
	EventLoginLocked account.EventName = "login.locked"
)

// limiterFailed fails closed: without the limiter a flood cannot be told
// apart, so the request is refused for a few seconds.
func (g *Guard) limiterFailed(err error) time.Duration {
	g.c.Metrics.StoreError("ratelimit")
	g.c.Log.Error("rate limiter failed", "err", err)
	return 5 * time.Second
}

// Limiter is the shared rate limiter.
func (g *Guard) Limiter() ratelimit.Backend { return g.limiter }

// Backoff is the shared backoff store.
func (g *Guard) Backoff() ratelimit.Backoff { return g.backoff }

var _ kit.Guard = (*Guard)(nil)

// AllowIP consumes one request of the named per-IP limit ("register",
// "forgot"; any other name uses the sign-in per-IP limit under its own
// bucket). IPv6 clients are counted per /64. On refusal Retry-After is set.
func (g *Guard) AllowIP(w http.ResponseWriter, r *http.Request, name string) error {
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
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(g.limiterFailed(err)), 10))
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

// LoginKey is the bucket of the account an address typed at sign-in names.
// Built from the typed text, so it exists whether the account does or not.
func LoginKey(email string) string { return "login:acct:" + account.EmailKey(email) }

// LoginGate decides whether a sign-in attempt for email may verify a
// password at all. The limits are consumed before the password is checked,
// so concurrent guesses cannot overrun them. The same answer comes whether
// the account exists or not: keys are built from the typed address.
// release must be called with the outcome.
func (g *Guard) LoginGate(ctx context.Context, r *http.Request, email string) (release func(success bool), retryAfter time.Duration, err error) {
	acct := LoginKey(email)
	ip := g.ipKey(r)
	st, err := g.backoff.Check(ctx, acct, g.policy)
	if err != nil {
		return nil, g.limiterFailed(err), kit.ErrLimiterDown
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
			return nil, g.limiterFailed(err), kit.ErrLimiterDown
		}
		if !res.Allowed {
			g.refused(ctx, r, c.name, c.key, c.email)
			return nil, res.RetryAfter, kit.ErrLimited
		}
	}
	clientIP, ua := g.clientIP(r), r.UserAgent()
	return func(success bool) {
		// The outcome is recorded even if the client has gone.
		ctx := context.WithoutCancel(ctx)
		if success {
			g.c.Metrics.SignIn("success")
			if err := g.backoff.Reset(ctx, acct); err != nil {
				g.limiterFailed(err)
			}
			return
		}
		g.c.Metrics.SignIn("failure")
		st, err := g.backoff.Fail(ctx, acct, g.policy)
		if err != nil {
			g.limiterFailed(err)
			return
		}
		if st.Locked {
			_ = g.c.Accounts.Record(ctx, account.Event{Name: EventLoginLocked, Outcome: account.OutcomeDenied,
				UserID: g.accountID(ctx, email), IP: clientIP, UserAgent: ua,
				Detail: "sign-in paused for " + st.RetryAfter.Round(time.Second).String() + " after " + strconv.Itoa(st.Failures) + " failed attempts"})
		}
	}, 0, nil
}

// ClearLoginDefence forgets an account's failures and limits, after the
// owner proved control of the mailbox with a password reset.
func (g *Guard) ClearLoginDefence(ctx context.Context, email string, from ...*http.Request) {
	acct := LoginKey(email)
	if err := g.backoff.Reset(ctx, acct); err != nil {
		g.limiterFailed(err)
	}
	if err := g.limiter.Reset(ctx, acct); err != nil {
		g.limiterFailed(err)
	}
	// The owner will most likely sign in from where the reset came from:
	// forget that address's account-and-IP budget too.
	for _, r := range from {
		if err := g.limiter.Reset(ctx, "login:pair:"+g.ipKey(r)+":"+account.EmailKey(email)); err != nil {
			g.limiterFailed(err)
		}
	}
}

// PreRefuse decides, before any other work on a sign-in request, whether
// its client address has already used up its per-IP sign-in budget: then the
// answer is a cheap 429 at once, without reading the body, loading a session
// or rendering a page, so that a flood from one address costs next to
// nothing. It only peeks; the budget is consumed where the request is
// handled. Other credential routes check their limits in their handlers,
// after validating the form.
func (g *Guard) PreRefuse(r *http.Request) (name string, res ratelimit.Result, refused bool) {
	if r.URL.Path != "/login" && r.URL.Path != "/api/v1/token" {
		return "", res, false
	}
	res, err := g.limiter.Peek(r.Context(), "login:"+g.ipKey(r), g.loginIP)
	if err != nil || res.Allowed {
		return "", res, false // the handler's own check decides (and fails closed)
	}
	g.c.Metrics.RateLimited(limLoginIP.metric)
	return "login", res, true
}

// clientIP is the client's address as text, "" when unknown.
func (g *Guard) clientIP(r *http.Request) string { return kit.AddrText(g.c.ClientAddr(r)) }
