package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// serveTarget sends GET target (a raw request target, as on the wire)
// through the whole handler chain, as net/http would after parsing it.
func serveTarget(h http.Handler, method, target string) (int, bool) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return 0, false // net/http answers 400 before any handler runs
	}
	req := httptest.NewRequest(method, "/", nil)
	req.URL, req.RequestURI, req.Host = u, target, "127.0.0.1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, true
}

func TestBadPathsAreNeverServerErrors(t *testing.T) {
	_, _, h := newInProcess(t)
	tests := []struct {
		target string
		want   int
	}{
		{"/static/%ff", http.StatusNotFound},
		{"/static/%c3%28", http.StatusNotFound},
		{"/static/a%00b", http.StatusNotFound},
		{"/static/..%2fgo.mod", http.StatusNotFound},
		{"/static/a%5cb.css", http.StatusNotFound},
		{"/static/", http.StatusNotFound},
		{"/static/style.css", http.StatusOK},
		{"/%ff", http.StatusNotFound},
		{"/login/%ff", http.StatusNotFound},
	}
	for _, tt := range tests {
		if got, ok := serveTarget(h, "GET", tt.target); !ok || got != tt.want {
			t.Errorf("GET %s: %d, want %d", tt.target, got, tt.want)
		}
	}
}

// FuzzRequestPath drives any request target through the whole handler
// chain: bad paths are 4xx, never a 5xx.
func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{"/", "/static/%ff", "/static/style.css", "/login?next=%2F", "/api/v1/me", "/admin/users/%ff/disable",
		"/verify-email?token=%00", "/.well-known/jwks.json", "/static/..%2f..%2fetc", "//x", "/a/../b"} {
		f.Add("GET", s)
	}
	f.Add("POST", "/logout")
	_, _, h := newInProcess(f)
	f.Fuzz(func(t *testing.T, method, target string) {
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS":
		default:
			method = "GET"
		}
		if len(target) > 2048 {
			return
		}
		if code, ok := serveTarget(h, method, target); ok && code >= 500 {
			t.Fatalf("%s %q: %d", method, target, code)
		}
	})
}
