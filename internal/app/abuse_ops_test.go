package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A sign-in flood against one hashing worker with a short queue wait gets
// 503 with Retry-After for what cannot be hashed in time, while pages that
// hash nothing still answer.
func TestAbuseBoundedHashing(t *testing.T) {
	m := freeAddr(t)
	// A slow hash (64 MiB, 3 passes) so that the flood overlaps.
	ts := startServer(t, "--hash-workers=1", "--hash-queue-wait=5ms", "--argon2-memory=65536", "--argon2-time=3",
		"--metrics-addr", m, "--trusted-proxies=127.0.0.1")
	user := ts.browser()
	user.register("busy@example.com", goodPassword)
	user.signIn("busy@example.com", goodPassword)

	const flood = 12
	forms := make([]prepared, flood)
	for i := range forms {
		forms[i] = ts.prepare(ipN("198.51.100", i+1))
	}
	pages := make(chan time.Duration, 1)
	counts := statusCounts(flood+1, func(i int) *response {
		if i == flood {
			// A page request in the middle of the flood.
			time.Sleep(20 * time.Millisecond) // let the flood take the worker (not waiting for expiry)
			start := time.Now()
			r := user.get("/dashboard").want(t, 200, "busy@example.com")
			pages <- time.Since(start)
			return r
		}
		r := forms[i].signIn(ipN("nobody", i)+"@example.com", "some password")
		if r.StatusCode == 503 && (r.Header.Get("Retry-After") == "" || !strings.Contains(r.body, "busy")) {
			t.Errorf("503 without Retry-After or message: %q\n%s", r.Header.Get("Retry-After"), trim(r.body))
		}
		return r
	})
	if d := <-pages; d > 2*time.Second {
		t.Errorf("the dashboard took %s during the flood", d)
	}
	if counts[503] == 0 || counts[503]+counts[401] != flood {
		t.Fatalf("answers %v: want some 503 and the rest 401 (plus one 200)", counts)
	}
	body := scrape(t, m)
	// A 503 comes from the hashing pool or, before any work, from the
	// admission of credential requests; both are counted.
	pool := mustMetric(t, body, "gatehouse_hash_pool_rejections_total")
	admit := mustMetric(t, body, "gatehouse_admission_rejections_total")
	if int(pool+admit) < counts[503] {
		t.Errorf("hash pool rejections %v + admission rejections %v < 503 answers %d", pool, admit, counts[503])
	}
	if v := mustMetric(t, body, "gatehouse_hash_pool_workers"); v != 1 {
		t.Errorf("hash pool workers %v", v)
	}
	if v := mustMetric(t, body, `gatehouse_http_requests_total{route="POST /login",status="503"}`); int(v) != counts[503] {
		t.Errorf("503 requests counted %v, answered %d", v, counts[503])
	}
}

