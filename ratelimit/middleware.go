package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A KeyFunc names the bucket a request is counted in, such as its client
// IP. Keys longer than MaxKeyLen are hashed by the backend.
type KeyFunc func(r *http.Request) string

// ByIP counts requests per client address, as clientIP reports it (use
// realip.Resolver.ClientIP behind a proxy, so that X-Forwarded-For is only
// believed from trusted proxies). IPv6 addresses are grouped by their /64
// prefix, since one subscriber usually holds a whole /64. An invalid
// address (the zero netip.Addr) counts in one shared bucket, "ip:unknown".
func ByIP(clientIP func(*http.Request) netip.Addr) KeyFunc {
	return func(r *http.Request) string {
		a := clientIP(r)
		switch {
		case !a.IsValid():
			return "ip:unknown"
		case a.Is6():
			p, _ := a.Prefix(64)
			return "ip:" + p.String()
		}
		return "ip:" + a.String()
	}
}

// ByRoute counts requests per route: the method and the ServeMux pattern
// that matched (r.Pattern), or the path when no pattern is set.
func ByRoute() KeyFunc {
	return func(r *http.Request) string {
		if r.Pattern != "" {
			return "route:" + r.Pattern
		}
		return "route:" + r.Method + " " + r.URL.Path
	}
}

// Join combines key functions into one key, such as per IP and per route.
func Join(keys ...KeyFunc) KeyFunc {
	return func(r *http.Request) string {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k(r)
		}
		return strings.Join(parts, "|")
	}
}

// Event describes a refused request, or a backend error, to an Observer.
type Event struct {
	Name   string // the policy name (WithName)
	Key    string // the key the request was counted under, name included
	Result Result // the decision (zero on error)
	Err    error  // the backend error, if any
}

// An Observer is told of every refusal and backend error, for instance to
// count them in Prometheus and write an audit event. It runs on the
// request's goroutine and must not write to the response.
type Observer func(r *http.Request, ev Event)

// An Option configures Middleware.
type Option func(*middleware)

// WithName names the policy (default "default"). The name prefixes every
// key, so that two middlewares sharing a backend never share buckets, and
// is the policy name in the RateLimit headers. Characters other than
// letters, digits, '.', '_' and '-' are replaced by '_'.
func WithName(name string) Option {
	return func(m *middleware) { m.name = cleanName(name) }
}

// WithObserver sets the hook told of refusals and errors.
func WithObserver(o Observer) Option {
	return func(m *middleware) { m.observe = o }
}

// WithErrorHandler replaces the answer given when the backend fails. The
// default fails closed with 503 Service Unavailable; the request is never
// passed on.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(m *middleware) { m.onError = h }
}

// WithRefusedHandler replaces the body of the 429 answer. The status line
// is left to h; the Retry-After and RateLimit headers are already set.
func WithRefusedHandler(h func(w http.ResponseWriter, r *http.Request, res Result)) Option {
	return func(m *middleware) { m.onRefused = h }
}

type middleware struct {
	backend   Backend
	limit     Limit
	key       KeyFunc
	name      string
	observe   Observer
	onError   func(http.ResponseWriter, *http.Request, error)
	onRefused func(http.ResponseWriter, *http.Request, Result)
}

// Middleware limits requests: each one consumes an event from the bucket
// key(r) under limit. An allowed request passes on with the RateLimit and
// RateLimit-Policy headers set; a refused one gets 429 Too Many Requests
// with Retry-After (whole seconds, rounded up) and the same headers. A
// backend error fails closed: 503, unless WithErrorHandler says otherwise.
func Middleware(backend Backend, limit Limit, key KeyFunc, opts ...Option) func(http.Handler) http.Handler {
	m := &middleware{backend: backend, limit: limit, key: key, name: "default",
		onError: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		},
		onRefused: func(w http.ResponseWriter, r *http.Request, res Result) {
			http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		},
	}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := m.name + ":" + m.key(r)
			res, err := m.backend.Allow(r.Context(), k, m.limit)
			if err != nil {
				if m.observe != nil {
					m.observe(r, Event{Name: m.name, Key: k, Err: err})
				}
				m.onError(w, r, err)
				return
			}
			WriteHeaders(w, m.name, res)
			if !res.Allowed {
				if m.observe != nil {
					m.observe(r, Event{Name: m.name, Key: k, Result: res})
				}
				m.onRefused(w, r, res)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteHeaders sets, on w, the fields of draft-ietf-httpapi-ratelimit-headers
// for a decision under the policy name:
//
//	RateLimit-Policy: "name";q=BURST;w=WINDOW
//	RateLimit: "name";r=REMAINING;t=RESET
//
// where WINDOW is the seconds a spent key takes to refill completely and
// RESET the seconds until this key is full again (both rounded up). When
// res is a refusal it also sets Retry-After. Handlers that decide
// themselves (per account, after reading a form) call it before writing
// the status.
func WriteHeaders(w http.ResponseWriter, name string, res Result) {
	h := w.Header()
	n := cleanName(name)
	h.Set("RateLimit-Policy", `"`+n+`";q=`+strconv.Itoa(res.Limit.BurstSize())+";w="+strconv.FormatInt(seconds(res.Limit.Window()), 10))
	h.Set("RateLimit", `"`+n+`";r=`+strconv.Itoa(max(res.Remaining, 0))+";t="+strconv.FormatInt(seconds(res.ResetAfter), 10))
	if !res.Allowed {
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(res.RetryAfter), 10))
	}
}

// RetryAfterSeconds returns d in whole seconds, rounded up, at least 1:
// the value of a Retry-After field.
func RetryAfterSeconds(d time.Duration) int64 { return max(seconds(d), 1) }

// seconds rounds d up to whole seconds; negative is 0.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func cleanName(name string) string {
	if name == "" {
		return "default"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
