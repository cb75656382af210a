package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/ratelimittest"
	"github.com/gatehouse/gatehouse/realip"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func serve(h http.Handler, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestMiddleware(t *testing.T) {
	clock := ratelimittest.NewClock(time.Unix(1_700_000_000, 0))
	backend := ratelimit.NewMemory(ratelimit.WithNow(clock.Now))
	resolver := realip.New(nil)
	var events []ratelimit.Event
	mw := ratelimit.Middleware(backend, ratelimit.PerMinute(3), ratelimit.ByIP(resolver.ClientIP),
		ratelimit.WithName("login"),
		ratelimit.WithObserver(func(r *http.Request, ev ratelimit.Event) { events = append(events, ev) }))
	h := mw(okHandler)

	tests := []struct {
		remote      string
		wantStatus  int
		wantRL      string
		retryAfter  string
		wantEvents  int
		advanceTime time.Duration
	}{
		{"192.0.2.1:1", 204, `"login";r=2;t=20`, "", 0, 0},
		{"192.0.2.1:2", 204, `"login";r=1;t=40`, "", 0, 0},
		{"192.0.2.1:3", 204, `"login";r=0;t=60`, "", 0, 0},
		{"192.0.2.1:4", 429, `"login";r=0;t=60`, "20", 1, 0},
		{"192.0.2.2:1", 204, `"login";r=2;t=20`, "", 1, 0},                // another IP
		{"192.0.2.1:5", 429, `"login";r=0;t=60`, "20", 2, 0},              // still refused
		{"192.0.2.1:6", 204, `"login";r=0;t=60`, "", 2, 20 * time.Second}, // one earned back
	}
	for i, tt := range tests {
		clock.Advance(tt.advanceTime)
		w := serve(h, tt.remote)
		if w.Code != tt.wantStatus {
			t.Fatalf("request %d: status %d, want %d", i, w.Code, tt.wantStatus)
		}
		if got := w.Header().Get("RateLimit"); got != tt.wantRL {
			t.Errorf("request %d: RateLimit = %q, want %q", i, got, tt.wantRL)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != `"login";q=3;w=60` {
			t.Errorf("request %d: RateLimit-Policy = %q", i, got)
		}
		if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("request %d: Retry-After = %q, want %q", i, got, tt.retryAfter)
		}
		if len(events) != tt.wantEvents {
			t.Errorf("request %d: %d observer events, want %d", i, len(events), tt.wantEvents)
		}
	}
	if ev := events[0]; ev.Name != "login" || ev.Key != "login:ip:192.0.2.1" || ev.Result.Allowed || ev.Err != nil {
		t.Errorf("event = %+v", ev)
	}
}

func TestMiddlewareIPv6Grouping(t *testing.T) {
	h := ratelimit.Middleware(ratelimit.NewMemory(), ratelimit.PerHour(1), ratelimit.ByIP(realip.New(nil).ClientIP))(okHandler)
	if w := serve(h, "[2001:db8:1:2::1]:1"); w.Code != 204 {
		t.Fatalf("first: %d", w.Code)
	}
	if w := serve(h, "[2001:db8:1:2:ffff::9]:1"); w.Code != 429 {
		t.Fatalf("same /64: %d, want 429", w.Code)
	}
	if w := serve(h, "[2001:db8:1:3::1]:1"); w.Code != 204 {
		t.Fatalf("other /64: %d, want 204", w.Code)
	}
}

// failing is a Backend whose storage is down.
type failing struct{ ratelimit.Backend }

func (failing) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("connection refused")
}

func TestMiddlewareFailsClosed(t *testing.T) {
	var seen error
	obs := ratelimit.WithObserver(func(r *http.Request, ev ratelimit.Event) { seen = ev.Err })
	h := ratelimit.Middleware(failing{}, ratelimit.PerMinute(5), ratelimit.ByRoute(), obs)(okHandler)
	if w := serve(h, "192.0.2.1:1"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	if seen == nil {
		t.Error("observer not told of the error")
	}
	custom := ratelimit.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusTeapot) })
	h = ratelimit.Middleware(failing{}, ratelimit.PerMinute(5), ratelimit.ByRoute(), custom)(okHandler)
	if w := serve(h, "192.0.2.1:1"); w.Code != http.StatusTeapot {
		t.Fatalf("custom error handler: status %d", w.Code)
	}
	// An invalid limit is a backend error too: closed.
	h = ratelimit.Middleware(ratelimit.NewMemory(), ratelimit.Limit{}, ratelimit.ByRoute())(okHandler)
	if w := serve(h, "192.0.2.1:1"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("invalid limit: status %d, want 503", w.Code)
	}
}

func TestKeyFuncs(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	key := ratelimit.Join(ratelimit.ByRoute(), ratelimit.ByIP(func(*http.Request) netip.Addr { return netip.Addr{} }))
	mux.HandleFunc("POST /users/{id}", func(w http.ResponseWriter, r *http.Request) { got = key(r) })
	req := httptest.NewRequest(http.MethodPost, "/users/42", nil)
	mux.ServeHTTP(httptest.NewRecorder(), req)
	if got != "route:POST /users/{id}|ip:unknown" {
		t.Errorf("key = %q", got)
	}
	if k := ratelimit.ByRoute()(httptest.NewRequest(http.MethodPost, "/users/42", nil)); k != "route:POST /users/42" {
		t.Errorf("ByRoute without a pattern = %q", k)
	}
}

func TestWriteHeaders(t *testing.T) {
	tests := []struct {
		name           string
		res            ratelimit.Result
		policy, rl, ra string
	}{
		{"allowed", ratelimit.Result{Allowed: true, Limit: ratelimit.PerMinute(5), Remaining: 4, ResetAfter: 12 * time.Second},
			`"n";q=5;w=60`, `"n";r=4;t=12`, ""},
		{"refused, rounded up", ratelimit.Result{Limit: ratelimit.PerMinute(5).WithBurst(10), RetryAfter: 1100 * time.Millisecond, ResetAfter: 119 * time.Second},
			`"n";q=10;w=120`, `"n";r=0;t=119`, "2"},
		{"refused, tiny wait", ratelimit.Result{Limit: ratelimit.PerSecond(1000), RetryAfter: time.Microsecond, ResetAfter: time.Second},
			`"n";q=1000;w=1`, `"n";r=0;t=1`, "1"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		ratelimit.WriteHeaders(w, "n", tt.res)
		h := w.Header()
		if h.Get("RateLimit-Policy") != tt.policy || h.Get("RateLimit") != tt.rl || h.Get("Retry-After") != tt.ra {
			t.Errorf("%s: headers %v", tt.name, h)
		}
	}
	w := httptest.NewRecorder()
	ratelimit.WriteHeaders(w, "bad\"name\\\r\n", ratelimit.Result{Allowed: true, Limit: ratelimit.PerSecond(1)})
	if got := w.Header().Get("RateLimit"); got != `"bad_name___";r=0;t=0` {
		t.Errorf("unsafe name written as %q", got)
	}
}