// Hostile or absurd limit settings refuse to start, with a message that
// names the setting, from a flag or the environment.
func TestAbuseHostileLimitSettings(t *testing.T) {
	for _, tt := range []struct {
		arg, env, value string
		name            string
	}{
		{arg: "--login-limit=0/min", name: "LOGIN_LIMIT"},
		{arg: "--login-limit=abc", name: "LOGIN_LIMIT"},
		{arg: "--login-limit=1e9/s", name: "LOGIN_LIMIT"},
		{arg: "--login-limit=1000000000/s", name: "LOGIN_LIMIT"},
		{arg: "--login-limit=", name: "LOGIN_LIMIT"},
		{arg: "--login-ip-limit=-5/min", name: "LOGIN_IP_LIMIT"},
		{arg: "--login-ip-limit=5/0s", name: "LOGIN_IP_LIMIT"},
		{arg: "--register-limit=5/min burst 0", name: "REGISTER_LIMIT"},
		{arg: "--register-limit=10/century", name: "REGISTER_LIMIT"},
		{arg: "--forgot-limit=" + strings.Repeat("9", 5000) + "/s", name: "FORGOT_LIMIT"},
		{arg: "--forgot-limit=1/9999day", name: "FORGOT_LIMIT"},
		{env: "GATEHOUSE_LOGIN_LIMIT", value: "5/min\x00", name: "LOGIN_LIMIT"},
		{env: "GATEHOUSE_REGISTER_LIMIT", value: "NaN/min", name: "REGISTER_LIMIT"},
	} {
		t.Run(tt.arg+tt.env, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			args := append([]string{"--dev", "--addr", addr, "--base-url", "http://" + addr, "--metrics-addr=",
				"--database-url", "sqlite:" + filepath.Join(dir, "g.db"), "--log-level", "error"}, fastHashArgs...)
			if tt.arg != "" {
				args = append(args, tt.arg)
			}
			env := map[string]string{tt.env: tt.value}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := Run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("started anyway (%v)", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "GATEHOUSE_"+tt.name) || !strings.Contains(msg, "--"+flagName(tt.name)) {
				t.Errorf("error does not name the setting: %s", msg)
			}
			if len(msg) > 600 {
				t.Errorf("error message of %d bytes: %.200s", len(msg), msg)
			}
			if r, err := http.Get("http://" + addr + "/healthz"); err == nil {
				r.Body.Close()
				t.Error("something answers on the address")
			}
		})
	}
}

// The metrics listener exposes requests by route and status with
// durations, sign-ins by outcome, refusals, the hash pool's queue and wait,
// active sessions and store errors; the public port does not.
func TestAbuseMetrics(t *testing.T) {
	m := freeAddr(t)
	ts := startServer(t, "--metrics-addr", m)
	b := ts.browser()
	b.register("metrics@example.com", goodPassword)
	b.signIn("metrics@example.com", goodPassword)
	// The sign-in took one of the five attempts this address has for the
	// account: four failures, then two refusals.
	for range 6 {
		ts.browser().submit("/login", "/login", "email", "metrics@example.com", "password", "wrong password here")
	}
	body := scrape(t, m)
	for series, min := range map[string]float64{
		`gatehouse_http_requests_total{route="POST /login",status="401"}`:              4,
		`gatehouse_http_requests_total{route="POST /login",status="429"}`:              1,
		`gatehouse_http_requests_total{route="GET /login",status="200"}`:               7,
		`gatehouse_http_request_duration_seconds_count{route="POST /login"}`:           7,
		`gatehouse_signins_total{outcome="success"}`:                                   1,
		`gatehouse_signins_total{outcome="failure"}`:                                   4,
		`gatehouse_ratelimit_refusals_total{limit="login_account_ip"}`:                 1,
		`gatehouse_ratelimit_refusals_total{limit="register_ip"}`:                      0,
		`gatehouse_hash_pool_queue`:                                                    0,
		`gatehouse_hash_pool_wait_seconds_count`:                                       6,
		`gatehouse_hash_pool_rejections_total`:                                         0,
		`gatehouse_store_errors_total{store="database"}`:                               0,
		`gatehouse_store_errors_total{store="session"}`:                                0,
		`gatehouse_store_errors_total{store="ratelimit"}`:                              0,
		`gatehouse_active_sessions`:                                                    1,
		`gatehouse_http_request_duration_seconds_bucket{route="GET /login",le="+Inf"}`: 7,
	} {
		if v := mustMetric(t, body, series); v < min {
			t.Errorf("%s = %v, want at least %v", series, v, min)
		}
	}
	// Unknown paths share one label, so scanners cannot grow the series.
	for i := range 20 {
		ts.browser().get("/probe/" + ipN("x", i))
	}
	if n := strings.Count(scrape(t, m), `route="GET other"`); n == 0 || strings.Contains(scrape(t, m), "/probe/") {
		t.Error("unknown paths are not folded into one label")
	}
	ts.browser().get("/metrics").want(t, 404)
}
