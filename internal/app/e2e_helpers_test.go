package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

// testServer is a Gatehouse instance started through Run, as main does.
type testServer struct {
	t      *testing.T
	URL    string
	dir    string
	args   []string // the settings it was started with, for CLI calls
	env    map[string]string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { b := &syncBuffer{mu: make(chan struct{}, 1)}; return b }
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fastHashArgs make argon2id cheap in tests (allowed only in dev mode).
var fastHashArgs = []string{"--argon2-memory=1024", "--argon2-time=1"}

// startServer runs a dev-mode Gatehouse on a free port with a fresh SQLite
// database, plus any extra settings, and waits for /healthz.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	return startServerIn(t, dir, nil, extra...)
}

func startServerIn(t *testing.T, dir string, env map[string]string, extra ...string) *testServer {
	t.Helper()
	addr := freeAddr(t)
	return startServerAt(t, dir, env, addr, "http://"+addr, extra...)
}

// startServerAt is startServerIn on addr with the base URL base (such as
// http://localhost:PORT, which WebAuthn accepts where an IP is refused).
func startServerAt(t *testing.T, dir string, env map[string]string, addr, base string, extra ...string) *testServer {
	t.Helper()
	args := []string{"--dev", "--addr", addr, "--base-url", base, "--metrics-addr=",
		"--database-url", "sqlite:" + filepath.Join(dir, "gatehouse.db"), "--log-level", "warn"}
	args = append(args, fastHashArgs...)
	_, port, _ := net.SplitHostPort(addr)
	for _, a := range extra {
		args = append(args, strings.ReplaceAll(a, "{port}", port)) // "{port}": the server's own port
	}
	ts := &testServer{t: t, URL: base, dir: dir, args: args, env: env, done: make(chan error, 1), logs: newSyncBuffer()}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- Run(ctx, args, ts.getenv, strings.NewReader(""), io.Discard, ts.logs) }()
	t.Cleanup(ts.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(ts.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return ts
			}
		}
		select {
		case err := <-ts.done:
			t.Fatalf("server exited: %v\n%s", err, ts.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy\n%s", ts.logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for start-up, not for expiry
	}
}

func (ts *testServer) getenv(k string) string { return ts.env[k] }

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			ts.t.Errorf("server stopped with error: %v", err)
		}
	case <-time.After(20 * time.Second):
		ts.t.Errorf("server did not shut down")
	}
	if out := ts.logs.String(); strings.Contains(out, "panic") {
		ts.t.Errorf("server logged a panic:\n%s", out)
	}
}

// cli runs a gatehouse command against this server's database and keys.
func (ts *testServer) cli(stdin string, cmd ...string) (string, error) {
	var out, errb bytes.Buffer
	err := Run(context.Background(), append(append([]string{}, ts.args...), cmd...), ts.getenv, strings.NewReader(stdin), &out, &errb)
	// The command is another process's write, as far as the running
	// server's cache of hot rows knows: give it time to notice, as a
	// person at a shell would.
	time.Sleep(3 * db.ExternalChangeDelay)
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func (ts *testServer) mustCLI(stdin string, cmd ...string) string {
	ts.t.Helper()
	out, err := ts.cli(stdin, cmd...)
	if err != nil {
		ts.t.Fatalf("gatehouse %v: %v\n%s", cmd, err, out)
	}
	return out
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests see every 303.
type browser struct {
	t   *testing.T
	ts  *testServer
	c   *http.Client
	ua  string
	hdr http.Header
}

func (ts *testServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: ts.t, ts: ts, ua: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", hdr: http.Header{},
		c: &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	req.Header.Set("User-Agent", b.ua)
	for k, v := range b.hdr {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(body)}
}

func (b *browser) get(path string) *response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.ts.URL+path, nil)
	return b.do(req)
}

// post sends a form as a same-origin browser would.
func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token fetches a page and returns the CSRF token of its first form.
func (b *browser) token(path string) string {
	b.t.Helper()
	r := b.get(path)
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on %s (%d):\n%s", path, r.StatusCode, r.body)
	}
	return m[1]
}

// submit posts a form found on page (with its CSRF token) to action.
func (b *browser) submit(page, action string, fields ...string) *response {
	b.t.Helper()
	form := url.Values{"csrf_token": {b.token(page)}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.post(action, form)
}

func (r *response) want(t *testing.T, status int, contains ...string) *response {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, trim(r.body))
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) {
			t.Fatalf("%s %s: body lacks %q\n%s", r.Request.Method, r.Request.URL.Path, c, trim(r.body))
		}
	}
	return r
}

func (r *response) redirect(t *testing.T, location string) *response {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want 303\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, trim(r.body))
	}
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL.Path, got, location)
	}
	return r
}

func trim(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// register and signIn are the common journeys.
func (b *browser) register(email, pw string) {
	b.t.Helper()
	b.submit("/register", "/register", "email", email, "password", pw).redirect(b.t, "/login")
}

func (b *browser) signIn(email, pw string) {
	b.t.Helper()
	b.submit("/login", "/login", "email", email, "password", pw).redirect(b.t, "/dashboard")
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.ts.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func accountInput(email, pw string) account.CreateUserInput {
	return account.CreateUserInput{Email: email, Password: pw, Verified: true}
}
