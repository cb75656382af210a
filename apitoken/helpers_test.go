package apitoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://api.example.com"
	testClient   = "gatehouse"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable, concurrency-safe test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustKey derives a deterministic signing key from id.
func mustKey(t testing.TB, id string) SigningKey {
	t.Helper()
	seed := sha256.Sum256([]byte("apitoken test key " + id))
	k, err := NewSigningKey(id, seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustStatic(t testing.TB, signing SigningKey, older ...PublicKey) *StaticKeys {
	t.Helper()
	ks, err := NewStaticKeys(signing, older...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustIssuer(t testing.TB, keys KeySource, now func() time.Time, mod ...func(*IssuerConfig)) *Issuer {
	t.Helper()
	cfg := IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, ClientID: testClient, Now: now}
	for _, m := range mod {
		m(&cfg)
	}
	iss, err := NewIssuer(keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func mustVerifier(t testing.TB, keys KeyLookup, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys, VerifierConfig{Issuer: testIssuer, Audience: testAudience, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustIssue(t testing.TB, iss *Issuer, sub string) string {
	t.Helper()
	tok, _, err := iss.Issue(sub, Extra{Roles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// goodClaims are valid claims at t0 as a JSON object, for crafted tokens.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testAudience}, "sub": "user-1",
		"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(15 * time.Minute).Unix(),
		"jti": "abc123", "client_id": testClient,
	}
}

// without returns a copy of m without the keys.
func without(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// with returns a copy of m with k set to v.
func with(m map[string]any, k string, v any) map[string]any {
	out := without(m)
	out[k] = v
	return out
}

// mustJose signs claims with go-jose, the independent implementation.
// headers are extra protected header parameters; typ defaults to at+jwt.
func mustJose(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[string]any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	for k, v := range headers {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawToken assembles header.payload.signature from JSON values without
// signing, for tokens no library would produce.
func rawToken(t testing.TB, header, claims any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + sig
}

func parts(tok string) []string { return strings.Split(tok, ".") }
