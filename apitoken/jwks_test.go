package apitoken

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestJWKSRoundTrip(t *testing.T) {
	a, b := mustKey(t, "a"), mustKey(t, "b")
	doc, err := JWKS([]PublicKey{a.Public(), b.Public()})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string][]map[string]string
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	k := raw["keys"][0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["kid"] != "a" || k["use"] != "sig" || k["alg"] != "EdDSA" || len(k) != 6 {
		t.Errorf("JWK = %v", k)
	}
	got, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].ID != "b" || !got[1].Key.Equal(b.Public().Key) {
		t.Errorf("ParseJWKS = %+v", got)
	}
	if bytes.Contains(doc, []byte(`"d"`)) {
		t.Error("private key material published")
	}
}

func TestJWKSRefuses(t *testing.T) {
	a := mustKey(t, "a").Public()
	tests := []struct {
		name string
		keys []PublicKey
	}{
		{"duplicate kid", []PublicKey{a, a}},
		{"bad kid", []PublicKey{{ID: "../x", Key: a.Key}}},
		{"short key", []PublicKey{{ID: "x", Key: a.Key[:16]}}},
		{"too many", make([]PublicKey, MaxJWKSKeys+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := JWKS(tt.keys); err == nil {
				t.Error("JWKS accepted bad keys")
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	x := `"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`
	okp := `{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"k1"}`
	tests := []struct {
		name string
		doc  string
		want []string // kids kept; nil means an error
	}{
		{"minimal", `{"keys":[` + okp + `]}`, []string{"k1"}},
		{"use and alg", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"k1","use":"sig","alg":"EdDSA"}]}`, []string{"k1"}},
		{"RSA key skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},` + okp + `]}`, []string{"k1"}},
		{"X25519 skipped", `{"keys":[{"kty":"OKP","crv":"X25519",` + x + `,"kid":"x"},` + okp + `]}`, []string{"k1"}},
		{"enc key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"e","use":"enc"},` + okp + `]}`, []string{"k1"}},
		{"other alg skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"e","alg":"ES256"},` + okp + `]}`, []string{"k1"}},
		{"private key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"d":"AAAA","kid":"p"},` + okp + `]}`, []string{"k1"}},
		{"path kid skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"../p"},` + okp + `]}`, []string{"k1"}},
		{"short x skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"s"},` + okp + `]}`, []string{"k1"}},
		{"junk entries skipped", `{"keys":[null,1,"s",[],` + okp + `]}`, []string{"k1"}},
		{"only RSA", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}`, nil},
		{"empty", `{"keys":[]}`, nil},
		{"duplicate kid", `{"keys":[` + okp + `,` + okp + `]}`, nil},
		{"not JSON", `<html>`, nil},
		{"keys not a list", `{"keys":{}}`, nil},
		{"too many", `{"keys":[` + strings.Repeat(okp+",", MaxJWKSKeys) + okp + `]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJWKS([]byte(tt.doc))
			if tt.want == nil {
				if err == nil || !errors.Is(err, ErrJWKS) {
					t.Fatalf("ParseJWKS = %v, %v; want ErrJWKS", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range got {
				kids = append(kids, k.ID)
				if len(k.Key) != ed25519.PublicKeySize {
					t.Errorf("key %s has %d bytes", k.ID, len(k.Key))
				}
			}
			if strings.Join(kids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("kids = %v, want %v", kids, tt.want)
			}
		})
	}
}

func TestJWKSHandler(t *testing.T) {
	keys := mustStatic(t, mustKey(t, "k2"), mustKey(t, "k1").Public())
	h := JWKSHandler(keys)
	tests := []struct {
		method     string
		status     int
		body, ctyp string
	}{
		{http.MethodGet, 200, `"kid":"k2"`, "application/json"},
		{http.MethodHead, 200, "", "application/json"},
		{http.MethodPost, 405, `"status":405`, "application/problem+json"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/.well-known/jwks.json", nil))
			if rec.Code != tt.status || rec.Header().Get("Content-Type") != tt.ctyp {
				t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q lacks %q", rec.Body, tt.body)
			}
			if tt.status == 200 && rec.Header().Get("Cache-Control") != "public, max-age=300" {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
	rec := httptest.NewRecorder()
	JWKSHandler(badSource{}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("failing source: %d %q", rec.Code, rec.Body)
	}
}

type badSource struct{}

func (badSource) SigningKey() (SigningKey, error)        { return SigningKey{}, errors.New("boom") }
func (badSource) VerificationKeys() ([]PublicKey, error) { return nil, errors.New("boom") }

func TestKeys(t *testing.T) {
	ids := []struct {
		id string
		ok bool
	}{
		{"k1", true}, {"2030-01-02.a_b", true}, {strings.Repeat("a", MaxKeyIDLength), true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {`a\b`, false}, {"a b", false},
		{"é", false}, {strings.Repeat("a", MaxKeyIDLength+1), false}, {"a\x00", false},
	}
	for _, tt := range ids {
		if ValidKeyID(tt.id) != tt.ok {
			t.Errorf("ValidKeyID(%q) = %v", tt.id, !tt.ok)
		}
	}
	if _, err := NewSigningKey("k", make([]byte, 31)); !errors.Is(err, ErrBadKey) {
		t.Errorf("short seed: %v", err)
	}
	g1, err := GenerateSigningKey("g")
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := GenerateSigningKey("g")
	if g1.Key.Equal(g2.Key) {
		t.Error("GenerateSigningKey repeats")
	}
	if _, err := NewStaticKeys(g1, g2.Public()); !errors.Is(err, ErrBadKey) {
		t.Errorf("duplicate kid: %v", err)
	}
	if _, err := NewStaticKeys(SigningKey{ID: "x"}); !errors.Is(err, ErrBadKey) {
		t.Errorf("empty key: %v", err)
	}
	ks := mustStatic(t, mustKey(t, "b"), mustKey(t, "a").Public())
	for _, l := range []KeyLookup{ks, LookupFromSource(ks)} {
		if k, err := l.PublicKey(context.Background(), "a"); err != nil || !k.Equal(mustKey(t, "a").Public().Key) {
			t.Errorf("lookup a: %v", err)
		}
		if _, err := l.PublicKey(context.Background(), "A"); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("lookup is not exact: %v", err)
		}
	}
	if _, err := LookupFromSource(badSource{}).PublicKey(context.Background(), "a"); err == nil {
		t.Error("source error lost")
	}
}

func TestNewIssuerConfig(t *testing.T) {
	keys := mustStatic(t, mustKey(t, "k1"))
	good := IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, ClientID: testClient}
	tests := []struct {
		name string
		keys KeySource
		mod  func(*IssuerConfig)
		ok   bool
	}{
		{"defaults", keys, func(*IssuerConfig) {}, true},
		{"no keys", nil, func(*IssuerConfig) {}, false},
		{"no issuer", keys, func(c *IssuerConfig) { c.Issuer = "" }, false},
		{"no client", keys, func(c *IssuerConfig) { c.ClientID = "" }, false},
		{"no audience", keys, func(c *IssuerConfig) { c.Audience = nil }, false},
		{"empty audience", keys, func(c *IssuerConfig) { c.Audience = []string{""} }, false},
		{"negative TTL", keys, func(c *IssuerConfig) { c.TTL = -time.Minute }, false},
		{"tiny TTL", keys, func(c *IssuerConfig) { c.TTL = time.Millisecond }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			if _, err := NewIssuer(tt.keys, cfg); (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	iss := mustIssuer(t, mustStatic(t, mustKey(t, "k1")), newClock(t0).Now)
	many := make([]string, maxListLength+1)
	for i := range many {
		many[i] = "r"
	}
	tests := []struct {
		name  string
		sub   string
		extra Extra
	}{
		{"empty subject", "", Extra{}},
		{"long subject", strings.Repeat("s", maxSubjectLength+1), Extra{}},
		{"empty role", "u", Extra{Roles: []string{""}}},
		{"too many roles", "u", Extra{Roles: many}},
		{"scope with space", "u", Extra{Scope: []string{"a b"}}},
		{"long amr", "u", Extra{AMR: []string{strings.Repeat("a", maxValueLength+1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := iss.Issue(tt.sub, tt.extra); !errors.Is(err, ErrIssue) {
				t.Errorf("err = %v, want ErrIssue", err)
			}
		})
	}
	if _, _, err := mustIssuer(t, badSource{}, time.Now).Issue("u", Extra{}); err == nil {
		t.Error("key source error lost")
	}
}
