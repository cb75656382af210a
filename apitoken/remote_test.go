package apitoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a settable JWKS and counts requests.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	status  int
	cache   string
	queries atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...PublicKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: 200, cache: "public, max-age=300"}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.queries.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Cache-Control", s.cache)
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(t *testing.T, keys ...PublicKey) {
	t.Helper()
	doc, err := JWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	s.set(200, string(doc))
}

func (s *jwksServer) set(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func mustRemote(t *testing.T, url string, clk *clock, opts ...RemoteOption) *RemoteKeySet {
	t.Helper()
	r, err := NewRemoteKeySet(context.Background(), url, append([]RemoteOption{WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lookup(r *RemoteKeySet, kid string) error {
	_, err := r.PublicKey(context.Background(), kid)
	return err
}

func TestRemoteKeySetCachesAndRotates(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	srv := newJWKSServer(t, k1.Public())
	clk := newClock(t0)
	r := mustRemote(t, srv.URL, clk)
	if srv.queries.Load() != 0 {
		t.Fatal("fetched before the first lookup")
	}
	steps := []struct {
		name    string
		advance time.Duration
		rotate  bool
		kid     string
		ok      bool
		fetches int64
	}{
		{"first lookup fetches", 0, false, "k1", true, 1},
		{"cached", 10 * time.Second, false, "k1", true, 1},
		{"new kid published but interval not over", 0, true, "k2", false, 1},
		{"still refused", 49 * time.Second, false, "k2", false, 1},
		{"min interval over: refetch finds it", time.Second, false, "k2", true, 2},
		{"old kid still there", 0, false, "k1", true, 2},
		{"cache lifetime (max-age=300) over", 300 * time.Second, false, "k1", true, 3},
	}
	for _, s := range steps {
		clk.Add(s.advance)
		if s.rotate {
			srv.setKeys(t, k2.Public(), k1.Public())
		}
		err := lookup(r, s.kid)
		if (err == nil) != s.ok {
			t.Fatalf("%s: lookup %s: %v", s.name, s.kid, err)
		}
		if err != nil && !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: err = %v, want ErrUnknownKey", s.name, err)
		}
		if got := srv.queries.Load(); got != s.fetches {
			t.Fatalf("%s: %d fetches, want %d", s.name, got, s.fetches)
		}
	}
	if r.Fetches() != 3 {
		t.Errorf("Fetches() = %d", r.Fetches())
	}
}

func TestRemoteKeySetUnknownKidFlood(t *testing.T) {
	srv := newJWKSServer(t, mustKey(t, "k1").Public())
	clk := newClock(t0)
	r := mustRemote(t, srv.URL, clk, WithRefreshInterval(30*time.Second, time.Hour))
	if err := lookup(r, "k1"); err != nil {
		t.Fatal(err)
	}
	for round := int64(1); round <= 3; round++ {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := lookup(r, fmt.Sprintf("random-%d-%d", round, i)); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("random kid: %v", err)
				}
			}()
		}
		wg.Wait()
		// The first round comes right after the initial fetch: no fetch
		// at all. Later rounds: one fetch each, however many kids.
		if got, want := srv.queries.Load(), round; got != want {
			t.Fatalf("round %d: %d fetches, want %d", round, got, want)
		}
		clk.Add(30 * time.Second)
	}
}

func TestRemoteKeySetMaxAge(t *testing.T) {
	tests := []struct {
		cache string
		after time.Duration // refetch due after this long
	}{
		{"public, max-age=120", 120 * time.Second},
		{"max-age=1", time.Minute},          // clamped to min
		{"max-age=999999", 2 * time.Hour},   // clamped to max
		{"no-store", time.Minute},           // clamped to min
		{"", 5 * time.Minute},               // default
		{"max-age=junk", 5 * time.Minute},   // default
		{`max-age="600"`, 10 * time.Minute}, // quoted
	}
	for _, tt := range tests {
		t.Run(tt.cache, func(t *testing.T) {
			srv := newJWKSServer(t, mustKey(t, "k1").Public())
			srv.cache = tt.cache
			clk := newClock(t0)
			r := mustRemote(t, srv.URL, clk, WithRefreshInterval(time.Minute, 2*time.Hour))
			lookup(r, "k1")
			clk.Add(tt.after - time.Second)
			lookup(r, "k1")
			if srv.queries.Load() != 1 {
				t.Fatalf("refetched before %v", tt.after)
			}
			clk.Add(time.Second)
			lookup(r, "k1")
			if srv.queries.Load() != 2 {
				t.Fatalf("not refetched after %v", tt.after)
			}
		})
	}
}

func TestRemoteKeySetKeepsLastGoodSet(t *testing.T) {
	big := `{"keys":[],"pad":"` + strings.Repeat("x", DefaultMaxJWKSBytes) + `"}`
	rsaOnly := `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k1"}]}`
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"server error", 500, "oops"},
		{"not JSON", 200, "<html>"},
		{"oversize", 200, big},
		{"no Ed25519 key", 200, rsaOnly},
		{"empty set", 200, `{"keys":[]}`},
		{"redirect", 302, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, mustKey(t, "k1").Public())
			clk := newClock(t0)
			r := mustRemote(t, srv.URL, clk)
			if err := lookup(r, "k1"); err != nil {
				t.Fatal(err)
			}
			srv.set(tt.status, tt.body)
			clk.Add(time.Hour) // past the cache lifetime
			if err := lookup(r, "k1"); err != nil {
				t.Fatalf("last good set lost: %v", err)
			}
			if srv.queries.Load() != 2 {
				t.Fatalf("%d fetches, want 2", srv.queries.Load())
			}
			lookup(r, "k1") // failure also counts against the interval
			if srv.queries.Load() != 2 {
				t.Fatal("failed fetch retried within the min interval")
			}
		})
	}
}

