package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/ratelimittest"
	"github.com/gatehouse/gatehouse/realip"
)

func ExampleParseLimit() {
	l, err := ratelimit.ParseLimit("5/min burst 10")
	if err != nil {
		panic(err) // refuse to start
	}
	fmt.Println(l, l.Interval(), l.BurstSize())

	_, err = ratelimit.ParseLimit("0/min")
	fmt.Println(err)
	// Output:
	// 5/min burst 10 12s 10
	// ratelimit: invalid limit: rate must be at least 1
}

func ExampleMemory() {
	ctx := context.Background()
	limiter := ratelimit.NewMemory()
	limit := ratelimit.PerMinute(2)
	for range 3 {
		res, _ := limiter.Allow(ctx, "ip:192.0.2.1", limit)
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter.Round(time.Second))
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 30s
}

func ExampleMiddleware() {
	trusted, _ := realip.ParseTrusted("10.0.0.0/8") // TRUSTED_PROXIES
	resolver := realip.New(trusted)
	limiter := ratelimit.NewMemory()

	perIP := ratelimit.Middleware(limiter, ratelimit.PerMinute(10), ratelimit.ByIP(resolver.ClientIP),
		ratelimit.WithName("login-ip"),
		ratelimit.WithObserver(func(r *http.Request, ev ratelimit.Event) {
			// count refusals in Prometheus, write an audit event...
		}))
	mux := http.NewServeMux()
	mux.Handle("POST /login", perIP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "signed in")
	})))

	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "203.0.113.7:5555"
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
	// Output:
	// 200 "login-ip";q=10;w=60 "login-ip";r=9;t=6
}

// A handler limits per account after reading the form, and answers with
// the same headers as the middleware.
func ExampleWriteHeaders() {
	limiter := ratelimit.NewMemory()
	perAccount := ratelimit.PerHour(5)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.PostFormValue("email")
		res, err := limiter.Allow(r.Context(), "reset:"+email, perAccount)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		ratelimit.WriteHeaders(w, "reset-account", res)
		if !res.Allowed {
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		fmt.Fprintln(w, "if the address is known, a link is on its way")
	})
	for range 6 {
		r := httptest.NewRequest("POST", "/password/forgot", nil)
		r.Form = map[string][]string{"email": {"ada@example.com"}}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d Retry-After: %q\n", w.Code, w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After: ""
	// 200 Retry-After: ""
	// 200 Retry-After: ""
	// 200 Retry-After: ""
	// 200 Retry-After: ""
	// 429 Retry-After: "720"
}

// The sign-in flow with a backoff: check, verify, then record the failure
// or clear the key.
func ExampleMemoryBackoff() {
	ctx := context.Background()
	clock := ratelimittest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	backoff := ratelimit.NewMemoryBackoff(ratelimit.WithNow(clock.Now))
	policy := ratelimit.BackoffPolicy{Free: 2, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}

	signIn := func(password string) string {
		st, err := backoff.Check(ctx, "acct:ada", policy)
		if err != nil {
			return "503"
		}
		if st.Locked {
			return fmt.Sprintf("429 Retry-After: %d", ratelimit.RetryAfterSeconds(st.RetryAfter))
		}
		if password != "correct horse" {
			st, _ = backoff.Fail(ctx, "acct:ada", policy)
			if !st.Locked {
				return fmt.Sprintf("401 (failures: %d)", st.Failures)
			}
			return fmt.Sprintf("401 (failures: %d, locked until %s)", st.Failures, st.Until.UTC().Format(time.TimeOnly))
		}
		backoff.Reset(ctx, "acct:ada")
		return "303 signed in"
	}
	fmt.Println(signIn("a"))
	fmt.Println(signIn("b"))
	fmt.Println(signIn("c"))
	fmt.Println(signIn("correct horse"))
	clock.Advance(time.Second)
	fmt.Println(signIn("d"))
	fmt.Println(signIn("correct horse"))
	// Output:
	// 401 (failures: 1)
	// 401 (failures: 2)
	// 401 (failures: 3, locked until 12:00:01)
	// 429 Retry-After: 1
	// 401 (failures: 4, locked until 12:00:03)
	// 429 Retry-After: 2
}
