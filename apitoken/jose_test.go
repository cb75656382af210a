package apitoken

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// TestIndependentVerification checks our tokens and our JWKS with go-jose,
// an independent JOSE implementation.
func TestIndependentVerification(t *testing.T) {
	clk := newClock(t0)
	cur, old := mustKey(t, "2030-01"), mustKey(t, "2029-12")
	keys := mustStatic(t, cur, old.Public())
	tok, issued, err := mustIssuer(t, keys, clk.Now).Issue("user-7", Extra{Roles: []string{"admin"}, AuthTime: t0.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := keys.VerificationKeys()
	doc, err := JWKS(pub)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("go-jose cannot read our JWKS: %v", err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("bad JWK %+v", k)
		}
	}

	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose cannot parse our token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.KeyID != "2030-01" || h.Algorithm != "EdDSA" || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("header = %+v", h)
	}
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q not in JWKS", h.KeyID)
	}
	if _, err := jws.Verify(found[0]); err != nil {
		t.Fatalf("go-jose rejects our signature: %v", err)
	}
	if _, err := jws.Verify(set.Key("2029-12")[0]); err == nil {
		t.Fatal("signature verified with the wrong key")
	}

	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var std josejwt.Claims
	var extra struct {
		ClientID string   `json:"client_id"`
		Roles    []string `json:"roles"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := parsed.Claims(found[0], &std, &extra); err != nil {
		t.Fatal(err)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: testIssuer, AnyAudience: josejwt.Audience{testAudience}, Subject: "user-7", Time: t0}, 0); err != nil {
		t.Errorf("go-jose claim validation: %v", err)
	}
	if std.ID != issued.ID || !std.Expiry.Time().Equal(t0.Add(DefaultTTL)) || !std.IssuedAt.Time().Equal(t0) {
		t.Errorf("std claims = %+v", std)
	}
	if extra.ClientID != testClient || len(extra.Roles) != 1 || extra.Roles[0] != "admin" || extra.AuthTime != t0.Add(-time.Minute).Unix() {
		t.Errorf("extra claims = %+v", extra)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Time: t0.Add(DefaultTTL + time.Second)}, 0); err == nil {
		t.Error("go-jose accepts the token after exp")
	}
}
