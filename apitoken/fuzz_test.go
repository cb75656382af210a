package apitoken

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must
// refuse with ErrInvalidToken, and may only accept tokens that really carry
// the expected claims.
func FuzzVerify(f *testing.F) {
	clk := newClock(t0)
	key := mustKey(f, "k1")
	keys := mustStatic(f, key)
	good := mustIssue(f, mustIssuer(f, keys, clk.Now), "user-1")
	p := parts(good)
	for _, s := range []string{
		good, "", ".", "..", "...", "a.b.c", p[0] + "." + p[1] + ".",
		rawToken(f, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, goodClaims(), ""),
		mustJose(f, jose.HS256, []byte(key.Public().Key), map[string]any{"kid": "k1"}, goodClaims()),
		mustJose(f, jose.EdDSA, key.Key, map[string]any{"kid": "k1", "jku": "https://x"}, goodClaims()),
		mustJose(f, jose.EdDSA, key.Key, map[string]any{"kid": "k1"}, with(goodClaims(), "exp", 1e300)),
		mustJose(f, jose.EdDSA, key.Key, map[string]any{"kid": "k1"}, with(goodClaims(), "aud", []any{1, nil})),
		strings.Repeat("A", MaxTokenSize+1),
	} {
		f.Add(s)
	}
	v := mustVerifier(f, keys, clk.Now)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := v.Verify(s)
		if err != nil {
			if c != nil || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%q) = %v, %v", s, c, err)
			}
			return
		}
		if c.Issuer != testIssuer || !c.ExpiresAt.After(t0.Add(-DefaultLeeway)) || c.Subject == "" || c.ID == "" {
			t.Fatalf("accepted bad claims %+v", c)
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to ParseJWKS, the parser of what a
// RemoteKeySet fetches: it must never panic and only return valid keys.
func FuzzParseJWKS(f *testing.F) {
	doc, err := JWKS([]PublicKey{mustKey(f, "a").Public(), mustKey(f, "b").Public()})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(doc), "", "{}", `{"keys":null}`, `{"keys":[null]}`, `{"keys":[{"kty":"OKP"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			if !errors.Is(err, ErrJWKS) {
				t.Fatalf("error %v is not ErrJWKS", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > MaxJWKSKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if checkPublicKey(k) != nil {
				t.Fatalf("invalid key returned: %q", k.ID)
			}
		}
		if _, err := JWKS(keys); err != nil {
			t.Fatalf("parsed keys do not publish: %v", err)
		}
	})
}
