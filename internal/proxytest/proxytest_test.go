package proxytest_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/proxytest"
)

// fakeAuth stands in for Gatehouse's forward-auth endpoints with the
// contract's verdicts: a "session=ok" cookie is signed in as u1, path
// /forbidden is refused, anything else without the cookie is sent to sign
// in. It records the original URL it was told about.
func fakeAuth(t *testing.T, seen chan<- string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var orig string
		switch r.URL.Path {
		case "/auth/request":
			orig = r.Header.Get("X-Original-URL")
		case "/auth/forward":
			orig = r.Header.Get("X-Forwarded-Proto") + "://" + r.Header.Get("X-Forwarded-Host") + r.Header.Get("X-Forwarded-Uri")
		default:
			http.NotFound(w, r)
			return
		}
		select {
		case seen <- r.Method + " " + r.Header.Get("X-Original-Method") + r.Header.Get("X-Forwarded-Method") + " " + orig + " remote-user=" + r.Header.Get("Remote-User"):
		default:
		}
		u, err := url.Parse(orig)
		switch {
		case err != nil || u.Path == "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case u.Path == "/public":
			// A public rule without a session: Gatehouse sends the identity
			// headers empty, so that a proxy that copies them replaces
			// whatever the client sent (Caddy 2.6 otherwise copies its
			// unexpanded placeholder).
			for _, h := range []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Token"} {
				w.Header()[h] = []string{""}
			}
			w.WriteHeader(http.StatusOK)
		case !strings.Contains(r.Header.Get("Cookie"), "session=ok"):
			login := "https://auth.example.com/login?next=" + url.QueryEscape(orig)
			w.Header().Set("Location", login)
			if r.URL.Path == "/auth/forward" && strings.Contains(r.Header.Get("Accept"), "text/html") {
				w.WriteHeader(http.StatusFound)
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Header().Set("Remote-User", "u1")
			w.Header().Set("Remote-Email", "u1@example.com")
			w.Header().Set("Remote-Name", "User One")
			w.Header().Set("Remote-Groups", "admin,user")
			w.Header().Set("Remote-Token", "token-for-u1")
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDocumentedProxies(t *testing.T) {
	for _, proxy := range []struct {
		name  string
		start func(testing.TB, string, string) *proxytest.Proxy
	}{{"nginx", proxytest.Nginx}, {"caddy", proxytest.Caddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			seen := make(chan string, 100)
			auth := fakeAuth(t, seen)
			up := proxytest.Upstream(t)
			p := proxy.start(t, strings.TrimPrefix(auth.URL, "http://"), strings.TrimPrefix(up.URL, "http://"))
			c := p.Client()
			get := func(path string, hdr map[string]string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest("GET", p.URL+path, nil)
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v\n%s", path, err, p.Log())
				}
				return resp
			}

			// Signed in: the app gets the identity, and not what the client
			// sent under the same names.
			resp := get("/page?x=1", map[string]string{"Cookie": "session=ok", "Remote-User": "admin", "Remote-Email": "evil@example.com",
				"Remote-Groups": "admin", "Remote-Token": "forged", "Remote-Name": "Evil"})
			if resp.StatusCode != 200 {
				t.Fatalf("signed in: %d\n%s", resp.StatusCode, p.Log())
			}
			e := proxytest.ReadEcho(t, resp)
			for k, want := range map[string]string{"Remote-User": "u1", "Remote-Email": "u1@example.com", "Remote-Name": "User One",
				"Remote-Groups": "admin,user", "Remote-Token": "token-for-u1"} {
				if got := e.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("upstream got %s %q, want %q", k, got, want)
				}
			}
			if e.URI != "/page?x=1" {
				t.Errorf("upstream URI %q", e.URI)
			}
			if s := <-seen; !strings.Contains(s, "GET "+p.URL+"/page?x=1") || !strings.HasSuffix(s, "remote-user=") {
				t.Errorf("auth endpoint saw %q", s)
			}

			// A public page: no identity, and none of the client's.
			resp = get("/public", map[string]string{"Remote-User": "admin", "remote-email": "evil@example.com",
				"Remote-Groups": "admin", "Remote-Token": "forged", "Remote-Name": "Evil"})
			e = proxytest.ReadEcho(t, resp)
			for k := range e.Header {
				if strings.HasPrefix(strings.ToLower(k), "remote-") && e.Header.Get(k) != "" {
					t.Errorf("upstream got the client's %s: %q", k, e.Header[k])
				}
			}
			<-seen

			// Not signed in: a redirect to the sign-in page with the URL.
			resp = get("/page", map[string]string{"Accept": "text/html", "Remote-User": "admin"})
			resp.Body.Close()
			want := "https://auth.example.com/login?next=" + url.QueryEscape(p.URL+"/page")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Fatalf("not signed in: %d %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			<-seen

			// Refused: 403 from the proxy, the app never asked.
			resp = get("/forbidden", map[string]string{"Cookie": "session=ok"})
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Upstream") != "" {
				t.Fatalf("refused: %d", resp.StatusCode)
			}
		})
	}
}

// TestDocsEmbedConfigs: the page shows the files the tests run, verbatim.
func TestDocsEmbedConfigs(t *testing.T) {
	page, err := os.ReadFile(proxytest.DocFile("../forward-auth.md"))
	if err != nil {
		t.Skipf("docs/forward-auth.md not written yet: %v", err)
	}
	for _, name := range []string{"nginx.conf", "Caddyfile", "traefik.yml", "rules.yaml"} {
		data, err := os.ReadFile(proxytest.DocFile(name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), string(data)) {
			t.Errorf("docs/forward-auth.md does not contain docs/forward-auth/%s verbatim", name)
		}
	}
}
