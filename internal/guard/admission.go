package guard

import (
	"strconv"
	"sync/atomic"

	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// Admission bounds how many credential requests (sign-in, registration,
// resets, second factor, password changes, API tokens) are worked on at
// once. The rest wait, parked, before any of their work is done, and give up
// with 503 after a deadline. A flood of such requests — refused by rate
// limits or not — then takes at most a few goroutines' worth of CPU, and
// page requests keep their share: without it, hundreds of runnable flood
// goroutines crowd out signed-in users on a small machine.
type Admission struct {
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

// NewAdmission bounds credential requests to size at once; the rest wait up
// to wait, then get 503 (rejected counts them). pre (the guard's PreRefuse)
// refuses at once a client already over its per-IP limit.
func NewAdmission(size int, wait time.Duration, rejected func(), pre func(*http.Request) (string, ratelimit.Result, bool)) *Admission {
	return &Admission{slots: make(chan struct{}, max(size, 1)), wait: wait, rejected: rejected, pre: pre, tarpit: defaultTarpit}
}

// credentialRoute reports whether r is a request that checks or sets
// credentials.
func credentialRoute(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/login", "/login/2fa", "/login/step-up", "/register", "/password/forgot", "/password/reset", "/verify-email/resend",
		"/account/password", "/account/email", "/api/v1/token", "/api/v1/token/refresh":
		return true
	}
	return strings.HasPrefix(r.URL.Path, "/account/2fa/")
}

// Handler admits credential requests through the bounded slots; other
// requests pass straight through.
func (a *Admission) Handler(next http.Handler) http.Handler {
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
func (a *Admission) hold(r *http.Request) {
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

// cheapAnswer is a fixed answer written without templates, sessions or
// anything else: for refusals that must cost next to nothing.
type cheapAnswer struct {
	status int
	json   string // problem+json body for the API
	page   string // HTML page otherwise
}

var (
	tooManyAnswer = cheapAnswer{http.StatusTooManyRequests,
		`{"type":"about:blank","title":"Too many requests","status":429,"detail":"Too many attempts. Wait and try again."}` + "\n",
		cheapPage("Too many attempts", "Too many attempts from your network. Please wait a little and try again.")}
	busyAnswer = cheapAnswer{http.StatusServiceUnavailable,
		`{"type":"about:blank","title":"Service busy","status":503,"detail":"The service is busy. Try again in a moment."}` + "\n",
		cheapPage("Busy", "The service is busy. Please try again in a moment.")}
)

func cheapPage(title, text string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>` +
		title + ` · Gatehouse</title></head><body><main><h1>` + title + `</h1><p>` + text + `</p></main></body></html>`
}

func (a cheapAnswer) write(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(retryAfter, time.Second)), 10))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	body := a.page
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Content-Type", "application/problem+json")
		body = a.json
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(body))
}

// refusedEarly answers 429 for a client already over its per-IP limit.
func refusedEarly(w http.ResponseWriter, r *http.Request, name string, res ratelimit.Result) {
	ratelimit.WriteHeaders(w, name, res)
	tooManyAnswer.write(w, r, res.RetryAfter)
}

// busy answers 503 when no admission slot freed up in time.
func busy(w http.ResponseWriter, r *http.Request) { busyAnswer.write(w, r, 2*time.Second) }
