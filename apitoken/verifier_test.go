package apitoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestVerifyAccepts(t *testing.T) {
	clk := newClock(t0)
	cur, old := mustKey(t, "k2"), mustKey(t, "k1")
	keys := mustStatic(t, cur, old.Public())
	v := mustVerifier(t, keys, clk.Now)
	iss := mustIssuer(t, keys, clk.Now)
	oldIss := mustIssuer(t, mustStatic(t, old), clk.Now)
	hdr := func(typ string) map[string]any { return map[string]any{"kid": "k2", "typ": typ} }

	tests := []struct {
		name, token string
	}{
		{"issued", mustIssue(t, iss, "user-1")},
		{"signed by an older key still published", mustIssue(t, oldIss, "user-1")},
		{"typ application/at+jwt", mustJose(t, jose.EdDSA, cur.Key, hdr("application/at+jwt"), goodClaims())},
		{"typ upper case", mustJose(t, jose.EdDSA, cur.Key, hdr("AT+JWT"), goodClaims())},
		{"aud as a string", mustJose(t, jose.EdDSA, cur.Key, hdr("at+jwt"), with(goodClaims(), "aud", testAudience))},
		{"aud among several", mustJose(t, jose.EdDSA, cur.Key, hdr("at+jwt"), with(goodClaims(), "aud", []string{"x", testAudience}))},
		{"no nbf", mustJose(t, jose.EdDSA, cur.Key, hdr("at+jwt"), without(goodClaims(), "nbf"))},
		{"iat within leeway", mustJose(t, jose.EdDSA, cur.Key, hdr("at+jwt"), with(goodClaims(), "iat", t0.Add(20*time.Second).Unix()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "user-1" || c.Issuer != testIssuer {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	clk := newClock(t0.Add(500 * time.Millisecond))
	keys := mustStatic(t, mustKey(t, "k1"))
	iss := mustIssuer(t, keys, clk.Now, func(c *IssuerConfig) { c.Audience = []string{testAudience, "other"} })
	auth := t0.Add(-time.Hour)
	tok, issued, err := iss.Issue("user-42", Extra{Roles: []string{"admin", "user"}, AuthTime: auth, Scope: []string{"read", "write"}, AMR: []string{"pwd", "otp"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := mustVerifier(t, keys, clk.Now).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Issuer: testIssuer, Subject: "user-42", Audience: []string{testAudience, "other"},
		ExpiresAt: t0.Add(DefaultTTL), IssuedAt: t0, IssuedAtExact: t0.Add(500 * time.Millisecond), NotBefore: t0, ID: issued.ID, ClientID: testClient,
		AuthTime: auth, Roles: []string{"admin", "user"}, Scope: []string{"read", "write"}, AMR: []string{"pwd", "otp"},
	}
	for _, c := range []*Claims{got, &issued} {
		if !equalClaims(*c, want) {
			t.Errorf("claims =\n%+v\nwant\n%+v", *c, want)
		}
	}
	if !got.HasRole("admin") || got.HasRole("root") || !got.HasScope("write") {
		t.Error("HasRole/HasScope wrong")
	}
	id, err := base64.RawURLEncoding.DecodeString(issued.ID)
	if err != nil || len(id) != 16 {
		t.Errorf("jti %q is not 128 bits of base64url", issued.ID)
	}
	tok2, issued2, _ := iss.Issue("user-42", Extra{})
	if issued2.ID == issued.ID || tok2 == tok {
		t.Error("jti repeated")
	}
	if strings.Contains(tok2, "roles") {
		t.Error("empty roles should be omitted")
	}
}

func equalClaims(a, b Claims) bool {
	eq := func(x, y []string) bool { return strings.Join(x, "\x00") == strings.Join(y, "\x00") }
	return a.Issuer == b.Issuer && a.Subject == b.Subject && eq(a.Audience, b.Audience) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.IssuedAt.Equal(b.IssuedAt) && a.IssuedAtExact.Equal(b.IssuedAtExact) && a.NotBefore.Equal(b.NotBefore) &&
		a.ID == b.ID && a.ClientID == b.ClientID && a.AuthTime.Equal(b.AuthTime) &&
		eq(a.Roles, b.Roles) && eq(a.Scope, b.Scope) && eq(a.AMR, b.AMR)
}

// TestVerifyRefuses is the attack table: every row must be refused, for the
// stated reason.
func TestVerifyRefuses(t *testing.T) {
	clk := newClock(t0)
	key := mustKey(t, "k1")
	keys := mustStatic(t, key)
	v := mustVerifier(t, keys, clk.Now)
	iss := mustIssuer(t, keys, clk.Now)
	pub := key.Public().Key
	hdr := map[string]any{"kid": "k1"}
	ed := func(h, c map[string]any) string { return mustJose(t, jose.EdDSA, key.Key, h, c) }
	good := mustIssue(t, iss, "user-1")
	admin := mustIssue(t, iss, "admin")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := mustKey(t, "other")
	opaque := make([]byte, 32)
	rand.Read(opaque)
	jwkHeader := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)}
	enc := base64.RawURLEncoding.EncodeToString
	noneHeader := map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}
	p := parts(good)

	tests := []struct {
		name, token, reason string
	}{
		{"alg none", rawToken(t, noneHeader, goodClaims(), ""), ReasonSignature},
		{"alg None", rawToken(t, with(noneHeader, "alg", "None"), goodClaims(), ""), ReasonAlgorithm},
		{"alg none with signature", rawToken(t, noneHeader, goodClaims(), p[2]), ReasonSignature},
		{"no alg", rawToken(t, without(noneHeader, "alg"), goodClaims(), p[2]), ReasonAlgorithm},
		{"HS256 with the public key", mustJose(t, jose.HS256, []byte(pub), hdr, goodClaims()), ReasonSignature},
		{"HS256 with the base64 public key", mustJose(t, jose.HS256, []byte(enc(pub)), hdr, goodClaims()), ReasonSignature},
		{"RS256", mustJose(t, jose.RS256, rsaKey, hdr, goodClaims()), ReasonSignature},
		{"ES256", mustJose(t, jose.ES256, ecKey, hdr, goodClaims()), ReasonSignature},
		{"wrong aud", ed(hdr, with(goodClaims(), "aud", []string{"https://other.example.com"})), ReasonAudience},
		{"wrong iss", ed(hdr, with(goodClaims(), "iss", "https://evil.example.com")), ReasonIssuer},
		{"iss with trailing slash", ed(hdr, with(goodClaims(), "iss", testIssuer+"/")), ReasonIssuer},
		{"expired", ed(hdr, with(goodClaims(), "exp", t0.Add(-time.Minute).Unix())), ReasonExpired},
		{"nbf in the future", ed(hdr, with(goodClaims(), "nbf", t0.Add(time.Minute).Unix())), ReasonNotYetValid},
		{"iat in the future", ed(hdr, with(goodClaims(), "iat", t0.Add(time.Minute).Unix())), ReasonIssuedInFuture},
		{"exp before iat", ed(hdr, with(with(goodClaims(), "iat", t0.Add(-time.Hour).Unix()), "exp", t0.Add(-2*time.Hour).Unix())), ReasonExpired},
		{"exp before iat, both plausible", ed(hdr, with(with(goodClaims(), "iat", t0.Add(20*time.Second).Unix()), "exp", t0.Add(10*time.Second).Unix())), ReasonClaims},
		{"lifetime too long", ed(hdr, with(goodClaims(), "exp", t0.Add(48*time.Hour).Unix())), ReasonLifetime},
		{"missing exp", ed(hdr, without(goodClaims(), "exp")), ReasonMissingClaim},
		{"missing iss", ed(hdr, without(goodClaims(), "iss")), ReasonMissingClaim},
		{"missing aud", ed(hdr, without(goodClaims(), "aud")), ReasonMissingClaim},
		{"missing iat", ed(hdr, without(goodClaims(), "iat")), ReasonMissingClaim},
		{"missing sub", ed(hdr, without(goodClaims(), "sub")), ReasonMissingClaim},
		{"missing jti", ed(hdr, without(goodClaims(), "jti")), ReasonMissingClaim},
		{"missing client_id", ed(hdr, without(goodClaims(), "client_id")), ReasonMissingClaim},
		{"exp as a string", ed(hdr, with(goodClaims(), "exp", "2099-01-01")), ReasonMalformed},
		{"iat_us negative", ed(hdr, with(goodClaims(), "iat_us", -1)), ReasonClaims},
		{"iat_us a whole second", ed(hdr, with(goodClaims(), "iat_us", 1000000)), ReasonClaims},
		{"iat_us fractional", ed(hdr, with(goodClaims(), "iat_us", 1.5)), ReasonMalformed},
		{"iat_us a string", ed(hdr, with(goodClaims(), "iat_us", "5")), ReasonMalformed},
		{"unknown kid", mustJose(t, jose.EdDSA, otherKey.Key, map[string]any{"kid": "other"}, goodClaims()), ReasonUnknownKey},
		{"known kid, other key", mustJose(t, jose.EdDSA, otherKey.Key, hdr, goodClaims()), ReasonSignature},
		{"no kid", ed(nil, goodClaims()), ReasonKeyID},
		{"kid as a number", ed(map[string]any{"kid": 1}, goodClaims()), ReasonKeyID},
		{"kid path", ed(map[string]any{"kid": "../../etc/passwd"}, goodClaims()), ReasonKeyID},
		{"kid URL", ed(map[string]any{"kid": "https://evil.example.com/key"}, goodClaims()), ReasonKeyID},
		{"kid dotdot", ed(map[string]any{"kid": ".."}, goodClaims()), ReasonKeyID},
		{"kid SQL", ed(map[string]any{"kid": "k1' OR '1'='1"}, goodClaims()), ReasonKeyID},
		{"stripped signature", p[0] + "." + p[1] + ".", ReasonSignature},
		{"two parts", p[0] + "." + p[1], ReasonMalformed},
		{"payload swapped, signature kept", p[0] + "." + parts(admin)[1] + "." + p[2], ReasonSignature},
		{"edited claims", p[0] + "." + enc([]byte(strings.Replace(string(mustDecode(t, p[1])), "user-1", "admin1", 1))) + "." + p[2], ReasonSignature},
		{"jku header", ed(with(hdr, "jku", "https://evil.example.com/jwks.json"), goodClaims()), ReasonHeader},
		{"x5u header", ed(with(hdr, "x5u", "https://evil.example.com/cert.pem"), goodClaims()), ReasonHeader},
		{"jwk header", ed(with(hdr, "jwk", jwkHeader), goodClaims()), ReasonHeader},
		{"x5c header", ed(with(hdr, "x5c", []string{"MIIB"}), goodClaims()), ReasonHeader},
		{"crit header", ed(with(with(hdr, "crit", []string{"exp"}), "exp", 1), goodClaims()), ReasonHeader},
		{"typ JWT", mustJoseTyp(t, key.Key, "JWT", goodClaims()), ReasonType},
		{"no typ", rawSigned(t, key.Key, map[string]any{"alg": "EdDSA", "kid": "k1"}, goodClaims()), ReasonType},
		{"typ id_token-like", mustJoseTyp(t, key.Key, "id_token+jwt", goodClaims()), ReasonType},
		{"opaque refresh token", "ghr_" + enc(opaque), ReasonMalformed},
		{"empty", "", ReasonMalformed},
		{"junk base64", "abc.!!!!.def", ReasonMalformed},
		{"padded base64", p[0] + "=." + p[1] + "." + p[2], ReasonMalformed},
		{"header not JSON", enc([]byte("not json")) + "." + p[1] + "." + p[2], ReasonMalformed},
		{"four parts", good + ".x", ReasonMalformed},
		{"oversize", p[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + p[2], ReasonOversize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted %q: %+v", tt.token, c)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not match ErrInvalidToken", err)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *VerifyError", err)
			}
			if ve.Reason != tt.reason {
				t.Errorf("reason = %q, want %q (cause: %v)", ve.Reason, tt.reason, ve.Err)
			}
			if msg := err.Error(); tt.token != "" && (strings.Contains(msg, tt.token) || len(msg) > 80) {
				t.Errorf("error message leaks detail: %q", msg)
			}
		})
	}
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("the untampered token must verify: %v", err)
	}
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJoseTyp(t testing.TB, key ed25519.PrivateKey, typ string, claims map[string]any) string {
	t.Helper()
	return rawSigned(t, key, map[string]any{"alg": "EdDSA", "kid": "k1", "typ": typ}, claims)
}

// rawSigned signs an arbitrary header with Ed25519, for headers go-jose
// would not emit (no typ, unusual typ).
func rawSigned(t testing.TB, key ed25519.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	unsigned := rawToken(t, header, claims, "")
	unsigned = strings.TrimSuffix(unsigned, ".")
	sig := ed25519.Sign(key, []byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyClock(t *testing.T) {
	clk := newClock(t0)
	keys := mustStatic(t, mustKey(t, "k1"))
	tok := mustIssue(t, mustIssuer(t, keys, clk.Now), "user-1")
	v := mustVerifier(t, keys, clk.Now)
	tests := []struct {
		name string
		at   time.Duration
		ok   bool
	}{
		{"at issue", 0, true},
		{"just before expiry", DefaultTTL - time.Second, true},
		{"expired within leeway", DefaultTTL + DefaultLeeway - time.Second, true},
		{"expired beyond leeway", DefaultTTL + DefaultLeeway, false},
		{"issued slightly in the future", -DefaultLeeway + time.Second, true},
		{"issued far in the future", -DefaultLeeway - time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.cfg.Now = func() time.Time { return t0.Add(tt.at) }
			v2, err := NewVerifier(keys, v.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v2.Verify(tok)
			if (err == nil) != tt.ok {
				t.Errorf("Verify at %v: err = %v, want ok=%v", tt.at, err, tt.ok)
			}
		})
	}
}

type failingLookup struct{ err error }

func (f failingLookup) PublicKey(context.Context, string) (ed25519.PublicKey, error) {
	return nil, f.err
}

func TestVerifyLookupErrors(t *testing.T) {
	clk := newClock(t0)
	keys := mustStatic(t, mustKey(t, "k1"))
	tok := mustIssue(t, mustIssuer(t, keys, clk.Now), "user-1")
	tests := []struct {
		name   string
		lookup KeyLookup
		reason string
	}{
		{"lookup fails", failingLookup{errors.New("boom")}, ReasonKeyLookup},
		{"wrapped unknown", failingLookup{ErrUnknownKey}, ReasonUnknownKey},
		{"short key", shortKey{}, ReasonKeyLookup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustVerifier(t, tt.lookup, clk.Now).Verify(tok)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Reason != tt.reason {
				t.Errorf("err = %v, want reason %q", err, tt.reason)
			}
		})
	}
}

type shortKey struct{}

func (shortKey) PublicKey(context.Context, string) (ed25519.PublicKey, error) {
	return ed25519.PublicKey{1, 2, 3}, nil
}

func TestNewVerifierConfig(t *testing.T) {
	keys := mustStatic(t, mustKey(t, "k1"))
	good := VerifierConfig{Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name string
		keys KeyLookup
		mod  func(*VerifierConfig)
		ok   bool
	}{
		{"defaults", keys, func(*VerifierConfig) {}, true},
		{"no keys", nil, func(*VerifierConfig) {}, false},
		{"no issuer", keys, func(c *VerifierConfig) { c.Issuer = "" }, false},
		{"no audience", keys, func(c *VerifierConfig) { c.Audience = "" }, false},
		{"negative leeway", keys, func(c *VerifierConfig) { c.Leeway = -time.Second }, false},
		{"huge leeway", keys, func(c *VerifierConfig) { c.Leeway = time.Hour }, false},
		{"negative lifetime", keys, func(c *VerifierConfig) { c.MaxLifetime = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			_, err := NewVerifier(tt.keys, cfg)
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// TestIssuedAtExact: "iat" has whole seconds; "iat_us" carries the
// microseconds, so a token issued in the same second as a cut-off is
// ordered against it exactly. A token without "iat_us" (another issuer, or
// an older Gatehouse) is taken at its whole second.
func TestIssuedAtExact(t *testing.T) {
	key := mustKey(t, "k1")
	keys := mustStatic(t, key)
	hdr := map[string]any{"kid": "k1"}
	cutoff := t0.Add(400*time.Millisecond + 123*time.Microsecond)
	tests := []struct {
		name  string
		issue time.Time // clock at Issue; zero: a hand-made token without iat_us
		want  time.Time
		valid bool // not before the cut-off
	}{
		{"same second, before the cut-off", t0.Add(400*time.Millisecond + 122*time.Microsecond + 999), t0.Add(400*time.Millisecond + 122*time.Microsecond), false},
		{"same second, at the cut-off", cutoff, cutoff, true},
		{"same second, after the cut-off", t0.Add(900 * time.Millisecond), t0.Add(900 * time.Millisecond), true},
		{"second before", t0.Add(-time.Millisecond), t0.Add(-time.Millisecond), false},
		{"next second", t0.Add(time.Second), t0.Add(time.Second), true},
		{"no iat_us, same second", time.Time{}, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0.Add(time.Second))
			tok := mustJose(t, jose.EdDSA, key.Key, hdr, goodClaims())
			if !tt.issue.IsZero() {
				var err error
				if tok, _, err = mustIssuer(t, keys, func() time.Time { return tt.issue }).Issue("user-1", Extra{}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := mustVerifier(t, keys, clk.Now).Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if !c.IssuedAtExact.Equal(tt.want) || !c.IssuedAt.Equal(tt.want.Truncate(time.Second)) {
				t.Fatalf("IssuedAtExact = %v, IssuedAt = %v; want %v", c.IssuedAtExact, c.IssuedAt, tt.want)
			}
			if valid := !c.IssuedAtExact.Before(cutoff); valid != tt.valid {
				t.Fatalf("valid after the cut-off = %v, want %v", valid, tt.valid)
			}
		})
	}
}

func TestIssuePerTokenAudienceAndProfile(t *testing.T) {
	keys := mustStatic(t, mustKey(t, "k1"))
	iss, err := NewIssuer(keys, IssuerConfig{Issuer: "https://auth.example.com", Audience: []string{"https://api.example.com"}, ClientID: "fa", TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue("42", Extra{Audience: []string{"https://app.example.com"}, Email: "a@example.com", Name: "A", Groups: []string{"admin"}, AMR: []string{"pwd"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(LookupFromSource(keys), VerifierConfig{Issuer: "https://auth.example.com", Audience: "https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil || c.Email != "a@example.com" || c.Name != "A" || len(c.Groups) != 1 || c.Groups[0] != "admin" {
		t.Fatalf("%+v %v", c, err)
	}
	other, _ := NewVerifier(LookupFromSource(keys), VerifierConfig{Issuer: "https://auth.example.com", Audience: "https://api.example.com"})
	if _, err := other.Verify(tok); err == nil {
		t.Fatal("the per-token audience did not replace the issuer's")
	}
	if _, _, err := iss.Issue("42", Extra{Audience: []string{"a b"}}); err == nil {
		t.Fatal("audience with a space accepted")
	}
}
