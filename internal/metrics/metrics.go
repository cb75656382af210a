// Package metrics holds the Prometheus series of one Gatehouse instance, on
// their own registry (served on METRICS_ADDR, never the public port):
// requests by bounded route label, sign-ins, refusals, the hashing pool,
// admission and store errors. It imports ring 1 and the Prometheus client.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/password"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series of one instance, on their own registry
// and their own listener (METRICS_ADDR), never on the public port.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	series      sync.Map // requestSeries -> *requestMetrics, so a request does not hash its labels
	signins     *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	hashWait    prometheus.Histogram
	hashDenied  prometheus.Counter
	admitDenied prometheus.Counter
	storeErrs   *prometheus.CounterVec
}

// New registers the series.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request durations by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	m.signins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_signins_total", Help: "Sign-in attempts that verified a password, by outcome.",
	}, []string{"outcome"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_ratelimit_refusals_total", Help: "Requests refused by a rate limit or backoff, by limit.",
	}, []string{"limit"})
	m.hashWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gatehouse_hash_pool_wait_seconds", Help: "Time spent waiting for a password hashing worker.",
		Buckets: []float64{.0005, .001, .005, .01, .05, .1, .25, .5, 1, 2, 5},
	})
	m.hashDenied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_hash_pool_rejections_total", Help: "Hashing requests that waited too long and got 503.",
	})
	m.storeErrs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_store_errors_total", Help: "Failures of a backing store, by store.",
	}, []string{"store"})
	m.admitDenied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_admission_rejections_total", Help: "Credential requests that waited too long for a slot and got 503.",
	})
	m.reg.MustRegister(m.requests, m.durations, m.signins, m.refusals, m.hashWait, m.hashDenied, m.admitDenied, m.storeErrs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known label values start at zero, so dashboards and alerts see the
	// series before the first event.
	for _, o := range []string{"success", "failure"} {
		m.signins.WithLabelValues(o)
	}
	for _, st := range []string{"database", "session", "redis", "ratelimit"} {
		m.storeErrs.WithLabelValues(st)
	}
	return m
}

// WatchPool exports the hashing pool's queue length.
func (m *Metrics) WatchPool(p *password.Pool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_hash_pool_queue", Help: "Callers waiting for a password hashing worker.",
	}, func() float64 { return float64(p.QueueLen()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_hash_pool_workers", Help: "Password hashing workers.",
	}, func() float64 { return float64(p.Workers()) }))
}

// sessionsEvery is how often the active-sessions gauge asks the store.
const sessionsEvery = time.Minute

// WatchSessions exports the number of active sessions, counted by a
// function the store provides (refreshed at most once every sessionsEvery,
// so scrapes cannot turn into a load on the store).
func (m *Metrics) WatchSessions(count func() (int, bool)) {
	var (
		mu   sync.Mutex
		last float64
		at   time.Time
	)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_active_sessions", Help: "Unexpired signed-in sessions in the session store (-1 when the store cannot count).",
	}, func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if at.IsZero() || time.Since(at) > sessionsEvery {
			if n, ok := count(); ok {
				last = float64(n)
			} else {
				last = -1
			}
			at = time.Now()
		}
		return last
	}))
}

// ObserveHashWait records a wait for a hashing worker (password.WithWaitObserver).
func (m *Metrics) ObserveHashWait(waited time.Duration, admitted bool) {
	m.hashWait.Observe(waited.Seconds())
	if !admitted {
		m.hashDenied.Inc()
	}
}

// SignIn counts a sign-in attempt that verified a password.
func (m *Metrics) SignIn(outcome string) { m.signins.WithLabelValues(outcome).Inc() }

// RateLimited counts a request refused by the named limit.
func (m *Metrics) RateLimited(limit string) { m.refusals.WithLabelValues(limit).Inc() }

// StoreError counts a failure of the named store.
func (m *Metrics) StoreError(store string) { m.storeErrs.WithLabelValues(store).Inc() }

// KnowLimits starts the refusal series of the named limits at zero.
func (m *Metrics) KnowLimits(names ...string) {
	for _, n := range names {
		m.refusals.WithLabelValues(n)
	}
}

// AdmissionRejected counts a credential request that waited too long for
// an admission slot.
func (m *Metrics) AdmissionRejected() { m.admitDenied.Inc() }

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRequest counts a finished request under a bounded route label.
func (m *Metrics) ObserveRequest(r *http.Request, status int, dur time.Duration) {
	rm := m.requestMetrics(r.Method, r.URL.Path, status)
	rm.count.Inc()
	rm.duration.Observe(dur.Seconds())
}

// requestSeries names the series of one request; routeParts bounds how
// many there are, and the cache of them with it.
type requestSeries struct {
	method, path string
	status       int
}

type requestMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func (m *Metrics) requestMetrics(method, path string, status int) *requestMetrics {
	if status < 100 || status > 999 {
		status = 0 // keep the label set bounded
	}
	key := requestSeries{status: status}
	key.method, key.path = routeParts(method, path)
	if v, ok := m.series.Load(key); ok {
		return v.(*requestMetrics)
	}
	route := key.method + " " + key.path
	rm := &requestMetrics{
		count:    m.requests.WithLabelValues(route, strconv.Itoa(status)),
		duration: m.durations.WithLabelValues(route),
	}
	v, _ := m.series.LoadOrStore(key, rm)
	return v.(*requestMetrics)
}

// knownRoutes are the paths that get their own label; everything else is
// "other", so attackers cannot grow the series without bound.
var knownRoutes = map[string]bool{
	"/": true, "/register": true, "/login": true, "/login/2fa": true, "/login/step-up": true, "/logout": true, "/dashboard": true,
	"/account": true, "/account/password": true, "/account/email": true, "/account/sessions": true,
	"/account/sessions/revoke": true, "/account/sessions/revoke-others": true, "/account/2fa": true,
	"/account/2fa/totp/setup": true, "/account/2fa/totp/confirm": true, "/account/2fa/disable": true,
	"/account/2fa/recovery-codes": true, "/account/activity": true, "/account/avatar": true,
	"/password/forgot": true, "/password/reset": true, "/verify-email": true, "/verify-email/resend": true,
	"/admin/users": true, "/admin/audit": true, "/dev/outbox": true, "/healthz": true, "/readyz": true,
	"/api/v1/token": true, "/api/v1/token/refresh": true, "/api/v1/token/revoke": true, "/api/v1/me": true,
	"/.well-known/jwks.json": true, "/account/email/confirm": true,
}

// routeParts returns the method and path of a request's route label
// ("METHOD path").
func routeParts(method, path string) (string, string) {
	switch {
	case knownRoutes[path]:
	case strings.HasPrefix(path, "/admin/users/"):
		path = "/admin/users/{id}/" + path[strings.LastIndexByte(path, '/')+1:]
		if !strings.HasSuffix(path, "/disable") && !strings.HasSuffix(path, "/enable") && !strings.HasSuffix(path, "/revoke-sessions") && !strings.HasSuffix(path, "/reset-2fa") {
			path = "/admin/users/{id}/other"
		}
	case strings.HasPrefix(path, "/static/"):
		path = "/static/"
	case strings.HasPrefix(path, "/avatars/"):
		path = "/avatars/{id}"
	default:
		path = "other"
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "OTHER"
	}
	return method, path
}
