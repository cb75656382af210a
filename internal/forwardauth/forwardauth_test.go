package forwardauth_test

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/proxytest"
	"github.com/gatehouse/gatehouse/realip"
)

const baseURL = "https://auth.example.com"

// users are the sessions the tests' cookie "gh=<name>" stands for.
var users = map[string]*forwardauth.Identity{
	"bob":     {ID: "11", Email: "bob@example.com", Name: "Bob", Roles: []string{"user"}, AMR: []string{"pwd"}, Session: "s-bob"},
	"ops":     {ID: "12", Email: "ops@example.com", Name: "Ops", Roles: []string{"user"}, AMR: []string{"pwd"}, Session: "s-ops"},
	"ops2fa":  {ID: "12", Email: "ops@example.com", Name: "Ops", Roles: []string{"user"}, AMR: []string{"pwd", "otp", "mfa"}, Session: "s-ops2"},
	"admin2f": {ID: "13", Email: "root@example.com", Name: "Root", Roles: []string{"admin", "user"}, AMR: []string{"pwd", "otp", "mfa"}, Session: "s-root"},
}

type env struct {
	h        *forwardauth.Handler
	srv      *httptest.Server
	keys     *apitoken.StaticKeys
	now      time.Time
	mu       sync.Mutex
	outcomes []forwardauth.Outcome
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *env) last() forwardauth.Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outcomes[len(e.outcomes)-1]
}

