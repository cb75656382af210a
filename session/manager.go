package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Default settings of a Manager.
const (
	DefaultCookieName         = "__Host-gatehouse"
	DefaultInsecureCookieName = "gatehouse"
	// DomainCookieName is the default name with CookieDomain.
	DomainCookieName     = "__Secure-gatehouse"
	DefaultIdleTimeout   = 30 * time.Minute
	DefaultLifetime      = 24 * time.Hour
	DefaultRememberFor   = 720 * time.Hour
	DefaultTouchInterval = time.Minute
	// MaxCookieSize is the largest Set-Cookie value (name, value and
	// attributes) the Manager sends; browsers drop larger cookies.
	MaxCookieSize = 4096
)

// Manager loads and saves sessions for HTTP requests. Create one with
// NewManager; it is safe for concurrent use.
type Manager struct {
	store       Store
	codec       CookieCodec // non-nil when the store lives in the cookie
	cookieName  string
	domain      string
	insecure    bool
	idle        time.Duration
	lifetime    time.Duration
	rememberFor time.Duration
	touch       time.Duration
	now         func() time.Time
	clientIP    func(*http.Request) string
	onError     func(http.ResponseWriter, *http.Request, error)
	log         *slog.Logger
	states      decodedStates
}

// Option configures a Manager.
type Option func(*Manager)

// InsecureCookie names the cookie "gatehouse" (unless CookieName is also
// given) and drops the Secure attribute, for a development server reached
// over plain http. Never use it in production.
func InsecureCookie() Option { return func(m *Manager) { m.insecure = true } }

// CookieName sets the session cookie's name (default "__Host-gatehouse", or
// "gatehouse" with InsecureCookie).
func CookieName(name string) Option { return func(m *Manager) { m.cookieName = name } }

// CookieDomain gives the session cookie a Domain attribute, so the browser
// sends it to every subdomain of domain too (forward-auth across
// subdomains). The default name becomes "__Secure-gatehouse", since a
// __Host- cookie cannot have a Domain. The caller checks that domain is not
// a public suffix (accessrule.CheckCookieDomain).
func CookieDomain(domain string) Option { return func(m *Manager) { m.domain = domain } }

// IdleTimeout ends a session that has not been seen for d (default 30m).
func IdleTimeout(d time.Duration) Option { return func(m *Manager) { m.idle = d } }

// Lifetime ends a session d after it was created or signed in, however
// active it is (default 24h).
func Lifetime(d time.Duration) Option { return func(m *Manager) { m.lifetime = d } }

// RememberFor is the lifetime, and idle timeout, of a session signed in with
// "remember me" (default 720h). Its cookie is persistent.
func RememberFor(d time.Duration) Option { return func(m *Manager) { m.rememberFor = d } }

// TouchInterval bounds how often an unmodified session is written back just
// to record that it was seen (default 1m).
func TouchInterval(d time.Duration) Option { return func(m *Manager) { m.touch = d } }

// Now sets the clock (default time.Now).
func Now(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// ClientIP sets how the client address recorded in a session is found
// (default: the host part of r.RemoteAddr). Use a trusted-proxy-aware
// function behind a reverse proxy.
func ClientIP(fn func(*http.Request) string) Option { return func(m *Manager) { m.clientIP = fn } }

// ErrorHandler sets what answers a request when the store fails (default: a
// 503 page). The handler must not reveal err to the client.
func ErrorHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(m *Manager) { m.onError = fn }
}

