package app

import (
	"strconv"
	"sync/atomic"

	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// admission bounds how many credential requests (sign-in, registration,
// resets, second factor, password changes, API tokens) are worked on at
// once. The rest wait, parked, before any of their work is done, and give up
// with 503 after a deadline. A flood of such requests — refused by rate
// limits or not — then takes at most a few goroutines' worth of CPU, and
// page requests keep their share: without it, hundreds of runnable flood
// goroutines crowd out signed-in users on a small machine.
type admission struct {
	slots    chan struct{}
	wait     time.Duration
	rejected func() // counts a request that timed out waiting
	// pre refuses at once a request whose client is already over its
	// per-IP limit.
	pre func(r *http.Request) (name string, res ratelimit.Result, refused bool)
	// tarpit is how long an early refusal is held before it is sent; at most
	// maxTarpit of them wait at once (each is a parked goroutine).
	tarpit  time.Duration
	pitting atomic.Int64
}

// Early refusals are held for a moment: a client that keeps hammering an
// exhausted budget then gets its answers at the pace of its connections,
// not as fast as the server can write them, and spends no CPU while it
// waits.
const (
	defaultTarpit = time.Second
	maxTarpit     = 10000
)

func newAdmission(size int, wait time.Duration, rejected func(), pre func(*http.Request) (string, ratelimit.Result, bool)) *admission {
	return &admission{slots: make(chan struct{}, max(size, 1)), wait: wait, rejected: rejected, pre: pre, tarpit: defaultTarpit}
}

// credentialRoute reports whether r is a request that checks or sets
// credentials.
func credentialRoute(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/login", "/login/2fa", "/register", "/password/forgot", "/password/reset", "/verify-email/resend",
		"/account/password", "/account/email", "/api/v1/token", "/api/v1/token/refresh":
		return true
	}
	return strings.HasPrefix(r.URL.Path, "/account/2fa/")
}

// handler admits credential requests through the bounded slots; other
// requests pass straight through.
func (a *admission) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !credentialRoute(r) {
			next.ServeHTTP(w, r)
			return
		}
		if name, res, refused := a.pre(r); refused {
			a.hold(r)
			refusedEarly(w, r, name, res)
			return
		}
		select {
		case a.slots <- struct{}{}:
		default:
			t := time.NewTimer(a.wait)
			select {
			case a.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				a.rejected()
				busy(w, r)
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-a.slots }()
		next.ServeHTTP(w, r)
	})
}

// hold parks an early refusal for the tarpit delay, unless too many already
// wait or the client goes away.
func (a *admission) hold(r *http.Request) {
	if a.tarpit <= 0 || a.pitting.Add(1) > maxTarpit {
		a.pitting.Add(-1)
		return
	}
	defer a.pitting.Add(-1)
	t := time.NewTimer(a.tarpit)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// refusedEarly answers 429 for a client already over its per-IP limit,
// as cheaply as busy.
func refusedEarly(w http.ResponseWriter, r *http.Request, name string, res ratelimit.Result) {
	ratelimit.WriteHeaders(w, name, res)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(res.RetryAfter, time.Second)), 10))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Too many requests","status":429,"detail":"Too many attempts. Wait and try again."}` + "\n"))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(tooManyPage))
}

const tooManyPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Too many attempts · Gatehouse</title></head><body><main><h1>Too many attempts</h1><p>Too many attempts from your network. Please wait a little and try again.</p></main></body></html>`

// busy answers 503 without touching anything else: a short page, or a
// problem+json body on the API.
func busy(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Retry-After", "2")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service busy","status":503,"detail":"The service is busy. Try again in a moment."}` + "\n"))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(busyPage))
}

const busyPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Busy · Gatehouse</title></head><body><main><h1>Busy</h1><p>The service is busy. Please try again in a moment.</p></main></body></html>`
