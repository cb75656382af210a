package csrf

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
)

const sessionHeader = "X-Test-Session"

// bySession binds tokens to a test header standing in for a session id.
func bySession(r *http.Request) string { return r.Header.Get(sessionHeader) }

type fixture struct {
	oldKey, curKey keyring.Key
	both           *keyring.Ring // old and current active
	retired        *keyring.Ring // old retired, current active
	oldOnly        *keyring.Ring
	p              *Protector // on both
	secret, other  []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{oldKey: keyring.Generate(), curKey: keyring.Generate()}
	f.oldKey.Created = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.curKey.Created = f.oldKey.Created.Add(time.Hour)
	retired := f.oldKey
	retired.Retired = f.curKey.Created
	f.both = mustRing(t, f.oldKey, f.curKey)
	f.retired = mustRing(t, retired, f.curKey)
	f.oldOnly = mustRing(t, f.oldKey)
	f.p = New(f.both, WithBinding(bySession))
	f.secret = []byte(strings.Repeat("s", secretSize))
	f.other = []byte(strings.Repeat("o", secretSize))
	return f
}

func mustRing(t *testing.T, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	r, err := keyring.NewStatic(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tokenFor returns a token issued by p for a browser secret and session.
func tokenFor(p *Protector, secret []byte, session string) string {
	return mask(p.mac.Sign(message(secret, session)))
}

type req struct {
	method  string
	site    string // Sec-Fetch-Site
	origin  string
	token   string
	inForm  bool // token in the form body instead of the header
	secret  []byte
	session string
	path    string // default /account/password
}

func (q req) build() *http.Request {
	var body io.Reader
	if q.inForm {
		body = strings.NewReader(url.Values{FieldName: {q.token}, "other": {"x"}}.Encode())
	}
	if q.path == "" {
		q.path = "/account/password"
	}
	r := httptest.NewRequest(q.method, "https://example.com"+q.path, body)
	if q.inForm {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if q.token != "" {
		r.Header.Set(HeaderName, q.token)
	}
	if q.site != "" {
		r.Header.Set("Sec-Fetch-Site", q.site)
	}
	if q.origin != "" {
		r.Header.Set("Origin", q.origin)
	}
	if q.secret != nil {
		r.AddCookie(&http.Cookie{Name: CookieName, Value: b64.EncodeToString(q.secret)})
	}
	if q.session != "" {
		r.Header.Set(sessionHeader, q.session)
	}
	return r
}

func TestCheckMatrix(t *testing.T) {
	f := newFixture(t)
	valid := tokenFor(f.p, f.secret, "s1")
	oldKeyToken := tokenFor(New(f.oldOnly, WithBinding(bySession)), f.secret, "s1")
	self := "https://example.com"
	tests := []struct {
		name string
		p    *Protector
		req  req
		err  error
	}{
		// Safe methods pass whatever they carry.
		{"GET cross-site", f.p, req{method: "GET", site: "cross-site", origin: "https://evil.example"}, nil},
		{"HEAD no token", f.p, req{method: "HEAD"}, nil},
		{"OPTIONS cross-site", f.p, req{method: "OPTIONS", site: "cross-site"}, nil},

		// Valid tokens.
		{"POST header token", f.p, req{method: "POST", token: valid, secret: f.secret, session: "s1"}, nil},
		{"POST form token", f.p, req{method: "POST", token: valid, inForm: true, secret: f.secret, session: "s1"}, nil},
		{"POST same-origin", f.p, req{method: "POST", site: "same-origin", origin: self, token: valid, secret: f.secret, session: "s1"}, nil},
		{"POST user-typed (none)", f.p, req{method: "POST", site: "none", token: valid, secret: f.secret, session: "s1"}, nil},
		{"POST old browser, Origin matches", f.p, req{method: "POST", origin: self, token: valid, secret: f.secret, session: "s1"}, nil},
		{"PUT valid", f.p, req{method: "PUT", token: valid, secret: f.secret, session: "s1"}, nil},
		{"DELETE valid", f.p, req{method: "DELETE", token: valid, secret: f.secret, session: "s1"}, nil},
		{"PATCH valid", f.p, req{method: "PATCH", token: valid, secret: f.secret, session: "s1"}, nil},
		{"re-masked token", f.p, req{method: "POST", token: tokenFor(f.p, f.secret, "s1"), secret: f.secret, session: "s1"}, nil},
		{"older non-retired key", f.p, req{method: "POST", token: oldKeyToken, secret: f.secret, session: "s1"}, nil},

		// Cross-origin, even with a valid token.
		{"cross-site", f.p, req{method: "POST", site: "cross-site", token: valid, secret: f.secret, session: "s1"}, ErrCrossOrigin},
		{"same-site", f.p, req{method: "POST", site: "same-site", origin: "https://a.example.com", token: valid, secret: f.secret, session: "s1"}, ErrCrossOrigin},
		{"old browser, Origin differs", f.p, req{method: "POST", origin: "https://evil.example", token: valid, secret: f.secret, session: "s1"}, ErrCrossOrigin},
		{"old browser, Origin null", f.p, req{method: "POST", origin: "null", token: valid, secret: f.secret, session: "s1"}, ErrCrossOrigin},
		{"DELETE cross-site", f.p, req{method: "DELETE", site: "cross-site", token: valid, secret: f.secret, session: "s1"}, ErrCrossOrigin},

		// Token problems.
		{"no token", f.p, req{method: "POST", secret: f.secret, session: "s1"}, ErrTokenMissing},
		{"no token in form", f.p, req{method: "POST", inForm: true, secret: f.secret, session: "s1"}, ErrTokenMissing},
		{"no cookie", f.p, req{method: "POST", token: valid, session: "s1"}, ErrCookieMissing},
		{"other cookie", f.p, req{method: "POST", token: valid, secret: f.other, session: "s1"}, ErrTokenInvalid},
		{"other session", f.p, req{method: "POST", token: valid, secret: f.secret, session: "s2"}, ErrTokenInvalid},
		{"signed-out session", f.p, req{method: "POST", token: valid, secret: f.secret}, ErrTokenInvalid},
		{"retired key", New(f.retired, WithBinding(bySession)), req{method: "POST", token: oldKeyToken, secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"unknown key", New(keyring.Ephemeral(), WithBinding(bySession)), req{method: "POST", token: valid, secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"unmasked signature", f.p, req{method: "POST", token: b64.EncodeToString(f.p.mac.Sign(message(f.secret, "s1"))), secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"truncated", f.p, req{method: "POST", token: valid[:TokenLen-1], secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"not base64", f.p, req{method: "POST", token: strings.Repeat("!", TokenLen), secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"huge", f.p, req{method: "POST", token: strings.Repeat("A", 1<<16), secret: f.secret, session: "s1"}, ErrTokenInvalid},
		{"flipped bit", f.p, req{method: "POST", token: flip(valid), secret: f.secret, session: "s1"}, ErrTokenInvalid},

		// Exempt requests (bearer API) need nothing.
		{"exempt", New(f.both, WithExempt(isAPI)), req{method: "POST", site: "cross-site", path: "/api/v1/token"}, nil},

		// Trusted origins pass the origin check but still need a token.
		{"trusted origin", New(f.both, WithBinding(bySession), WithTrustedOrigins("https://app.example")),
			req{method: "POST", site: "cross-site", origin: "https://app.example", token: valid, secret: f.secret, session: "s1"}, nil},
		{"trusted origin no token", New(f.both, WithTrustedOrigins("https://app.example")),
			req{method: "POST", site: "cross-site", origin: "https://app.example", secret: f.secret}, ErrTokenMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.req.build())
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Check: %v, want %v", err, tt.err)
			}
		})
	}
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// flip changes one character of a token to another base64url character.
func flip(tok string) string {
	b := []byte(tok)
	if b[50] == 'A' {
		b[50] = 'B'
	} else {
		b[50] = 'A'
	}
	return string(b)
}

// form is a handler that renders a token and accepts posts.
func form(p *Protector) http.Handler {
	return p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, p.Token(r))
	}))
}

func TestHandlerRoundTrip(t *testing.T) {
	p := New(keyring.Ephemeral(), WithBinding(bySession))
	h := form(p)

	// First visit: no cookie yet; the middleware sets one.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://example.com/login", nil))
	res := w.Result()
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("first GET set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != CookieName || !c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
		t.Fatalf("cookie %+v is not a __Host-, Secure, HttpOnly, Path=/, SameSite=Lax cookie", c)
	}
	tok1 := w.Body.String()
	if len(tok1) != TokenLen {
		t.Fatalf("token %q has length %d, want %d", tok1, len(tok1), TokenLen)
	}

	// A second render with the cookie: no new cookie, a different token.
	r := httptest.NewRequest("GET", "https://example.com/login", nil)
	r.AddCookie(c)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("a request with a valid cookie got a new cookie")
	}
	tok2 := w.Body.String()
	if tok1 == tok2 {
		t.Fatal("two renders gave the same token")
	}

	// Both tokens work.
	for _, tok := range []string{tok1, tok2} {
		r := httptest.NewRequest("POST", "https://example.com/login", strings.NewReader(FieldName+"="+tok))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(c)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("POST with a rendered token: %d %q", w.Code, w.Body)
		}
	}

	// Signing in changes the binding: the old token is refused.
	r = httptest.NewRequest("POST", "https://example.com/account/password", nil)
	r.Header.Set(HeaderName, tok1)
	r.Header.Set(sessionHeader, "signed-in")
	r.AddCookie(c)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("POST with a pre-login token after login: %d, want 403", w.Code)
	}
}

