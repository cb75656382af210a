package apitoken

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	clk := newClock(t0)
	keys := mustStatic(t, mustKey(t, "k1"))
	iss := mustIssuer(t, keys, clk.Now)
	good := mustIssue(t, iss, "user-1")
	cutoff := mustIssue(t, iss, "revoked-user")
	expired := mustIssue(t, mustIssuer(t, keys, func() time.Time { return t0.Add(-time.Hour) }), "user-1")
	var rejected []error
	mw := Middleware(mustVerifier(t, keys, clk.Now),
		WithCheck(func(ctx context.Context, c *Claims) error {
			if c.Subject == "revoked-user" {
				return errors.New("issued before the user's cut-off")
			}
			return nil
		}),
		WithOnReject(func(r *http.Request, err error) { rejected = append(rejected, err) }),
	)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			t.Error("no claims in context")
			return
		}
		w.Write([]byte("hello " + c.Subject))
	}))

	tests := []struct {
		name      string
		target    string
		auth      []string
		cookie    string
		status    int
		challenge string
	}{
		{"valid", "/", []string{"Bearer " + good}, "", 200, ""},
		{"lower-case scheme", "/", []string{"bearer " + good}, "", 200, ""},
		{"no token", "/", nil, "", 401, `Bearer`},
		{"basic auth", "/", []string{"Basic dXNlcjpwYXNz"}, "", 401, `Bearer`},
		{"empty bearer", "/", []string{"Bearer "}, "", 400, `Bearer error="invalid_request"`},
		{"two headers", "/", []string{"Bearer " + good, "Bearer " + good}, "", 400, `Bearer error="invalid_request"`},
		{"token in query", "/?access_token=" + good, nil, "", 400, `Bearer error="invalid_request"`},
		{"token in query and header", "/?access_token=" + good, []string{"Bearer " + good}, "", 400, `Bearer error="invalid_request"`},
		{"token in cookie", "/", nil, "access_token=" + good, 401, `Bearer`},
		{"invalid token", "/", []string{"Bearer abc.def.ghi"}, "", 401, `Bearer error="invalid_token"`},
		{"expired token", "/", []string{"Bearer " + expired}, "", 401, `Bearer error="invalid_token"`},
		{"refused by check", "/", []string{"Bearer " + cutoff}, "", 401, `Bearer error="invalid_token"`},
		{"opaque token", "/", []string{"Bearer ghr_abcdefghijklmnopqrstuvwxyz"}, "", 401, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.target, nil)
			for _, a := range tt.auth {
				req.Header.Add("Authorization", a)
			}
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if rec.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", rec.Header().Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.status == 200 {
				if rec.Body.String() != "hello user-1" {
					t.Errorf("body = %q", rec.Body)
				}
				return
			}
			checkProblem(t, rec, tt.status)
			if strings.Contains(rec.Body.String(), "cut-off") || strings.Contains(rec.Body.String(), "apitoken") {
				t.Errorf("body leaks internals: %s", rec.Body)
			}
		})
	}
	if len(rejected) != len(tests)-2 {
		t.Errorf("OnReject called %d times, want %d", len(rejected), len(tests)-2)
	}
}

func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("error response is cacheable")
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if p["type"] != "about:blank" || p["title"] != http.StatusText(status) || p["status"] != float64(status) || p["detail"] == "" || len(p) != 4 {
		t.Errorf("problem = %v", p)
	}
}

func TestMiddlewareRealm(t *testing.T) {
	v := mustVerifier(t, mustStatic(t, mustKey(t, "k1")), newClock(t0).Now)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler called") })
	tests := []struct {
		realm, auth, want string
	}{
		{"api", "", `Bearer realm="api"`},
		{"api", "Bearer x.y.z", `Bearer realm="api", error="invalid_token"`},
		{`bad"realm`, "Bearer x.y.z", `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		Middleware(v, WithRealm(tt.realm))(next).ServeHTTP(rec, req)
		if got := rec.Header().Get("WWW-Authenticate"); got != tt.want {
			t.Errorf("realm %q: WWW-Authenticate = %q, want %q", tt.realm, got, tt.want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		target string
		auth   string
		token  string
		err    error
	}{
		{"/", "Bearer abc", "abc", nil},
		{"/", "BEARER  abc ", "abc", nil},
		{"/", "", "", ErrNoToken},
		{"/", "Token abc", "", ErrNoToken},
		{"/", "Bearer", "", ErrBadAuthorization},
		{"/?access_token=abc", "", "", ErrTokenInQuery},
		{"/?x=1&access_token=", "Bearer abc", "", ErrTokenInQuery},
		{"/?not_access_token=1", "Bearer abc", "abc", nil},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.target, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		tok, err := BearerToken(req)
		if tok != tt.token || !errors.Is(err, tt.err) {
			t.Errorf("%s %q: got %q, %v; want %q, %v", tt.target, tt.auth, tok, err, tt.token, tt.err)
		}
	}
}

func TestClaimsFromContext(t *testing.T) {
	if _, ok := ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
	if _, ok := ClaimsFromContext(ContextWithClaims(context.Background(), nil)); ok {
		t.Error("nil claims reported present")
	}
	c := &Claims{Subject: "s"}
	if got, ok := ClaimsFromContext(ContextWithClaims(context.Background(), c)); !ok || got != c {
		t.Error("claims lost")
	}
}
