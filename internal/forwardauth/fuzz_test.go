package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/accessrule"
)

// FuzzSubrequest sends arbitrary original requests to both endpoints: the
// answer is always one of the verdicts (never a 500), and 200 only for a
// URL that parses.
func FuzzSubrequest(f *testing.F) {
	f.Add("GET", "https://app.example.com/page", "https", "app.example.com", "/page", "gh=bob")
	f.Add("GET", "https://app.example.com/public/%2e%2e/admin", "https", "app.example.com", "/admin;x", "")
	f.Add("POST", "https://a@evil.example/", "http", "evil.example\\@app.example.com", "/a#b", "gh=admin2f")
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, method, origURL, proto, host, uri, cookie string) {
		for _, path := range []string{"/auth/request", "/auth/forward"} {
			r := httptest.NewRequest("GET", path, nil)
			r.RemoteAddr = "127.0.0.1:4000"
			r.Header["Cookie"] = []string{cookie}
			r.Header["X-Original-Method"] = []string{method}
			r.Header["X-Original-Url"] = []string{origURL}
			r.Header["X-Forwarded-Method"] = []string{method}
			r.Header["X-Forwarded-Proto"] = []string{proto}
			r.Header["X-Forwarded-Host"] = []string{host}
			r.Header["X-Forwarded-Uri"] = []string{uri}
			w := httptest.NewRecorder()
			mux := http.NewServeMux()
			e.h.Register(mux)
			mux.ServeHTTP(w, r)
			switch w.Code {
			case 200, 302, 303, 401, 403, 503:
			default:
				t.Fatalf("%s answered %d", path, w.Code)
			}
			if w.Code != 200 {
				continue
			}
			var err error
			if path == "/auth/request" {
				_, err = accessrule.ParseURL(origURL)
			} else {
				_, err = accessrule.NewTarget(strings.ToLower(proto), host, uri)
			}
			if err != nil {
				t.Fatalf("%s answered 200 for a malformed original request: %v", path, err)
			}
		}
	})
}
