// Package forwardauth answers the authorization subrequests of reverse
// proxies (nginx auth_request on GET /auth/request, Caddy forward_auth and
// Traefik ForwardAuth on GET /auth/forward) from the session cookie and the
// access rules, and hands the app the user's identity in Remote-* headers.
// It is a feature package: it imports the kit, account and ring-1 packages
// (accessrule, apitoken), never internal/app nor other features.
package forwardauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/apitoken"
)

// The identity headers set on an allowed request.
const (
	HeaderUser   = "Remote-User"
	HeaderEmail  = "Remote-Email"
	HeaderName   = "Remote-Name"
	HeaderGroups = "Remote-Groups"
	HeaderToken  = "Remote-Token"
)

// identityHeaders lists them in order.
var identityHeaders = []string{HeaderUser, HeaderEmail, HeaderName, HeaderGroups, HeaderToken}

// TokenTTL is the lifetime of a Remote-Token; a cached token is replaced
// when less than tokenRefresh of it is left.
const (
	TokenTTL     = 5 * time.Minute
	tokenRefresh = time.Minute
	// ClientID is the client_id claim of every Remote-Token.
	ClientID = "gatehouse-forward-auth"
	// maxCached bounds the token cache.
	maxCached = 10000
)

// Verdicts, the metrics' "verdict" label.
const (
	VerdictAllow     = "allow"
	VerdictLogin     = "login"
	VerdictStepUp    = "step_up"
	VerdictDeny      = "deny"
	VerdictMalformed = "malformed"
	VerdictUntrusted = "untrusted"
	VerdictError     = "error"
)

// Identity is the signed-in user of a subrequest's session.
type Identity struct {
	// ID is the stable user id (Remote-User, "sub").
	ID string
	// Email and Name are the user's address and display name.
	Email, Name string
	// Roles are the user's roles (Remote-Groups).
	Roles []string
	// AMR lists how the session signed in (RFC 8176); "mfa" means two
	// factors.
	AMR []string
	// Session is an opaque, stable handle of the session, the key of the
	// token cache. It must not be the session's secret token.
	Session string
}

// TwoFactor reports whether the session signed in with two factors.
func (id *Identity) TwoFactor() bool { return slices.Contains(id.AMR, "mfa") }

// Outcome is what a subrequest was answered, for audit and metrics.
type Outcome struct {
	// Verdict is one of the Verdict constants.
	Verdict string
	// Decision is the rules' decision (zero for untrusted peers).
	Decision accessrule.Decision
	// Target is the original URL, normalized ("" when malformed).
	Target string
	// User is the signed-in user, or nil.
	User *Identity
}

// Config is what a Handler needs. Every func but Observe is required.
type Config struct {
	// BaseURL is Gatehouse's base URL: the issuer of Remote-Token and the
	// prefix of the sign-in and step-up URLs.
	BaseURL *url.URL
	// Rules returns the rules in force.
	Rules func() *accessrule.Rules
	// Trusted reports whether the socket peer is a trusted proxy
	// (TRUSTED_PROXIES); only those are believed.
	Trusted func(netip.Addr) bool
	// ClientIP is the client's address as realip sees it.
	ClientIP func(*http.Request) netip.Addr
	// Identify returns the session's user, nil when the request has no
	// valid signed-in session (none, expired, revoked, user disabled). An
	// error (a store is down) is answered 503.
	Identify func(*http.Request) (*Identity, error)
	// Tokens signs Remote-Token (the JWKS keys).
	Tokens apitoken.KeySource
	// Observe, if set, is told every outcome (audit of refusals, metrics).
	Observe func(*http.Request, Outcome)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves GET /auth/forward and GET /auth/request.
type Handler struct {
	cfg    Config
	issuer *apitoken.Issuer

	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	token string
	exp   time.Time
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.BaseURL == nil || cfg.Rules == nil || cfg.Trusted == nil || cfg.ClientIP == nil || cfg.Identify == nil || cfg.Tokens == nil {
		return nil, errors.New("forwardauth: incomplete configuration")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := strings.TrimSuffix(cfg.BaseURL.String(), "/")
	iss, err := apitoken.NewIssuer(cfg.Tokens, apitoken.IssuerConfig{
		Issuer: base, Audience: []string{base}, TTL: TokenTTL, ClientID: ClientID, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("forwardauth: %w", err)
	}
	return &Handler{cfg: cfg, issuer: iss, cache: map[string]cachedToken{}}, nil
}

// Forward serves GET /auth/forward (Traefik, Caddy): the original request
// is in X-Forwarded-Method, -Proto, -Host and -Uri.
func (h *Handler) Forward() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, false) })
}

// Request serves GET /auth/request (nginx auth_request): the original
// request is in X-Original-Method and X-Original-URL.
func (h *Handler) Request() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, true) })
}

// Register adds both routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /auth/forward", h.Forward())
	mux.Handle("GET /auth/request", h.Request())
}

