package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers for the abuse-resistance tests.

// abuseClock is a settable clock for the guard's in-memory limiters.
type abuseClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *abuseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *abuseClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startClockServer runs a dev-mode server in process, like startServer but
// with the limiters and backoff on a fake clock, so that tests can step
// through lockouts without sleeping. It returns the deps for direct checks.
// It trusts X-Forwarded-For from 127.0.0.1, so that tests can choose the
// client address of each request.
func startClockServer(t *testing.T, extra ...string) (*testServer, *deps, *abuseClock) {
	t.Helper()
	dir := t.TempDir()
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	args := []string{"--dev", "--addr", addr, "--base-url", "http://" + addr, "--metrics-addr=",
		"--database-url", "sqlite:" + filepath.Join(dir, "gatehouse.db"), "--log-level", "warn", "--access-log=false",
		"--trusted-proxies=127.0.0.1"}
	args = append(append(args, fastHashArgs...), extra...)
	cfg, _, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := newSyncBuffer()
	d, err := openDeps(context.Background(), cfg, newLogger(cfg, logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock := &abuseClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	d.guard.SetClock(clock.Now)
	_, h, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if out := logs.String(); strings.Contains(out, "panic") {
			t.Errorf("server logged a panic:\n%s", out)
		}
	})
	return &testServer{t: t, URL: srv.URL, dir: dir, args: args, logs: logs}, d, clock
}

// from returns a fresh browser whose requests come, through the trusted
// proxy, from ip.
func (ts *testServer) from(ip string) *browser {
	b := ts.browser()
	b.hdr.Set("X-Forwarded-For", ip)
	return b
}

// attempt is one sign-in from a fresh browser at ip.
func (ts *testServer) attempt(ip, email, pw string) *response {
	ts.t.Helper()
	return ts.from(ip).submit("/login", "/login", "email", email, "password", pw)
}

var nonceAttr = regexp.MustCompile(`nonce="[^"]*"`)

// normalized is a page body without what legitimately differs between two
// answers: the CSRF token, CSP nonces and the address the visitor typed.
func normalized(body, email string) string {
	body = csrfField.ReplaceAllString(body, "")
	body = nonceAttr.ReplaceAllString(body, "")
	return strings.ReplaceAll(body, email, "EMAIL")
}

// scrape fetches the Prometheus text exposition from a metrics listener.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape metrics: %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

// metric returns the value of one series (name with its labels in the
// exposition's order, such as `x_total{outcome="failure"}`), and whether
// it is present.
func metric(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func mustMetric(t *testing.T, body, series string) float64 {
	t.Helper()
	v, ok := metric(body, series)
	if !ok {
		t.Fatalf("metrics lack %s", series)
	}
	return v
}

// statusCounts runs n requests at once (released together) and counts the
// answers by status.
func statusCounts(n int, do func(i int) *response) map[int]int {
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := do(i)
			mu.Lock()
			counts[r.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// prepared is a sign-in form ready to post: a browser holding its CSRF
// cookie and token, so that a burst of posts does nothing else first.
type prepared struct {
	b   *browser
	tok string
}

func (ts *testServer) prepare(ip string) prepared {
	b := ts.from(ip)
	return prepared{b: b, tok: b.token("/login")}
}

func (p prepared) signIn(email, pw string) *response {
	return p.b.post("/login", map[string][]string{"csrf_token": {p.tok}, "email": {email}, "password": {pw}})
}

// auditRows counts the rows of an /admin/audit answer.
func auditRows(body string) int {
	return strings.Count(body, `<td data-label="Event"><a href="/admin/audit?event=`)
}

func ipN(prefix string, i int) string { return fmt.Sprintf("%s.%d", prefix, i) }