func TestDefaultErrorPage(t *testing.T) {
	h := form(New(keyring.Ephemeral()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "https://example.com/x", nil))
	if w.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(w.Body.String(), "reload the page") {
		t.Errorf("body %q", w.Body)
	}
	if len(w.Result().Cookies()) != 1 {
		t.Error("a refused request without a cookie should get one, so a reload works")
	}
}

func TestErrorHandlerReason(t *testing.T) {
	var reason error
	p := New(keyring.Ephemeral(), WithErrorHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason = FailureReason(r)
		w.WriteHeader(http.StatusTeapot)
	})))
	tests := []struct {
		name string
		req  req
		want error
	}{
		{"cross-origin", req{method: "POST", site: "cross-site"}, ErrCrossOrigin},
		{"no token", req{method: "POST"}, ErrTokenMissing},
		{"no cookie", req{method: "POST", token: strings.Repeat("A", TokenLen)}, ErrCookieMissing},
		{"bad token", req{method: "POST", token: "x", secret: make([]byte, secretSize)}, ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason = nil
			w := httptest.NewRecorder()
			form(p).ServeHTTP(w, tt.req.build())
			if w.Code != http.StatusTeapot || !errors.Is(reason, tt.want) {
				t.Fatalf("status %d, reason %v; want 418, %v", w.Code, reason, tt.want)
			}
		})
	}
	if FailureReason(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Error("FailureReason outside the error handler is not nil")
	}
}

