package app

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaultsWorkOnLoopbackOnly(t *testing.T) {
	// The defaults (http://localhost:8080 served on 127.0.0.1) start, so that
	// `go run ./cmd/gatehouse` works on a fresh machine...
	c, _, err := ParseConfig(nil, envFrom(nil), io.Discard)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.SessionIdle != 30*time.Minute || c.SessionLifetime != 24*time.Hour ||
		c.RememberFor != 720*time.Hour || c.ResetTTL != 30*time.Minute || c.VerifyTTL != 48*time.Hour ||
		c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 720*time.Hour || c.MetricsAddr != "127.0.0.1:9091" ||
		c.SessionStore != "db" || c.DatabaseURL != "sqlite:gatehouse.db" || c.KeysFile != "gatehouse.keys" || c.Secure() || c.Dev {
		t.Fatalf("defaults: %+v", c)
	}
	// ...but plain http on anything reachable is refused without --dev.
	for _, args := range [][]string{
		{"--base-url", "http://auth.example.com"},
		{"--addr", "0.0.0.0:8080"},
		{"--base-url", "http://192.168.1.5:8080", "--addr", "192.168.1.5:8080"},
	} {
		_, _, err := ParseConfig(args, envFrom(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_BASE_URL") {
			t.Errorf("%v: err = %v, want one naming GATEHOUSE_BASE_URL", args, err)
		}
		if _, _, err := ParseConfig(append(args, "--dev"), envFrom(nil), io.Discard); err != nil {
			t.Errorf("%v with --dev: %v", args, err)
		}
	}
}

func TestConfigFlagBeatsEnv(t *testing.T) {
	c, rest, err := ParseConfig([]string{"--addr", "127.0.0.1:9", "--session-idle=5m", "serve"},
		envFrom(map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:8", "GATEHOUSE_DEV": "true", "GATEHOUSE_DATABASE_URL": "sqlite:/tmp/x/g.db"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9" || c.SessionIdle != 5*time.Minute || !c.Dev || c.KeysFile != "/tmp/x/gatehouse.keys" {
		t.Fatalf("got %+v", c)
	}
	if len(rest) != 1 || rest[0] != "serve" {
		t.Fatalf("rest = %v", rest)
	}
}

func TestConfigRefusals(t *testing.T) {
	https := map[string]string{"GATEHOUSE_BASE_URL": "https://auth.example.com"}
	tests := []struct {
		name string
		args []string
		want string // the setting the message must name
	}{
		{"https ok", nil, ""},
		{"bad base", []string{"--base-url", "ftp://x"}, "GATEHOUSE_BASE_URL"},
		{"base with path", []string{"--base-url", "https://x/auth"}, "GATEHOUSE_BASE_URL"},
		{"bad duration", []string{"--session-idle", "soon"}, "GATEHOUSE_SESSION_IDLE"},
		{"negative duration", []string{"--reset-ttl", "-1m"}, "GATEHOUSE_RESET_TTL"},
		{"idle over lifetime", []string{"--session-idle", "48h"}, "GATEHOUSE_SESSION_IDLE"},
		{"long reset", []string{"--reset-ttl", "72h"}, "GATEHOUSE_RESET_TTL"},
		{"long access token", []string{"--access-token-ttl", "24h"}, "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"weak argon2", []string{"--argon2-memory", "4096"}, "GATEHOUSE_ARGON2_MEMORY"},
		{"trust everyone", []string{"--trusted-proxies", "0.0.0.0/0"}, "GATEHOUSE_TRUSTED_PROXIES"},
		{"bad proxy", []string{"--trusted-proxies", "10.0.0.0/33"}, "GATEHOUSE_TRUSTED_PROXIES"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, "GATEHOUSE_TLS_CERT"},
		{"redis store without url", []string{"--session-store", "redis"}, "GATEHOUSE_SESSION_STORE"},
		{"unknown store", []string{"--session-store", "files"}, "GATEHOUSE_SESSION_STORE"},
		{"http cors", []string{"--cors-origins", "http://app.example.com"}, "GATEHOUSE_CORS_ORIGINS"},
		{"bad addr", []string{"--addr", "8080"}, "GATEHOUSE_ADDR"},
		{"cookie domain ok", []string{"--cookie-domain", "example.com"}, ""},
		{"cookie domain public suffix", []string{"--cookie-domain", "com"}, "GATEHOUSE_COOKIE_DOMAIN"},
		{"cookie domain not above base", []string{"--cookie-domain", "example.org"}, "GATEHOUSE_COOKIE_DOMAIN"},
		{"cookie domain below base", []string{"--cookie-domain", "x.auth.example.com"}, "GATEHOUSE_COOKIE_DOMAIN"},
		{"accent too light", []string{"--accent-color", "#ffcc00,#ffcc00"}, "GATEHOUSE_ACCENT_COLOR"},
		{"accent one colour fails dark mode", []string{"--accent-color", "#1f5eff"}, "GATEHOUSE_ACCENT_COLOR"},
		{"accent not hex", []string{"--accent-color", "blue"}, "GATEHOUSE_ACCENT_COLOR"},
		{"accent light and dark", []string{"--accent-color", "#1f5eff,#7ea6ff"}, ""},
		{"product name", []string{"--product-name", "Acme ID"}, ""},
		{"product name too long", []string{"--product-name", strings.Repeat("x", 65)}, "GATEHOUSE_PRODUCT_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseConfig(tt.args, envFrom(https), io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestConfigDevAllowsWhatProductionRefuses(t *testing.T) {
	_, _, err := ParseConfig([]string{"--dev", "--argon2-memory", "4096", "--reset-ttl", "72h"}, envFrom(nil), io.Discard)
	if err != nil {
		t.Fatalf("dev mode: %v", err)
	}
}

func TestConfigBrand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "logo.svg")
	bad := filepath.Join(dir, "logo-bad.svg")
	if err := os.WriteFile(good, []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file, want string
	}{
		{good, ""},
		{bad, "GATEHOUSE_LOGO_FILE"},
		{filepath.Join(dir, "missing.svg"), "GATEHOUSE_LOGO_FILE"},
	} {
		c, _, err := ParseConfig([]string{"--dev", "--logo-file", tt.file, "--product-name", "Acme ID"}, envFrom(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.brand()
		switch {
		case tt.want == "" && (err != nil || b.Logo == nil || b.ProductName() != "Acme ID"):
			t.Errorf("%s: %+v, %v", tt.file, b, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want one naming %s", tt.file, err, tt.want)
		}
	}
}
