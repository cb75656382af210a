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
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/realip"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/cookiestore"
	"github.com/gatehouse/gatehouse/session/memstore"
	"github.com/gatehouse/gatehouse/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// errBusy means the password hashing pool had no worker in time.
var errBusy = password.ErrBusy

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
	guard    *guard
	tf       *twoFactor
	email    *emailFeature
	api      *apiFeature
	avatars  *avatarFeature
	metrics  *metrics
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

// openDeps opens the database, keys, hashing pool, session store and
// limiters described by cfg. It does not migrate the database.
func openDeps(ctx context.Context, cfg *Config, log *slog.Logger) (_ *deps, err error) {
	d := &deps{cfg: cfg, log: log, now: time.Now}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.metrics = newMetrics()
	d.db, err = db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
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
		password.WithWaitObserver(d.metrics.observeHashWait))
	d.metrics.watchPool(d.pool)

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
	d.sessions, err = session.NewManager(d.store, mopts...)
	if err != nil {
		return nil, err
	}
	d.guard, err = newGuard(cfg, d)
	if err != nil {
		return nil, err
	}
	if d.tf, err = newTwoFactor(d); err != nil {
		return nil, err
	}
	if d.email, err = newEmailFeature(d); err != nil {
		return nil, err
	}
	if d.api, err = newAPIFeature(d); err != nil {
		return nil, err
	}
	if d.avatars, err = newAvatarFeature(d); err != nil {
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
		st, err := d.db.SessionStore(ctx, d.now, keepSessionUser)
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
func (d *deps) clientIP(r *http.Request) string {
	a := d.clientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

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
	d.metrics.storeError("session")
	logger(r.Context()).Error("session store failed", "err", err)
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
		d.metrics.storeError("database")
	}
	if d.redis != nil {
		if err := d.redis.Ping(ctx).Err(); err != nil {
			failed = append(failed, "redis")
			d.metrics.storeError("redis")
		}
	}
	return failed
}

// endAllSessions deletes every server-side session of a user. The user's
// sessions-valid-after cut-off has already been moved, which is what stops
// cookie sessions; this removes the rest.
func (d *deps) endAllSessions(ctx context.Context, userID int64) {
	if _, err := d.sessions.RevokeAll(ctx, strconv.FormatInt(userID, 10), ""); err != nil && !errors.Is(err, session.ErrNotSupported) {
		d.log.Warn("end sessions", "user", userID, "err", err)
	}
}

// hostOf returns the host of a host:port address.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