func TestInsecureHTTPCookie(t *testing.T) {
	p := New(keyring.Ephemeral(), InsecureHTTPCookie())
	w := httptest.NewRecorder()
	form(p).ServeHTTP(w, httptest.NewRequest("GET", "http://localhost:8080/", nil))
	c := w.Result().Cookies()[0]
	if c.Name != InsecureCookieName || c.Secure || !c.HttpOnly {
		t.Fatalf("insecure cookie %+v", c)
	}
	r := httptest.NewRequest("POST", "http://localhost:8080/", nil)
	r.Header.Set(HeaderName, w.Body.String())
	r.AddCookie(c)
	if err := p.Check(r); err != nil {
		t.Fatalf("Check with the insecure cookie: %v", err)
	}
}

func TestExemptGetsNoCookie(t *testing.T) {
	p := New(keyring.Ephemeral(), WithExempt(isAPI))
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "https://example.com/api/v1/token", nil)
	form(p).ServeHTTP(w, r)
	if w.Code != 200 || len(w.Result().Cookies()) != 0 {
		t.Fatalf("exempt request: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	if tok := p.Token(r); tok != "" {
		t.Fatalf("Token for an exempt request = %q", tok)
	}
}

func TestTokenWithoutMiddleware(t *testing.T) {
	f := newFixture(t)
	if tok := f.p.Token(httptest.NewRequest("GET", "/", nil)); tok != "" {
		t.Fatalf("Token without cookie or middleware = %q, want empty", tok)
	}
	r := req{method: "GET", secret: f.secret, session: "s1"}.build()
	tok := f.p.Token(r)
	if err := f.p.verify(tok, f.secret, "s1"); err != nil {
		t.Fatalf("Token from the cookie does not verify: %v", err)
	}
	if got := string(f.p.Field(r)); !strings.Contains(got, `name="csrf_token"`) || !strings.HasPrefix(got, "<input") {
		t.Fatalf("Field = %q", got)
	}
}

func TestMalformedCookieReplaced(t *testing.T) {
	p := New(keyring.Ephemeral())
	for _, v := range []string{"", "short", strings.Repeat("!", secretLen), strings.Repeat("A", secretLen+1)} {
		r := httptest.NewRequest("GET", "https://example.com/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
		w := httptest.NewRecorder()
		form(p).ServeHTTP(w, r)
		if len(w.Result().Cookies()) != 1 {
			t.Errorf("cookie %q was not replaced", v)
		}
	}
}

func TestTrustedOriginPanicsWhenMalformed(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted a malformed trusted origin")
		}
	}()
	New(keyring.Ephemeral(), WithTrustedOrigins("app.example/path"))
}

func FuzzToken(f *testing.F) {
	ring, _ := keyring.NewStatic(keyring.Generate())
	p := New(ring)
	secret := make([]byte, secretSize)
	good := tokenFor(p, secret, "")
	want, _ := unmask(good)
	f.Add(good)
	f.Add(good[:TokenLen-1] + "=")
	f.Add("")
	f.Add(strings.Repeat("A", TokenLen))
	f.Fuzz(func(t *testing.T, tok string) {
		err := p.verify(tok, secret, "")
		if err == nil {
			got, _ := unmask(tok)
			if string(got) != string(want) {
				t.Fatalf("verify accepted a forged token %q", tok)
			}
		} else if !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("verify: %v, want ErrTokenInvalid", err)
		}
	})
}

func BenchmarkTokenVerify(b *testing.B) {
	p := New(keyring.Ephemeral())
	secret := make([]byte, secretSize)
	for b.Loop() {
		if err := p.verify(tokenFor(p, secret, "session"), secret, "session"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCookie(f *testing.F) {
	p := New(keyring.Ephemeral())
	f.Add(b64.EncodeToString(make([]byte, secretSize)))
	f.Add("")
	f.Add(strings.Repeat("_", secretLen))
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", CookieName+"="+v)
		secret, ok := p.cookieSecret(r)
		if ok && len(secret) != secretSize {
			t.Fatalf("cookieSecret accepted %q as a %d-byte secret", v, len(secret))
		}
	})
}