func TestRemoteKeySetNoGoodSet(t *testing.T) {
	srv := newJWKSServer(t)
	srv.set(503, "down")
	clk := newClock(t0)
	r := mustRemote(t, srv.URL, clk)
	if err := lookup(r, "k1"); !errors.Is(err, ErrFetch) {
		t.Fatalf("err = %v, want ErrFetch", err)
	}
	v := mustVerifier(t, r, clk.Now)
	_, err := v.Verify(mustIssue(t, mustIssuer(t, mustStatic(t, mustKey(t, "k1")), clk.Now), "u"))
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Reason != ReasonKeyLookup {
		t.Errorf("Verify: %v", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Error("error message leaks the JWKS URL")
	}
	srv.setKeys(t, mustKey(t, "k1").Public())
	clk.Add(DefaultMinRefresh)
	if err := lookup(r, "k1"); err != nil {
		t.Fatalf("recovery: %v", err)
	}
}

func TestRemoteKeySetContextDone(t *testing.T) {
	srv := newJWKSServer(t, mustKey(t, "k1").Public())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := NewRemoteKeySet(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := lookup(r, "k1"); err == nil || srv.queries.Load() != 0 {
		t.Errorf("fetched after the context ended: %v", err)
	}
}

func TestNewRemoteKeySetConfig(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []RemoteOption
		ok   bool
	}{
		{"https", "https://auth.example.com/.well-known/jwks.json", nil, true},
		{"http loopback", "http://127.0.0.1:8080/jwks", nil, true},
		{"http localhost", "http://localhost/jwks", nil, true},
		{"http ::1", "http://[::1]/jwks", nil, true},
		{"http remote", "http://auth.example.com/jwks", nil, false},
		{"http remote, insecure allowed", "http://auth.internal/jwks", []RemoteOption{WithInsecureHTTP()}, true},
		{"file", "file:///etc/passwd", nil, false},
		{"relative", "/jwks", nil, false},
		{"userinfo", "https://u:p@auth.example.com/jwks", nil, false},
		{"junk", "://", nil, false},
		{"zero min", "https://a.example/j", []RemoteOption{WithRefreshInterval(0, time.Hour)}, false},
		{"max below min", "https://a.example/j", []RemoteOption{WithRefreshInterval(time.Hour, time.Minute)}, false},
		{"zero size", "https://a.example/j", []RemoteOption{WithMaxResponseBytes(0)}, false},
		{"custom client", "https://a.example/j", []RemoteOption{WithHTTPClient(http.DefaultClient)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRemoteKeySet(context.Background(), tt.url, tt.opts...)
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// TestRemoteVerifyRotation runs the whole resource-server path: a Gatehouse
// issuer rotates its key and a Verifier backed by a RemoteKeySet follows.
func TestRemoteVerifyRotation(t *testing.T) {
	clk := newClock(t0)
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	var current atomic.Pointer[StaticKeys]
	current.Store(mustStatic(t, k1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		JWKSHandler(current.Load()).ServeHTTP(w, r)
	}))
	defer srv.Close()
	v := mustVerifier(t, mustRemote(t, srv.URL, clk), clk.Now)

	if _, err := v.Verify(mustIssue(t, mustIssuer(t, current.Load(), clk.Now), "u")); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	current.Store(mustStatic(t, k2, k1.Public()))
	clk.Add(DefaultMinRefresh)
	if _, err := v.Verify(mustIssue(t, mustIssuer(t, current.Load(), clk.Now), "u")); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}
