package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/ory/fosite/token/jwt"
)

func mustDB(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "g.db"), db.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestValidRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri    string
		public bool
		ok     bool
	}{
		{"https://app.example/cb", false, true},
		{"https://app.example/cb?x=1", false, true},
		{"http://127.0.0.1:8000/cb", false, true},
		{"http://[::1]/cb", true, true},
		{"http://localhost:3000/cb", false, true},
		{"http://app.example/cb", false, false},
		{"https://app.example/cb#frag", false, false},
		{"https://user@app.example/cb", false, false},
		{"/relative", false, false},
		{"", false, false},
		{"https://app.example/a b", false, false},
		{"com.example.app:/cb", true, true},
		{"com.example.app:/cb", false, false},
		{"javascript:alert(1)", true, false},
		{"https://" + strings.Repeat("a", 600), false, false},
	} {
		err := ValidRedirectURI(tc.uri, tc.public)
		if (err == nil) != tc.ok {
			t.Errorf("ValidRedirectURI(%q, public=%v) = %v, want ok=%v", tc.uri, tc.public, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidClient) {
			t.Errorf("error %v does not wrap ErrInvalidClient", err)
		}
	}
}

func FuzzValidRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1:1/x", "com.x.y:/cb", "http://[::1", "%zz", "https://a#b"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, public bool) {
		if ValidRedirectURI(s, public) == nil {
			if len(s) > maxURILen || strings.Contains(s, "#") || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func TestClientsService(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cs := NewClients(mustDB(t).OIDC(), func() time.Time { return now })
	c, secret, err := cs.Create(ctx, NewClient{Name: " App ", RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"profile"}})
	if err != nil || secret == "" || c.Name != "App" || c.Scopes[0] != ScopeOpenID || !c.CreatedAt.Equal(now) {
		t.Fatalf("Create = %+v, %q, %v", c, secret, err)
	}
	if _, _, err := cs.Create(ctx, NewClient{Name: "x", RedirectURIs: []string{"http://evil.example/cb"}}); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("plain http redirect: %v", err)
	}
	if _, _, err := cs.Create(ctx, NewClient{Name: "x", RedirectURIs: []string{"https://a.example/"}, Scopes: []string{"admin"}}); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("unknown scope: %v", err)
	}
	pub, psecret, err := cs.Create(ctx, NewClient{Name: "CLI", RedirectURIs: []string{"http://127.0.0.1/cb"}, Public: true})
	if err != nil || psecret != "" {
		t.Fatalf("public Create = %q, %v", psecret, err)
	}
	if _, err := cs.RotateSecret(ctx, pub.ID); !errors.Is(err, ErrPublicClient) {
		t.Fatalf("RotateSecret(public) = %v", err)
	}
	s2, err := cs.RotateSecret(ctx, c.ID)
	if err != nil || s2 == secret {
		t.Fatalf("RotateSecret = %q, %v", s2, err)
	}
	if err := cs.Disable(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := cs.Get(ctx, c.ID); !got.Disabled {
		t.Fatal("not disabled")
	}
	if err := cs.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{c.ID, "", strings.Repeat("x", 100)} {
		if _, err := cs.Get(ctx, id); !errors.Is(err, ErrClientNotFound) {
			t.Fatalf("Get(%q) = %v", id, err)
		}
	}
}

func TestKeysFollowTheKeyring(t *testing.T) {
	ctx := context.Background()
	d := mustDB(t)
	kf, err := keyring.Open(filepath.Join(t.TempDir(), "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys := NewKeys(kf, d.OIDC(), time.Now)
	s := signer{keys}
	tok, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "1", "exp": time.Now().Add(time.Hour).Unix()}, &jwt.Headers{})
	if err != nil {
		t.Fatal(err)
	}
	kid1, _, _ := keys.Signing(ctx)
	old := kf.Ring().Current().ID
	staged, err := kf.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	// Staged (two-phase rotation): published in the JWKS, not yet signing.
	if kid, _, _ := keys.Signing(ctx); kid != kid1 {
		t.Fatalf("a staged key signs: %q, want %q", kid, kid1)
	}
	if set, _ := keys.JWKS(ctx); len(set) != 2 {
		t.Fatalf("JWKS with a staged key: %d keys, want 2", len(set))
	}
	if _, err := kf.Activate(staged.ID); err != nil {
		t.Fatal(err)
	}
	kid2, _, err := keys.Signing(ctx)
	if err != nil || kid2 == kid1 {
		t.Fatalf("after rotation: %q, %v (was %q)", kid2, err, kid1)
	}
	if set, _ := keys.JWKS(ctx); len(set) != 2 {
		t.Fatalf("JWKS after rotation: %d keys, want 2", len(set))
	}
	if _, err := s.Decode(ctx, tok); err != nil {
		t.Fatalf("a token of the previous key: %v", err)
	}
	// A second instance on the same database and keys uses the same key.
	other := NewKeys(kf, d.OIDC(), time.Now)
	if kid, pk, _ := other.Signing(ctx); kid != kid2 || pk == nil {
		t.Fatalf("second instance signs with %q, want %q", kid, kid2)
	}
	if err := kf.Retire(old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decode(ctx, tok); err == nil {
		t.Fatal("a token of a retired key still verifies")
	}
	if set, _ := keys.JWKS(ctx); len(set) != 1 || set[0].KID != kid2 {
		t.Fatalf("JWKS after retiring: %+v", set)
	}
}

func FuzzSignerDecode(f *testing.F) {
	d := mustDB(f)
	s := signer{NewKeys(keyring.Ephemeral(), d.OIDC(), time.Now)}
	ctx := context.Background()
	good, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "1"}, &jwt.Headers{})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "", "...."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if parsed, err := s.Decode(ctx, tok); err == nil && tok != good {
			if string(parsed.Method) != "RS256" {
				t.Fatalf("accepted %q with %v", tok, parsed.Method)
			}
		}
	})
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic x", "", "Bearer"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodGet, "/oidc/userinfo", nil)
		r.Header.Set("Authorization", h)
		if tok := bearer(r); tok != "" && !strings.Contains(h, tok) {
			t.Fatalf("bearer(%q) = %q", h, tok)
		}
	})
}
