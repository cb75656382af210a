package guard

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

func TestAdmissionBoundsCredentialRequests(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if credentialRoute(r) {
			<-release
		}
		inFlight.Add(-1)
	})
	var rejected atomic.Int32
	noPre := func(*http.Request) (string, ratelimit.Result, bool) { return "", ratelimit.Result{}, false }
	a := NewAdmission(2, time.Hour, func() { rejected.Add(1) }, noPre)
	h := a.Handler(next)

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
		}()
	}
	// Pages are never held back by waiting credential requests.
	for deadline := time.Now().Add(5 * time.Second); inFlight.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // waiting for the goroutines to start, not for expiry
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard", nil))
	if rec.Code != 200 {
		t.Fatalf("page during a credential flood: %d", rec.Code)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p > 3 { // two credential requests plus the page
		t.Fatalf("peak concurrency %d, want at most 2 credential requests", p)
	}
}

func TestAdmissionTimesOutAndRefusesEarly(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block })
	var rejected atomic.Int32
	refuse := true
	pre := func(r *http.Request) (string, ratelimit.Result, bool) {
		return "login", ratelimit.Result{Limit: ratelimit.PerHour(1), RetryAfter: 90 * time.Second}, refuse && r.URL.Path == "/api/v1/token"
	}
	a := NewAdmission(1, 20*time.Millisecond, func() { rejected.Add(1) }, pre)
	a.tarpit = 30 * time.Millisecond
	h := a.Handler(next)
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	for len(a.slots) == 0 {
		time.Sleep(time.Millisecond)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/register", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rejected.Load() != 1 {
		t.Fatalf("waiting past the deadline: %d %q, rejected %d", rec.Code, rec.Header().Get("Retry-After"), rejected.Load())
	}
	rec = httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/token", nil))
	if held := time.Since(start); held < a.tarpit {
		t.Errorf("early refusal answered after %s, want it held %s", held, a.tarpit)
	}
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "90" || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("early refusal: %d %v", rec.Code, rec.Header())
	}
}
