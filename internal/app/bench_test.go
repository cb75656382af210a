package app

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// newInProcess builds a server on a fresh SQLite database, without a
// listener, with one user (bench@example.com).
func newInProcess(tb testing.TB) (*Server, *deps, http.Handler) {
	tb.Helper()
	dir := tb.TempDir()
	args := append([]string{"--dev", "--base-url", "http://127.0.0.1", "--log-level", "error", "--access-log=false",
		"--database-url", "sqlite:" + filepath.Join(dir, "g.db")}, fastHashArgs...)
	cfg, _, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := openDeps(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	if _, err := d.db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	s, h, err := NewServer(d)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := d.accounts.CreateUser(context.Background(), accountInput("bench@example.com", goodPassword), cli.Meta); err != nil {
		tb.Fatal(err)
	}
	return s, d, h
}

// newBenchServer builds an in-process server with one signed-in user, and
// returns its handler and the session cookie.
func newBenchServer(b *testing.B) (http.Handler, string) {
	b.Helper()
	_, _, h := newInProcess(b)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	tok := csrfField.FindStringSubmatch(rec.Body.String())[1]
	signInForm := rec.Result().Cookies()
	var cookies []string
	for _, c := range signInForm {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"csrf_token": {tok}, "email": {"bench@example.com"}, "password": {goodPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", strings.Join(cookies, "; "))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("sign in: %d %s", rec.Code, rec.Body.String())
	}
	// The browser's cookies after sign-in: the new session and the CSRF
	// secret from the form (without it every page would set a new one).
	jar := map[string]string{}
	for _, c := range append(signInForm, rec.Result().Cookies()...) {
		jar[c.Name] = c.Name + "=" + c.Value
	}
	if jar["gatehouse"] == "" {
		b.Fatal("no session cookie")
	}
	return h, strings.Join(slices.Collect(maps.Values(jar)), "; ")
}

// BenchmarkDashboard measures a signed-in page through the whole handler
// chain (security headers, session, user, CSRF, template), in process.
func BenchmarkDashboard(b *testing.B) {
	h, cookie := newBenchServer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/dashboard", nil)
			req.Header.Set("Cookie", cookie)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkLoginPage measures the anonymous sign-in form.
func BenchmarkLoginPage(b *testing.B) {
	h, _ := newBenchServer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
