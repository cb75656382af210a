package app

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
)

// apiCall sends one API request. hdr holds header name/value pairs: the
// first of a name replaces the header, later ones add values, and an empty
// value removes it. A body gets Content-Type application/json unless hdr
// says otherwise.
func apiCall(t *testing.T, ts *testServer, method, path, body string, hdr ...string) *response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(hdr); i += 2 {
		name := http.CanonicalHeaderKey(hdr[i])
		switch {
		case hdr[i+1] == "":
			req.Header.Del(name)
		case seen[name]:
			req.Header.Add(name, hdr[i+1])
		default:
			req.Header.Set(name, hdr[i+1])
		}
		seen[name] = true
	}
	return ts.browser().do(req)
}

// apiJSON encodes v as the body of a POST.
func apiJSON(t *testing.T, ts *testServer, path string, v any, hdr ...string) *response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return apiCall(t, ts, http.MethodPost, path, string(b), hdr...)
}

// apiVerifiedUser creates an account whose address is verified.
func apiVerifiedUser(ts *testServer, email string) {
	ts.t.Helper()
	ts.mustCLI(goodPassword+"\n", "user", "create", "--email", email, "--verified")
}

// apiMustTokens signs in through the API.
func apiMustTokens(t *testing.T, ts *testServer, email, pw string) api.TokenResponse {
	t.Helper()
	r := apiJSON(t, ts, "/api/v1/token", map[string]string{"email": email, "password": pw})
	return apiDecodeTokens(t, r)
}

func apiMustRefresh(t *testing.T, ts *testServer, refresh string) api.TokenResponse {
	t.Helper()
	return apiDecodeTokens(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": refresh}))
}

func apiDecodeTokens(t *testing.T, r *response) api.TokenResponse {
	t.Helper()
	r.want(t, http.StatusOK)
	var tr api.TokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
		t.Fatalf("token answer %q: %v", r.body, err)
	}
	if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn <= 0 || len(tr.RefreshToken) != account.RefreshTokenLength {
		t.Fatalf("token answer %+v", tr)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("token answer Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token answer Cache-Control %q", cc)
	}
	return tr
}

// apiMe calls /api/v1/me with an access token.
func apiMe(t *testing.T, ts *testServer, access string) *response {
	t.Helper()
	return apiCall(t, ts, http.MethodGet, "/api/v1/me", "", "Authorization", "Bearer "+access)
}

// apiWantProblem checks a problem+json answer and returns its body.
func apiWantProblem(t *testing.T, r *response, status int) api.ProblemBody {
	t.Helper()
	r.want(t, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s %s: Content-Type %q, want application/problem+json", r.Request.Method, r.Request.URL.Path, ct)
	}
	var p api.ProblemBody
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem body %q (%v)", r.body, err)
	}
	return p
}

// apiWantInvalidToken checks the one answer to every refused token: 401, the
// invalid_token challenge and a body that says nothing about why.
func apiWantInvalidToken(t *testing.T, r *response, p api.Problem) {
	t.Helper()
	got := apiWantProblem(t, r, http.StatusUnauthorized)
	if h := r.Header.Values("WWW-Authenticate"); len(h) != 1 || h[0] != `Bearer error="invalid_token"` {
		t.Fatalf("WWW-Authenticate %q", h)
	}
	if got != api.ProblemBody(p) {
		t.Fatalf("refusal body %+v, want the generic one", got)
	}
}

// apiSigningKey returns the JWT signing key the server derives from the
// current key of its keys file.
func apiSigningKey(t *testing.T, ts *testServer) (string, ed25519.PrivateKey) {
	t.Helper()
	f, err := keyring.Open(filepath.Join(ts.dir, "gatehouse.keys"))
	if err != nil {
		t.Fatal(err)
	}
	k := f.Ring().Current()
	return k.ID, k.Ed25519(api.JWTKeyPurpose)
}

// apiAuditEvents returns the audit events named name, newest first, reading
// the server's database directly.
func apiAuditEvents(t *testing.T, ts *testServer, name account.EventName) []account.Event {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(ts.dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Audit().ListAudit(context.Background(), account.AuditFilter{Name: name, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// apiWaitFor polls cond (for a background reload, never for an expiry) until
// it holds or 10 seconds pass.
func apiWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
