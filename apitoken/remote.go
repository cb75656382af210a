package apitoken

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of a [RemoteKeySet].
const (
	// DefaultMinRefresh is the shortest time between two fetches.
	DefaultMinRefresh = time.Minute
	// DefaultMaxRefresh is the longest time a fetched key set is used
	// before it is fetched again.
	DefaultMaxRefresh = time.Hour
	// DefaultMaxJWKSBytes bounds the size of a fetched key set.
	DefaultMaxJWKSBytes = 64 << 10
	// defaultCacheFor is the key set lifetime when the response says none.
	defaultCacheFor = 5 * time.Minute
	// defaultFetchTimeout bounds one fetch.
	defaultFetchTimeout = 10 * time.Second
)

// ErrFetch is wrapped by errors fetching a remote key set.
var ErrFetch = errors.New("apitoken: cannot fetch JWKS")

// RemoteOption configures a [RemoteKeySet].
type RemoteOption func(*RemoteKeySet)

// WithHTTPClient sets the client used to fetch the key set. The default
// client has a 10 second timeout and does not follow redirects.
func WithHTTPClient(c *http.Client) RemoteOption {
	return func(r *RemoteKeySet) { r.client = c }
}

// WithRefreshInterval sets the shortest time between two fetches (min) and
// the longest time a fetched key set is used (max). Within these bounds the
// response's Cache-Control max-age is honoured (5 minutes without one).
// An unknown kid triggers a fetch at most once per min.
func WithRefreshInterval(min, max time.Duration) RemoteOption {
	return func(r *RemoteKeySet) { r.minRefresh, r.maxRefresh = min, max }
}

// WithMaxResponseBytes bounds the size of the fetched key set; the default
// is [DefaultMaxJWKSBytes].
func WithMaxResponseBytes(n int64) RemoteOption {
	return func(r *RemoteKeySet) { r.maxBytes = n }
}

// WithClock sets the clock used for cache lifetimes; the default is time.Now.
func WithClock(now func() time.Time) RemoteOption {
	return func(r *RemoteKeySet) { r.now = now }
}

// WithInsecureHTTP allows a plain http:// key set URL on a host that is not
// loopback. Only use it on a network where nobody can tamper with traffic:
// whoever can change the key set can forge any token.
func WithInsecureHTTP() RemoteOption {
	return func(r *RemoteKeySet) { r.insecureHTTP = true }
}

// RemoteKeySet is a [KeyLookup] backed by the JSON Web Key Set published by
// a token issuer, such as Gatehouse's /.well-known/jwks.json. It fetches the
// set lazily, caches it, refetches it when the cache lifetime ends or when a
// token names an unknown kid (at most once per minimum refresh interval, so
// random kids cannot make it hammer the server), and keeps using the last
// good set when a fetch fails. Only Ed25519 keys are kept (see [ParseJWKS]).
// It is safe for concurrent use.
type RemoteKeySet struct {
	url          string
	ctx          context.Context
	client       *http.Client
	now          func() time.Time
	minRefresh   time.Duration
	maxRefresh   time.Duration
	maxBytes     int64
	insecureHTTP bool

	fetchMu sync.Mutex // serialises fetches

	mu          sync.Mutex // guards the fields below
	keys        []PublicKey
	expires     time.Time // when keys should be refetched
	lastAttempt time.Time // when the last fetch started
	attempted   bool
	fetches     int
	lastErr     error
}

// NewRemoteKeySet returns a key set fetched from jwksURL, which must be
// https (or http on a loopback host, or anywhere with [WithInsecureHTTP]).
// Nothing is fetched until the first lookup. ctx bounds the key set's
// lifetime: once it is done, no more fetches are made.
func NewRemoteKeySet(ctx context.Context, jwksURL string, opts ...RemoteOption) (*RemoteKeySet, error) {
	r := &RemoteKeySet{
		url:        jwksURL,
		ctx:        ctx,
		now:        time.Now,
		minRefresh: DefaultMinRefresh,
		maxRefresh: DefaultMaxRefresh,
		maxBytes:   DefaultMaxJWKSBytes,
	}
	for _, o := range opts {
		o(r)
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrConfig)
	}
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: bad JWKS URL", ErrConfig)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (r.insecureHTTP || isLoopback(u.Hostname())):
	default:
		return nil, fmt.Errorf("%w: JWKS URL must be https", ErrConfig)
	}
	if r.minRefresh <= 0 || r.maxRefresh < r.minRefresh {
		return nil, fmt.Errorf("%w: need 0 < min refresh <= max refresh", ErrConfig)
	}
	if r.maxBytes <= 0 {
		return nil, fmt.Errorf("%w: max response bytes must be positive", ErrConfig)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.client == nil {
		r.client = &http.Client{
			Timeout: defaultFetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return r, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PublicKey returns the key with id kid, fetching the key set first if it
// has never been fetched, has expired, or lacks kid and the minimum refresh
// interval has passed since the last fetch. It implements [KeyLookup].
// A fetch is shared by all callers, so it runs under the key set's own
// context (see [NewRemoteKeySet]) and a 10 second timeout, not under ctx.
func (r *RemoteKeySet) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if key, ok, fetch := r.cached(kid); !fetch {
		if ok {
			return key, nil
		}
		return nil, r.missing()
	}
	r.refresh()
	key, ok, _ := r.cached(kid)
	if ok {
		return key, nil
	}
	return nil, r.missing()
}

// cached looks kid up in the cache and says whether a fetch is due.
func (r *RemoteKeySet) cached(kid string) (key ed25519.PublicKey, ok, fetch bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if k, err := findKey(r.keys, kid); err == nil {
		key, ok = k, true
	}
	mayFetch := !r.attempted || now.Sub(r.lastAttempt) >= r.minRefresh || now.Before(r.lastAttempt)
	stale := r.keys == nil || !now.Before(r.expires)
	return key, ok, mayFetch && (stale || !ok)
}

func (r *RemoteKeySet) missing() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil && r.lastErr != nil {
		return r.lastErr
	}
	return ErrUnknownKey
}

// refresh fetches the key set unless another caller did while this one
// waited.
func (r *RemoteKeySet) refresh() {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	r.mu.Lock()
	now := r.now()
	if r.attempted && now.Sub(r.lastAttempt) < r.minRefresh && !now.Before(r.lastAttempt) {
		r.mu.Unlock()
		return // someone else just fetched
	}
	r.attempted, r.lastAttempt = true, now
	r.fetches++
	r.mu.Unlock()

	keys, cacheFor, err := r.fetch()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastErr = err // the last good set, if any, stays
		return
	}
	if cacheFor < r.minRefresh {
		cacheFor = r.minRefresh
	}
	if cacheFor > r.maxRefresh {
		cacheFor = r.maxRefresh
	}
	r.keys, r.expires, r.lastErr = keys, now.Add(cacheFor), nil
}

func (r *RemoteKeySet) fetch() ([]PublicKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(r.ctx, defaultFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: status %d", ErrFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	if int64(len(body)) > r.maxBytes {
		return nil, 0, fmt.Errorf("%w: response larger than %d bytes", ErrFetch, r.maxBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge returns the max-age of a Cache-Control header, or the default
// lifetime; no-cache and no-store mean zero (clamped to the minimum refresh
// interval by the caller).
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-cache" || d == "no-store":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 32)
			if err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return defaultCacheFor
}

// Fetches returns how many fetches the key set has started, for metrics
// and tests.
func (r *RemoteKeySet) Fetches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches
}
