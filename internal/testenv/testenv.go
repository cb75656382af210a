// Package testenv gives tests the addresses of the real backends they need
// (PostgreSQL, Redis, Chromium) and the rule for when those are missing:
// skip with a clear message, except under CI=true, where a missing backend
// is a failure.
//
// It is imported only by _test.go files.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Default addresses of the machine's own services.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// backend fails the test instead of skipping it.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it under CI, with a message that names
// the backend, the address and the reason.
func Unavailable(t testing.TB, backend, addr string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s at %s is required under CI=true: %v", backend, addr, err)
	}
	t.Skipf("skipping: %s at %s is unreachable (%v); set the address in the environment or start it", backend, addr, err)
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// PostgresURL returns GATEHOUSE_TEST_POSTGRES_URL (or the local default) after
// checking that the server answers; otherwise it skips or fails the test.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := getenv("GATEHOUSE_TEST_POSTGRES_URL", DefaultPostgresURL)
	db, err := sql.Open("pgx", u)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		Unavailable(t, "PostgreSQL", u, err)
	}
	return u
}

// PostgresSchemaURL creates a fresh, empty schema for this test and returns a
// connection URL whose search_path points at it, so that packages testing in
// parallel never see each other's tables. The schema is dropped at cleanup.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	schema := "t_" + RandomHex(t, 8)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil { // schema is ours: hex only
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL returns GATEHOUSE_TEST_REDIS_URL (or the local default) after
// checking that something listens there; otherwise it skips or fails.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := getenv("GATEHOUSE_TEST_REDIS_URL", DefaultRedisURL)
	pu, err := url.Parse(u)
	if err == nil {
		var c net.Conn
		c, err = net.DialTimeout("tcp", pu.Host, 2*time.Second)
		if err == nil {
			c.Close()
		}
	}
	if err != nil {
		Unavailable(t, "Redis", u, err)
	}
	return u
}

// RedisPrefix returns a key prefix unique to this test run, so that tests
// sharing one Redis never collide.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	return "gh-test-" + RandomHex(t, 6) + ":"
}

// ChromiumPath returns the Chromium binary (GATEHOUSE_TEST_CHROMIUM, or
// chromium / chromium-browser / google-chrome on PATH); otherwise it skips
// or fails.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Unavailable(t, "Chromium", "PATH", exec.ErrNotFound)
	return ""
}

// Command returns the path of an external program a test needs (such as
// oathtool); otherwise it skips or fails.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name, "PATH", err)
	}
	return p
}

// RandomHex returns n random bytes, hex-encoded.
func RandomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