func newEnv(t testing.TB) *env {
	t.Helper()
	rules, err := accessrule.Load(proxytest.DocFile("rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("forwardauth test key"))
	key, _ := apitoken.NewSigningKey("fa-1", seed[:])
	keys, _ := apitoken.NewStaticKeys(key)
	trusted, _ := realip.ParseTrusted("127.0.0.1/32, ::1/128")
	ips := realip.New(trusted)
	base, _ := url.Parse(baseURL)
	e := &env{keys: keys, now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	e.h, err = forwardauth.New(forwardauth.Config{
		BaseURL:  base,
		Rules:    func() *accessrule.Rules { return rules },
		Trusted:  ips.IsTrusted,
		ClientIP: ips.ClientIP,
		Identify: func(r *http.Request) (*forwardauth.Identity, error) {
			c, err := r.Cookie("gh")
			if err != nil {
				return nil, nil
			}
			if c.Value == "storedown" {
				return nil, errors.New("session store down")
			}
			return users[c.Value], nil
		},
		Tokens: keys,
		Observe: func(_ *http.Request, o forwardauth.Outcome) {
			e.mu.Lock()
			e.outcomes = append(e.outcomes, o)
			e.mu.Unlock()
		},
		Now: e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) verify(t *testing.T, token, origin string) *apitoken.Claims {
	t.Helper()
	v, err := apitoken.NewVerifier(apitoken.LookupFromSource(e.keys), apitoken.VerifierConfig{Issuer: baseURL, Audience: origin, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(token)
	if err != nil {
		t.Fatalf("Remote-Token for %s: %v", origin, err)
	}
	return c
}

// raw sends a request with exactly the request target given (Go's client
// would clean some of the tricks) and returns the response.
func raw(t *testing.T, addr, method, target, host string, hdr map[string]string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func hostAddr(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestThroughProxies(t *testing.T) {
	for _, proxy := range []struct {
		name  string
		start func(testing.TB, string, string) *proxytest.Proxy
		nginx bool
	}{{"nginx", proxytest.Nginx, true}, {"caddy", proxytest.Caddy, false}} {
		t.Run(proxy.name, func(t *testing.T) {
			e := newEnv(t)
			up := proxytest.Upstream(t)
			p := proxy.start(t, hostAddr(e.srv), hostAddr(up))
			html := "text/html,application/xhtml+xml;q=0.9"
			do := func(method, target string, hdr map[string]string) *http.Response {
				return raw(t, p.Addr, method, target, p.Host, hdr)
			}
			origin := p.URL
			login := func(page, target string) string {
				return baseURL + page + "?next=" + url.QueryEscape(origin+target)
			}

			t.Run("signed in: 200 with the identity, client's Remote-* dropped", func(t *testing.T) {
				resp := do("GET", "/page?x=1", map[string]string{"Cookie": "gh=bob", "Remote-User": "13", "Remote-Email": "root@example.com",
					"Remote-Groups": "admin", "Remote-Token": "forged", "Remote-Name": "Root"})
				if resp.StatusCode != 200 {
					t.Fatalf("%d\n%s", resp.StatusCode, p.Log())
				}
				echo := proxytest.ReadEcho(t, resp)
				for k, want := range map[string]string{"Remote-User": "11", "Remote-Email": "bob@example.com", "Remote-Name": "Bob", "Remote-Groups": "user"} {
					if got := echo.Header.Values(k); len(got) != 1 || got[0] != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				tok := echo.Header.Values("Remote-Token")
				if len(tok) != 1 {
					t.Fatalf("Remote-Token %q", tok)
				}
				c := e.verify(t, tok[0], origin)
				if c.Subject != "11" || c.Email != "bob@example.com" || c.ExpiresAt.Sub(c.IssuedAt) > 5*time.Minute || c.ClientID != forwardauth.ClientID {
					t.Errorf("claims %+v", c)
				}
			})

			t.Run("public: no identity, none of the client's", func(t *testing.T) {
				resp := do("GET", "/public/a", map[string]string{"Remote-User": "13", "remote-email": "root@example.com", "Remote-Token": "forged"})
				if resp.StatusCode != 200 {
					t.Fatalf("%d", resp.StatusCode)
				}
				echo := proxytest.ReadEcho(t, resp)
				for k, v := range echo.Header {
					if strings.HasPrefix(strings.ToLower(k), "remote-") && strings.Join(v, "") != "" {
						t.Errorf("upstream got %s %q", k, v)
					}
				}
			})

			t.Run("not signed in: sign-in redirect", func(t *testing.T) {
				for _, c := range []struct {
					method string
					hdr    map[string]string
					status int // caddy; nginx always turns 401 into 302
				}{
					{"GET", map[string]string{"Accept": html}, http.StatusFound},
					{"HEAD", map[string]string{"Accept": html}, http.StatusFound},
					{"POST", map[string]string{"Accept": html, "Content-Length": "0"}, http.StatusSeeOther},
					{"GET", map[string]string{"Accept": "application/json"}, http.StatusUnauthorized},
					{"GET", map[string]string{"Accept": html, "X-Requested-With": "XMLHttpRequest"}, http.StatusUnauthorized},
					{"GET", map[string]string{"Accept": html, "Cookie": "gh=expired"}, http.StatusFound},
				} {
					resp := do(c.method, "/page?a=b", c.hdr)
					want := c.status
					if proxy.nginx {
						want = http.StatusFound
					}
					if resp.StatusCode != want {
						t.Errorf("%s %v: %d, want %d", c.method, c.hdr, resp.StatusCode, want)
					}
					if want != http.StatusUnauthorized && resp.Header.Get("Location") != login("/login", "/page?a=b") {
						t.Errorf("%s %v: Location %q", c.method, c.hdr, resp.Header.Get("Location"))
					}
				}
			})

			t.Run("one factor on a two_factor rule: step-up", func(t *testing.T) {
				resp := do("GET", "/page", map[string]string{"Accept": html, "Cookie": "gh=ops"})
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != login("/login/step-up", "/page") {
					t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				resp = do("GET", "/page", map[string]string{"Accept": html, "Cookie": "gh=ops2fa"})
				if resp.StatusCode != 200 {
					t.Fatalf("after step-up: %d", resp.StatusCode)
				}
			})

			t.Run("refused by a rule: 403", func(t *testing.T) {
				resp := do("GET", "/admin/users", map[string]string{"Cookie": "gh=admin2f"}) // not from 10.0.0.0/8
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Upstream") != "" {
					t.Fatalf("%d", resp.StatusCode)
				}
				if o := e.last(); o.Verdict != forwardauth.VerdictDeny || o.Decision.Rule != 3 {
					t.Fatalf("outcome %+v", o)
				}
			})

			t.Run("store down: fails closed", func(t *testing.T) {
				resp := do("GET", "/page", map[string]string{"Cookie": "gh=storedown"})
				if resp.StatusCode < 500 || resp.Header.Get("X-Upstream") != "" {
					t.Fatalf("%d", resp.StatusCode)
				}
			})

			t.Run("attacks", func(t *testing.T) {
				for _, target := range []string{
					"/public/../admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin", "/admin;x", "/public;/../admin", "//admin",
					"/admin%2F", "/public%2F..%2Fadmin", "/public%5C..%5Cadmin", "/public/..%23/admin", "/public/%252e%252e/admin",
					"/public/%00/../admin", "/public/%c0%ae%c0%ae/admin", "/admin?/public", "/admin?x=/public/../public",
				} {
					resp := do("GET", target, map[string]string{"Cookie": "gh=bob", "Accept": html})
					if resp.StatusCode == http.StatusOK || resp.StatusCode >= 500 || resp.Header.Get("X-Upstream") != "" {
						t.Errorf("%s: %d from upstream %q", target, resp.StatusCode, resp.Header.Get("X-Upstream"))
					}
				}
				// 16 KiB of headers or of path: never a 200 it should not
				// get, never a 500.
				for _, c := range []struct{ target, junk string }{
					{"/page", strings.Repeat("a", 16<<10)},
					{"/public/" + strings.Repeat("a", 16<<10), ""},
				} {
					resp := do("GET", c.target, map[string]string{"X-Junk": c.junk, "Accept": html})
					if resp.StatusCode == http.StatusOK || resp.StatusCode >= 500 {
						t.Errorf("16 KiB: %d", resp.StatusCode)
					}
				}
			})
		})
	}
}

func TestDirect(t *testing.T) {
	e := newEnv(t)
	call := func(path string, remote string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = remote
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		mux := http.NewServeMux()
		e.h.Register(mux)
		mux.ServeHTTP(w, r)
		return w
	}
	local := "127.0.0.1:5000"

	t.Run("untrusted peer: 403, nothing decided from its headers", func(t *testing.T) {
		for _, path := range []string{"/auth/request", "/auth/forward"} {
			w := call(path, "203.0.113.9:4000", map[string]string{"Cookie": "gh=bob", "X-Original-Method": "GET",
				"X-Original-URL": "https://public.example.com/", "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "public.example.com", "X-Forwarded-Uri": "/"})
			if w.Code != http.StatusForbidden || w.Header().Get("Remote-User") != "" {
				t.Errorf("%s: %d %v", path, w.Code, w.Header())
			}
			if o := e.last(); o.Verdict != forwardauth.VerdictUntrusted || o.Target != "" {
				t.Errorf("outcome %+v", o)
			}
		}
	})

	t.Run("malformed X-Original-URL and method: 403 (Authelia CVE-2021-32637)", func(t *testing.T) {
		for _, u := range []string{"", "garbage", "/admin", "https://app.example.com@evil.example/", "https:/\\evil.example", "https://app.example.com/a#b",
			"https://app.example.com//admin", "javascript:alert(1)", "https://app.example.com/" + strings.Repeat("a", 16<<10), "https://app.example.com/\x7f"} {
			w := call("/auth/request", local, map[string]string{"Cookie": "gh=bob", "X-Original-Method": "GET", "X-Original-URL": u})
			if w.Code != http.StatusForbidden {
				t.Errorf("%q: %d", u, w.Code)
			}
		}
		for _, m := range []string{"", "G ET", strings.Repeat("G", 100)} {
			w := call("/auth/request", local, map[string]string{"Cookie": "gh=bob", "X-Original-Method": m, "X-Original-URL": "https://public.example.com/"})
			if w.Code != http.StatusForbidden {
				t.Errorf("method %q: %d", m, w.Code)
			}
		}
		r := httptest.NewRequest("GET", "/auth/request", nil)
		r.RemoteAddr = local
		r.Header.Set("X-Original-Method", "GET")
		r.Header["X-Original-Url"] = []string{"https://app.example.com/admin", "https://public.example.com/"}
		w := httptest.NewRecorder()
		e.h.Request().ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("two X-Original-URL: %d", w.Code)
		}
	})

	t.Run("# and ? inside X-Forwarded-Uri (oauth2-proxy CVE-2025-54576)", func(t *testing.T) {
		for uri, want := range map[string]int{
			"/admin#/public": http.StatusForbidden, "/public/..%23/admin": http.StatusForbidden, "/admin%3F/public": http.StatusForbidden,
			"/admin?/public": http.StatusForbidden, "/public?/admin": http.StatusOK,
		} {
			w := call("/auth/forward", local, map[string]string{"Cookie": "gh=bob", "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": uri})
			if w.Code != want {
				t.Errorf("%q: %d, want %d", uri, w.Code, want)
			}
		}
	})

	t.Run("what Traefik sends", func(t *testing.T) {
		client := httptest.NewRequest("GET", "https://wiki.example.com/page?id=3", nil)
		client.Header.Set("Cookie", "gh=bob")
		client.Header.Set("Accept", "text/html")
		client.Header.Set("Remote-User", "13")
		client.Header.Set("X-Forwarded-Host", "public.example.com") // a client's own, Traefik drops it
		hdr := proxytest.Traefik(client, "198.51.100.7")
		r := httptest.NewRequest("GET", "/auth/forward", nil)
		r.RemoteAddr = local
		r.Header = hdr
		w := httptest.NewRecorder()
		e.h.Forward().ServeHTTP(w, r)
		if w.Code != 200 || w.Header().Get("Remote-User") != "11" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		c := e.verify(t, w.Header().Get("Remote-Token"), "https://wiki.example.com")
		if c.Subject != "11" || len(c.Groups) != 1 {
			t.Fatalf("%+v", c)
		}
		delete(r.Header, "Cookie")
		w = httptest.NewRecorder()
		e.h.Forward().ServeHTTP(w, r)
		if w.Code != http.StatusFound || w.Header().Get("Location") != baseURL+"/login?next="+url.QueryEscape("https://wiki.example.com/page?id=3") {
			t.Fatalf("anonymous: %d %q", w.Code, w.Header().Get("Location"))
		}
	})

	t.Run("networks from the real client address", func(t *testing.T) {
		hdr := map[string]string{"Cookie": "gh=admin2f", "X-Original-Method": "GET", "X-Original-URL": "https://app.example.com/admin"}
		if w := call("/auth/request", local, hdr); w.Code != http.StatusForbidden {
			t.Fatalf("outside: %d", w.Code)
		}
		hdr["X-Forwarded-For"] = "10.1.2.3"
		if w := call("/auth/request", local, hdr); w.Code != http.StatusOK {
			t.Fatalf("inside: %d", w.Code)
		}
	})

	t.Run("Remote-Token cached per session and origin", func(t *testing.T) {
		hdr := map[string]string{"Cookie": "gh=bob", "X-Original-Method": "GET", "X-Original-URL": "https://app.example.com/x"}
		t1 := call("/auth/request", local, hdr).Header().Get("Remote-Token")
		t2 := call("/auth/request", local, hdr).Header().Get("Remote-Token")
		hdr["X-Original-URL"] = "https://wiki.example.com/x"
		t3 := call("/auth/request", local, hdr).Header().Get("Remote-Token")
		if t1 == "" || t1 != t2 || t3 == t1 {
			t.Fatal("token not cached per origin")
		}
		e.mu.Lock()
		e.now = e.now.Add(4*time.Minute + time.Second)
		e.mu.Unlock()
		hdr["X-Original-URL"] = "https://app.example.com/x"
		t4 := call("/auth/request", local, hdr).Header().Get("Remote-Token")
		if t4 == t1 {
			t.Fatal("token reused with less than a minute left")
		}
		e.verify(t, t4, "https://app.example.com")
	})
}