// Logger sets where store failures and sweeper errors are logged (default
// slog.Default()). Tokens and handles are never logged.
func Logger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// NewManager returns a Manager keeping sessions in store. With no options it
// is secure: cookie "__Host-gatehouse", Secure, HttpOnly, SameSite=Lax,
// Path=/, 30m idle timeout, 24h lifetime.
func NewManager(store Store, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, errors.New("session: nil store")
	}
	m := &Manager{
		store:       store,
		idle:        DefaultIdleTimeout,
		lifetime:    DefaultLifetime,
		rememberFor: DefaultRememberFor,
		touch:       DefaultTouchInterval,
		now:         time.Now,
		clientIP:    remoteHost,
		onError:     defaultErrorHandler,
	}
	for _, o := range opts {
		o(m)
	}
	if c, ok := store.(CookieCodec); ok {
		m.codec = c
	}
	if m.cookieName == "" {
		m.cookieName = DefaultCookieName
		switch {
		case m.insecure:
			m.cookieName = DefaultInsecureCookieName
		case m.domain != "":
			m.cookieName = DomainCookieName
		}
	}
	if m.domain != "" && (strings.HasPrefix(m.cookieName, "__Host-") || !validCookieDomain(m.domain)) {
		return nil, fmt.Errorf("session: cookie domain %q: invalid, or cookie name %q cannot have a Domain", m.domain, m.cookieName)
	}
	if !validCookieName(m.cookieName) {
		return nil, fmt.Errorf("session: invalid cookie name %q", m.cookieName)
	}
	if m.insecure && (strings.HasPrefix(m.cookieName, "__Host-") || strings.HasPrefix(m.cookieName, "__Secure-")) {
		return nil, fmt.Errorf("session: cookie name %q needs the Secure attribute, which InsecureCookie removes", m.cookieName)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"idle timeout", m.idle}, {"lifetime", m.lifetime}, {"remember-for", m.rememberFor}, {"touch interval", m.touch}} {
		if d.v <= 0 {
			return nil, fmt.Errorf("session: %s must be positive, got %v", d.name, d.v)
		}
	}
	if m.now == nil || m.clientIP == nil || m.onError == nil {
		return nil, errors.New("session: nil function option")
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

func validCookieDomain(d string) bool {
	if d == "" || len(d) > 253 || d[0] == '.' || d[len(d)-1] == '.' {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func validCookieName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const errorPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service unavailable</title></head>
<body><h1>Service unavailable</h1><p>Please try again in a moment.</p></body></html>
`

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, errorPage)
}

// fail answers with the error handler after a store failure.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away mid-lookup: nothing failed, nobody to answer.
		return
	}
	m.log.ErrorContext(r.Context(), "session store failure", "err", err, "method", r.Method, "path", r.URL.Path)
	m.onError(w, r, err)
}

type ctxKey struct{}

// FromContext returns the session that Manager.Handler put in ctx, or nil
// when the request did not pass through a session Handler.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// newContext returns a copy of ctx carrying s.
func newContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// Handler loads the request's session, makes it available through
// FromContext and saves it before the response header is written. A missing,
// malformed, unknown or expired cookie gives a fresh anonymous session. When
// the store fails, the error handler answers instead of next (fail closed).
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := FromContext(r.Context()); s != nil && s.m == m {
			next.ServeHTTP(w, r) // already inside this manager's Handler
			return
		}
		s, err := m.load(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		r = r.WithContext(newContext(r.Context(), s))
		rw := &responseWriter{ResponseWriter: w, m: m, r: r, s: s}
		next.ServeHTTP(rw, r)
		rw.commit()
	})
}

// load reads the session named by the request's cookie. Only a store
// failure is an error; every bad cookie gives a fresh session.
func (m *Manager) load(r *http.Request) (*Session, error) {
	now := m.now()
	s := &Session{m: m, req: r}
	c, err := r.Cookie(m.cookieName)
	if err == nil {
		s.cookieSeen = true
		var (
			id, token string
			rec       Record
			found     bool
		)
		if m.codec != nil {
			id, rec, found = m.codec.DecodeCookie(c.Value)
		} else if id, found = parseToken(c.Value); found {
			token = c.Value
			rec, found, err = m.store.Find(r.Context(), id)
			if err != nil {
				return nil, fmt.Errorf("session: find: %w", err)
			}
		}
		if found {
			st, err := m.states.decode(rec.Data)
			if err == nil && rec.Expiry.After(now) && !m.expired(&st, now) {
				s.id, s.token, s.userID, s.st, s.stored = id, token, rec.UserID, st, true
				if st.Remember {
					s.cookieExp = rec.Expiry
				}
				return s, nil
			}
			if m.codec == nil {
				s.oldIDs = append(s.oldIDs, id) // expired or unreadable: remove it
			}
		}
	}
	s.reset(now)
	return s, nil
}

func (m *Manager) timeouts(remember bool) (idle, lifetime time.Duration) {
	if remember {
		return m.rememberFor, m.rememberFor
	}
	return m.idle, m.lifetime
}

func start(st *state) int64 {
	if st.AuthAt > st.Created {
		return st.AuthAt
	}
	return st.Created
}

func (m *Manager) expired(st *state, now time.Time) bool {
	idle, life := m.timeouts(st.Remember)
	return now.Sub(unix(st.LastSeen)) > idle || now.Sub(unix(start(st))) > life
}

// expiry is the earlier of the idle and the absolute deadline.
func (m *Manager) expiry(st *state) time.Time {
	idle, life := m.timeouts(st.Remember)
	e := unix(st.LastSeen).Add(idle)
	if a := unix(start(st)).Add(life); a.Before(e) {
		e = a
	}
	return e
}

// commit saves s if needed and sets or deletes the cookie in h.
func (m *Manager) commit(ctx context.Context, h http.Header, s *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return nil
	}
	s.committed = true
	h.Add("Vary", "Cookie")
	now := m.now()
	keep := s.userID != "" || len(s.st.Values) > 0 || len(s.st.Flashes) > 0
	if !keep {
		// Anonymous and empty: nothing is stored and no cookie is given.
		if s.stored && s.id != "" && m.codec == nil {
			s.oldIDs = append(s.oldIDs, s.id)
		}
		s.stored = false
		if err := m.deleteOld(ctx, s); err != nil {
			return err
		}
		if s.cookieSeen {
			m.setCookie(h, "", time.Time{}, now)
		}
		return nil
	}
	if s.stored && !s.modified && now.Sub(unix(s.st.LastSeen)) < m.touch {
		return nil // nothing changed, and last-seen is recent enough
	}
	s.ensureToken()
	s.st.LastSeen = now.Unix()
	exp := m.expiry(&s.st)
	data, err := s.st.encode()
	if err != nil {
		return err
	}
	rec := Record{UserID: s.userID, Data: data, Expiry: exp}
	var cookieExp time.Time
	if s.st.Remember {
		cookieExp = exp
	}
	if m.codec != nil {
		value, err := m.codec.EncodeCookie(s.id, rec)
		if err != nil {
			return fmt.Errorf("session: encode cookie: %w", err)
		}
		c := m.cookie(value, cookieExp, now)
		if len(c) > MaxCookieSize {
			return fmt.Errorf("%w: cookie of %d bytes, limit %d", ErrTooLarge, len(c), MaxCookieSize)
		}
		h.Add("Set-Cookie", c)
	} else {
		if err := m.store.Save(ctx, s.id, rec); err != nil {
			return fmt.Errorf("session: save: %w", err)
		}
		if s.issued || !cookieExp.Equal(s.cookieExp) {
			h.Add("Set-Cookie", m.cookie(s.token, cookieExp, now))
		}
	}
	h.Add("Cache-Control", `no-cache="Set-Cookie"`)
	s.stored, s.issued, s.modified, s.cookieExp = true, false, false, cookieExp
	return m.deleteOld(ctx, s)
}

func (m *Manager) deleteOld(ctx context.Context, s *Session) error {
	for len(s.oldIDs) > 0 {
		if err := m.store.Delete(ctx, s.oldIDs[0]); err != nil {
			return fmt.Errorf("session: delete: %w", err)
		}
		s.oldIDs = s.oldIDs[1:]
	}
	return nil
}

// cookie renders the session cookie; an empty value deletes it.
func (m *Manager) cookie(value string, exp, now time.Time) string {
	c := &http.Cookie{
		Name:     m.cookieName,
		Value:    value,
		Path:     "/",
		Domain:   m.domain,
		Secure:   !m.insecure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case value == "":
		c.MaxAge = -1
	case !exp.IsZero():
		c.Expires = exp.UTC()
		c.MaxAge = max(int(exp.Sub(now)/time.Second), 1)
	}
	return c.String()
}

func (m *Manager) setCookie(h http.Header, value string, exp, now time.Time) {
	h.Add("Set-Cookie", m.cookie(value, exp, now))
	h.Add("Cache-Control", `no-cache="Set-Cookie"`)
}

// Info describes one session, for a "your sessions" page.
type Info struct {
	// Handle identifies the session (the SHA-256 of its token); compare it
	// with Session.Handle to mark the current one, and pass it to
	// RevokeOne.
	Handle    string
	UserID    string
	CreatedAt time.Time
	AuthAt    time.Time
	LastSeen  time.Time
	IP        string
	UserAgent string
	Remember  bool
	Expiry    time.Time
}

// List returns the live sessions of userID, most recently seen first. It
// needs a store implementing UserLister; otherwise ErrNotSupported.
func (m *Manager) List(ctx context.Context, userID string) ([]Info, error) {
	l, ok := m.store.(UserLister)
	if !ok || m.codec != nil {
		return nil, ErrNotSupported
	}
	if userID == "" {
		return nil, nil
	}
	entries, err := l.FindByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	now := m.now()
	infos := make([]Info, 0, len(entries))
	for _, e := range entries {
		if e.Record.UserID != userID || !e.Record.Expiry.After(now) {
			continue
		}
		st, err := decodeState(e.Record.Data)
		if err != nil || m.expired(&st, now) {
			continue
		}
		infos = append(infos, st.info(e.ID, e.Record))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].LastSeen.After(infos[j].LastSeen) })
	return infos, nil
}

func (st *state) info(id string, rec Record) Info {
	return Info{
		Handle:    id,
		UserID:    rec.UserID,
		CreatedAt: unix(st.Created),
		AuthAt:    st.authTime(),
		LastSeen:  unix(st.LastSeen),
		IP:        st.IP,
		UserAgent: st.UA,
		Remember:  st.Remember,
		Expiry:    rec.Expiry,
	}
}

// RevokeOne ends the session with this handle if it belongs to userID, and
// returns ErrNotFound otherwise (a malformed handle, an unknown one, or one
// of another user). It works with every server-side store; with a cookie
// store it returns ErrNotSupported.
func (m *Manager) RevokeOne(ctx context.Context, userID, handle string) error {
	if m.codec != nil {
		return ErrNotSupported
	}
	if userID == "" || !ValidHandle(handle) {
		return ErrNotFound
	}
	rec, found, err := m.store.Find(ctx, handle)
	if err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if !found || rec.UserID != userID {
		return ErrNotFound
	}
	if err := m.store.Delete(ctx, handle); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	return nil
}

// RevokeAll ends every session of userID except the one with exceptHandle
// ("" ends them all, such as when an account is disabled) and reports how
// many records were removed. It needs a store implementing UserDeleter;
// otherwise ErrNotSupported.
func (m *Manager) RevokeAll(ctx context.Context, userID, exceptHandle string) (int, error) {
	d, ok := m.store.(UserDeleter)
	if !ok || m.codec != nil {
		return 0, ErrNotSupported
	}
	if exceptHandle != "" && !ValidHandle(exceptHandle) {
		return 0, fmt.Errorf("%w: malformed handle to keep", ErrNotFound)
	}
	if userID == "" {
		return 0, nil
	}
	n, err := d.DeleteByUser(ctx, userID, exceptHandle)
	if err != nil {
		return n, fmt.Errorf("session: revoke all: %w", err)
	}
	return n, nil
}

// Sweep removes expired records once, for stores implementing Sweeper;
// otherwise it returns ErrNotSupported.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	sw, ok := m.store.(Sweeper)
	if !ok {
		return 0, ErrNotSupported
	}
	n, err := sw.DeleteExpired(ctx)
	if err != nil {
		return n, fmt.Errorf("session: sweep: %w", err)
	}
	return n, nil
}

// RunSweeper calls Sweep every interval until ctx is done, logging failures,
// and then returns nil. It returns ErrNotSupported at once when the store
// needs no sweeping (it does not implement Sweeper).
func (m *Manager) RunSweeper(ctx context.Context, interval time.Duration) error {
	if _, ok := m.store.(Sweeper); !ok {
		return ErrNotSupported
	}
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := m.Sweep(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.log.WarnContext(ctx, "session sweep failed", "err", err)
			} else if n > 0 {
				m.log.DebugContext(ctx, "session sweep", "deleted", n)
			}
		}
	}
}