// single returns the only value of a header, or false when it is missing
// or sent more than once (which reading could pick differently).
func single(r *http.Request, name string) (string, bool) {
	v := r.Header.Values(name)
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// original reads the original request from the proxy's headers.
func original(r *http.Request, nginx bool) (method string, t accessrule.Target, err error) {
	bad := fmt.Errorf("%w: missing or repeated forwarding header", accessrule.ErrMalformed)
	if nginx {
		m, ok1 := single(r, "X-Original-Method")
		u, ok2 := single(r, "X-Original-URL")
		if !ok1 || !ok2 {
			return "", t, bad
		}
		t, err = accessrule.ParseURL(u)
		method = m
	} else {
		m, ok1 := single(r, "X-Forwarded-Method")
		proto, ok2 := single(r, "X-Forwarded-Proto")
		host, ok3 := single(r, "X-Forwarded-Host")
		uri, ok4 := single(r, "X-Forwarded-Uri")
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return "", t, bad
		}
		t, err = accessrule.NewTarget(strings.ToLower(proto), host, uri)
		method = m
	}
	if err != nil {
		return "", t, err
	}
	method, err = accessrule.NormalizeMethod(method)
	return method, t, err
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, nginx bool) {
	w.Header().Set("Cache-Control", "no-store")
	out := Outcome{}
	defer func() {
		if h.cfg.Observe != nil {
			h.cfg.Observe(r, out)
		}
	}()
	if !h.cfg.Trusted(peerAddr(r)) {
		out.Verdict = VerdictUntrusted
		http.Error(w, "Forbidden: not a trusted proxy", http.StatusForbidden)
		return
	}
	method, target, err := original(r, nginx)
	if err != nil {
		out.Verdict = VerdictMalformed
		out.Decision = accessrule.Decision{Policy: accessrule.Deny, Rule: accessrule.NoRule, Reason: err.Error(), Malformed: true}
		http.Error(w, "Forbidden: malformed original request", http.StatusForbidden)
		return
	}
	out.Target = target.URL()
	user, err := h.cfg.Identify(r)
	if err != nil {
		out.Verdict = unavailable(w)
		return
	}
	out.User = user
	req := accessrule.Request{Method: method, Host: target.Host, Path: target.Path, ClientIP: h.cfg.ClientIP(r)}
	if user != nil {
		req.User = &accessrule.Identity{ID: user.ID, Email: user.Email, Roles: user.Roles}
	}
	d := h.cfg.Rules().Decide(req)
	out.Decision = d
	switch {
	case d.Malformed:
		out.Verdict = VerdictMalformed
	case d.Policy == accessrule.Deny:
		out.Verdict = VerdictDeny
	case d.Policy == accessrule.Public && user == nil:
		out.Verdict = VerdictAllow
		for _, name := range identityHeaders {
			w.Header()[name] = []string{""} // replace what a client sent
		}
		w.WriteHeader(http.StatusOK)
		return
	case user == nil:
		out.Verdict = VerdictLogin
		h.redirect(w, r, nginx, method, "/login", target)
		return
	case d.Policy == accessrule.TwoFactor && !user.TwoFactor():
		out.Verdict = VerdictStepUp
		h.redirect(w, r, nginx, method, "/login/step-up", target)
		return
	default:
		token, err := h.token(user, target.Origin())
		if err != nil {
			out.Verdict = unavailable(w)
			return
		}
		out.Verdict = VerdictAllow
		hd := w.Header()
		hd.Set(HeaderUser, user.ID)
		hd.Set(HeaderEmail, headerSafe(user.Email))
		hd.Set(HeaderName, headerSafe(user.Name))
		hd.Set(HeaderGroups, strings.Join(user.Roles, ","))
		hd.Set(HeaderToken, token)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Error(w, "Forbidden", http.StatusForbidden)
}

// unavailable answers 503 (a store or the keys failed: fail closed) and
// returns the verdict.
func unavailable(w http.ResponseWriter) string {
	w.Header().Set("Retry-After", "5")
	http.Error(w, "Service unavailable", http.StatusServiceUnavailable)
	return VerdictError
}

// headerSafe replaces control characters, which no header may carry.
func headerSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, s)
}

// redirect sends the user to a Gatehouse page (sign-in or step-up) that
// returns to the original URL.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, nginx bool, method, page string, t accessrule.Target) {
	loc := strings.TrimSuffix(h.cfg.BaseURL.String(), "/") + page + "?next=" + url.QueryEscape(t.URL())
	w.Header().Set("Location", loc)
	switch {
	case nginx || !wantsHTML(r):
		w.Header().Set("WWW-Authenticate", `Cookie realm="gatehouse"`)
		w.WriteHeader(http.StatusUnauthorized)
	case method == http.MethodGet || method == http.MethodHead:
		w.WriteHeader(http.StatusFound)
	default:
		w.WriteHeader(http.StatusSeeOther)
	}
}

// wantsHTML reports whether the original request was a browser's page
// load: it accepts text/html and is not an XHR.
func wantsHTML(r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				return true
			}
		}
	}
	return false
}

// token returns a Remote-Token for user and origin, from the cache while
// more than tokenRefresh of its life is left.
func (h *Handler) token(u *Identity, origin string) (string, error) {
	key := strings.Join([]string{u.Session, u.ID, origin, strings.Join(u.AMR, " "), strings.Join(u.Roles, ","), u.Email, u.Name}, "\x00")
	now := h.cfg.Now()
	h.mu.Lock()
	c, ok := h.cache[key]
	h.mu.Unlock()
	if ok && c.exp.Sub(now) > tokenRefresh {
		return c.token, nil
	}
	tok, claims, err := h.issuer.Issue(u.ID, apitoken.Extra{
		Audience: []string{origin}, Email: u.Email, Name: u.Name,
		Groups: u.Roles, Roles: u.Roles, AMR: u.AMR,
	})
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cache) >= maxCached {
		for k, v := range h.cache {
			if v.exp.Sub(now) <= tokenRefresh {
				delete(h.cache, k)
			}
		}
		if len(h.cache) >= maxCached {
			clear(h.cache)
		}
	}
	h.cache[key] = cachedToken{token: tok, exp: claims.ExpiresAt}
	return tok, nil
}
