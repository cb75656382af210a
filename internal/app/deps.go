package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/avatar"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/emailflow"
	"github.com/gatehouse/gatehouse/internal/guard"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/oidc"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/signin"
	"github.com/gatehouse/gatehouse/internal/twofactor"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/realip"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/cookiestore"
	"github.com/gatehouse/gatehouse/session/memstore"
	"github.com/gatehouse/gatehouse/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// deps holds every long-lived component of an instance. The server and the
// administration commands build it the same way.
type deps struct {
	cfg      *Config
	log      *slog.Logger
	now      func() time.Time
	db       *db.DB
	keyFile  *keyring.File
	keys     keyring.Source
	pool     *password.Pool
	accounts *account.Service
	store    session.Store
	sessions *session.Manager
	redis    *redis.Client
	ips      *realip.Resolver
	guard    *guard.Guard
	kit      *kit.Kit
	tf       *twofactor.Feature
	signin   *signin.Feature
	passkeys *passkey.Feature // nil when passkeys are off
	email    *emailflow.Feature
	api      *api.Feature
	avatars  *avatar.Feature
	oidc     *oidc.Provider
	metrics  *metrics.Metrics
	fa       *forwardAuthFeature
	closers  []func() error
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// mailWorkerTweak, when set (by tests only, before the server starts),
// adjusts the mail worker, e.g. to poll and retry within milliseconds.
var mailWorkerTweak func(w *mail.Worker)

// openDeps opens the database, keys, hashing pool, session store and
// limiters described by cfg. It does not migrate the database.
func openDeps(ctx context.Context, cfg *Config, log *slog.Logger) (_ *deps, err error) {
	d := &deps{cfg: cfg, log: log, now: time.Now}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.metrics = metrics.New()
	d.db, err = db.Open(ctx, cfg.DatabaseURL, db.WithTimeout(cfg.DBTimeout))
	if err != nil {
		return nil, databaseError(cfg.DatabaseURL, err)
	}
	d.closers = append(d.closers, d.db.Close)

	d.keyFile, err = keyring.Open(cfg.KeysFile,
		keyring.OnError(func(err error) { log.Error("keys file reload failed; keeping the keys in use", "err", err) }),
		keyring.OnChange(func(r *keyring.Ring) { log.Info("keys reloaded", "current", r.Current().ID) }))
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	d.keys = d.keyFile

	hasher, err := password.NewHasher(password.WithParams(password.Params{
		Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads,
		SaltLen: password.DefaultParams().SaltLen, KeyLen: password.DefaultParams().KeyLen,
	}), password.WithLimits(password.Limits{
		MaxArgon2Memory: cfg.MaxArgon2Memory, MaxArgon2Threads: cfg.MaxArgon2Threads,
		MaxPBKDF2Iterations: cfg.MaxPBKDF2Iter, MaxBcryptCost: cfg.MaxBcryptCost, MaxScryptMemory: cfg.MaxScryptMemory,
	}), password.WithWerkzeugDefaultIterations(cfg.WerkzeugDefaultIt))
	if err != nil {
		return nil, fmt.Errorf("password hashing: %w", err)
	}
	d.pool = password.NewPool(hasher, password.WithWorkers(cfg.HashWorkers), password.WithMaxWait(cfg.HashQueueWait),
		password.WithMemoryBudget(cfg.HashMemoryBudget),
		password.WithWaitObserver(d.metrics.ObserveHashWait))
	d.metrics.WatchPool(d.pool)

	d.accounts = account.NewService(account.Config{
		Users: d.db.Users(), Audit: d.db.Audit(), Hasher: d.pool, Policy: password.Policy{},
		Now: d.now, Log: log.With("component", "audit"),
	})

	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("setting GATEHOUSE_REDIS_URL: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
		// Fail fast while Redis is down: requests answer 503 at once
		// instead of queueing behind retries.
		opt.MaxRetries = 1
		d.redis = redis.NewClient(opt)
		d.closers = append(d.closers, d.redis.Close)
	}

	d.ips = realip.New(cfg.TrustedProxies)
	if d.store, err = d.openSessionStore(ctx); err != nil {
		return nil, err
	}
	mopts := []session.Option{
		session.IdleTimeout(cfg.SessionIdle), session.Lifetime(cfg.SessionLifetime), session.RememberFor(cfg.RememberFor),
		session.ClientIP(d.clientIP), session.Logger(log), session.Now(d.now),
		session.ErrorHandler(d.sessionStoreFailed),
	}
	if !cfg.Secure() {
		mopts = append(mopts, session.InsecureCookie())
	}
	if cfg.CookieDomain != "" {
		mopts = append(mopts, session.CookieDomain(cfg.CookieDomain)) // forward-auth across subdomains
	}
	d.sessions, err = session.NewManager(d.store, mopts...)
	if err != nil {
		return nil, err
	}
	limits, err := parseGuardLimits(cfg)
	if err != nil {
		return nil, err
	}
	d.guard, err = guard.New(guard.Config{Login: limits[0], LoginIP: limits[1], Register: limits[2], Forgot: limits[3],
		Redis: d.redis, ClientAddr: d.clientAddr, Accounts: d.accounts, Metrics: d.metrics, Log: log})
	if err != nil {
		return nil, err
	}
	d.metrics.KnowLimits(guard.MetricNames()...)
	d.watchActiveSessions()
	if err = d.openAccessRules(); err != nil {
		return nil, err
	}
	brand, err := cfg.brand()
	if err != nil {
		return nil, err
	}
	d.kit, err = kit.New(kit.Config{ExternalNext: d.externalNext, Dev: cfg.Dev, Secure: cfg.Secure(), Keys: d.keys, Accounts: d.accounts,
		Sessions: d.sessions, ClientAddr: d.clientAddr, Guard: d.guard, Metrics: d.metrics, Log: log, Brand: brand,
		TwoFactorOn: func(ctx context.Context, u account.User) (bool, error) { return d.tf.Needs(ctx, u) }})
	if err != nil {
		return nil, err
	}
	d.email, err = emailflow.New(emailflow.Config{Kit: d.kit, DB: d.db, Keys: d.keys, Dev: cfg.Dev, BaseURL: cfg.BaseURL,
		SMTPURL: cfg.SMTPURL, MailFrom: cfg.MailFrom, ResetTTL: cfg.ResetTTL, VerifyTTL: cfg.VerifyTTL,
		Now: func() time.Time { return d.now() }, Log: log,
		WorkerTweak: func(w *mail.Worker) {
			if mailWorkerTweak != nil {
				mailWorkerTweak(w)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	d.signin = signin.New(signin.Config{Kit: d.kit, UnverifiedLogin: cfg.UnverifiedLogin,
		NeedsSecondFactor: func(ctx context.Context, u account.User) (bool, error) { return d.tf.Needs(ctx, u) },
		StartSecondFactor: func(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
			d.tf.Start(w, r, sess, u, remember, next)
		},
		AfterRegister: d.email.AfterRegister, AfterLogin: d.email.AfterLogin, AfterPasswordChange: d.email.AfterPasswordChange,
	})
	d.tf, err = twofactor.New(twofactor.Config{Kit: d.kit, Log: log,
		Service: account.NewTwoFactor(account.TwoFactorConfig{
			Accounts: d.accounts, Store: d.db.TwoFactor(), Sealer: keyring.NewAEAD(d.keys, "totp-secret"),
			Passkeys: d.db.Passkeys(), Issuer: brand.ProductName(), Now: d.now,
		}),
		Now:           func() time.Time { return d.now() },
		CompleteLogin: d.signin.CompleteLogin,
		Notify:        d.email.SecurityNotice,
	})
	if err != nil {
		return nil, err
	}
	d.passkeys = newPasskeyFeature(d)
	if d.api, err = api.New(api.Config{Kit: d.kit, DB: d.db, Keys: d.keys, Issuer: cfg.BaseURL.String(),
		Audience: cfg.APIAudience, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL,
		CORSOrigins: cfg.CORSOrigins, Now: func() time.Time { return d.now() }, Log: log,
		NeedsSecondFactor: d.tf.Needs, CheckSecondFactor: d.tf.Check}); err != nil {
		return nil, err
	}
	if err = d.openForwardAuth(); err != nil {
		return nil, err
	}
	if d.avatars, err = avatar.New(avatar.Config{Kit: d.kit, Store: d.db.Avatars(), MaxBytes: cfg.AvatarMaxBytes,
		Now: func() time.Time { return d.now() }}); err != nil {
		return nil, err
	}
	if d.oidc, err = newOIDC(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deps) openSessionStore(ctx context.Context) (session.Store, error) {
	switch d.cfg.SessionStore {
	case "memory":
		return memstore.New(), nil
	case "cookie":
		return cookiestore.New(keyring.NewAEAD(d.keys, "session-cookie"))
	case "redis":
		return redisstore.New(d.redis, redisstore.Prefix("gatehouse:session:"))
	default:
		// Find reads the session's user too: one query per signed-in page.
		st, err := d.db.SessionStore(ctx, d.now, kit.KeepSessionUser)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return st, nil
	}
}

// Close releases what openDeps opened.
func (d *deps) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		_ = d.closers[i]()
	}
	d.closers = nil
}

// clientIP is the client's address: the socket peer, or the address a
// trusted proxy reports.
func (d *deps) clientIP(r *http.Request) string { return kit.AddrText(d.clientAddr(r)) }

func (d *deps) clientAddr(r *http.Request) netip.Addr {
	if d.ips == nil {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap()
	}
	return d.ips.ClientIP(r)
}

// sessionStoreFailed answers when the session store is unreachable: 503,
// never a request that looks signed out (or in) by mistake.
func (d *deps) sessionStoreFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nothing failed
	}
	d.metrics.StoreError("session")
	kit.Logger(r.Context()).Error("session store failed", "err", err)
	w.Header().Set("Retry-After", "5")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, unavailablePage)
}

// unavailablePage is a self-contained page for when the session store, and
// so the normal page machinery, is down.
const unavailablePage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Temporarily unavailable · Gatehouse</title></head><body><main><h1>Temporarily unavailable</h1><p>Gatehouse cannot reach its session storage right now. Please try again in a moment.</p></main></body></html>`

// checkBackends names the backends that do not answer.
func (d *deps) checkBackends(ctx context.Context) []string {
	var failed []string
	if err := d.db.Ping(ctx); err != nil {
		failed = append(failed, "database")
		d.metrics.StoreError("database")
	}
	if d.redis != nil {
		if err := d.redis.Ping(ctx).Err(); err != nil {
			failed = append(failed, "redis")
			d.metrics.StoreError("redis")
		}
	}
	return failed
}

// hostOf returns the host of a host:port address.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// databaseError says once, naming the setting, why the database could not
// be opened. Drivers repeat themselves (pgx lists every address and TLS
// attempt on a line of its own, often the same line twice).
func databaseError(url string, err error) error {
	var lines []string
	seen := map[string]bool{}
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "db: ping: ")
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		lines = append(lines, l)
	}
	return fmt.Errorf("setting %s (--%s): cannot open %s: %s", envName("DATABASE_URL"), flagName("DATABASE_URL"),
		redactURL(url), strings.Join(lines, " "))
}

// guardLimits are the settings the guard reads, for error messages and docs.
var guardLimits = []string{"LOGIN_LIMIT", "LOGIN_IP_LIMIT", "REGISTER_LIMIT", "FORGOT_LIMIT"}

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
