package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

func TestHostCheck(t *testing.T) {
	_, _, dev := newInProcess(t)

	// A production instance on loopback (no --dev).
	dir := t.TempDir()
	cfg, _, err := ParseConfig([]string{"--log-level", "error", "--access-log=false", "--argon2-memory=19456",
		"--database-url", "sqlite:" + filepath.Join(dir, "g.db")}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDeps(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, err := d.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, prod, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		host    string
		want421 bool
	}{
		{"dev: the base host", dev, "GET", "/dev/outbox", "127.0.0.1", false},
		{"dev: loopback by name", dev, "GET", "/dev/outbox", "localhost:8080", false},
		{"dev: IPv6 loopback", dev, "GET", "/login", "[::1]:8080", false},
		{"dev: a rebound name, outbox", dev, "GET", "/dev/outbox", "evil.example:8080", true},
		{"dev: a rebound name, any page", dev, "GET", "/login", "evil.example", true},
		{"dev: a rebound name, trailing dot", dev, "GET", "/login", "evil.example.", true},
		{"dev: health checks answer any host", dev, "GET", "/healthz", "10.1.2.3:8080", false},
		{"dev: forward-auth subrequests carry the app's host", dev, "GET", "/auth/forward", "app.example.com", false},
		{"dev: nginx's subrequest too", dev, "GET", "/auth/request", "app.example.com", false},
		{"prod: pages answer any host", prod, "GET", "/login", "auth.internal", false},
		{"prod: base host, secret page", prod, "POST", "/account/2fa/totp/setup", "localhost:8080", false},
		{"prod: other host, secret page", prod, "POST", "/account/2fa/totp/setup", "evil.example", true},
		{"prod: other host, recovery codes", prod, "POST", "/account/2fa/recovery-codes", "evil.example", true},
		{"prod: empty host, secret page", prod, "POST", "/account/2fa/totp/confirm", "", true},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, req)
		if got := rec.Code == http.StatusMisdirectedRequest; got != tt.want421 {
			t.Errorf("%s: %s %s Host %q: %d", tt.name, tt.method, tt.path, tt.host, rec.Code)
		}
	}
}
