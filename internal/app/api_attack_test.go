package app

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/onetime"
	"github.com/golang-jwt/jwt/v5"
)

// Every forged, tampered, misplaced or misused token gets the same 401
// with the invalid_token challenge and no detail.
func TestAPIAttacks(t *testing.T) {
	ts := startServer(t)
	apiVerifiedUser(ts, "ada@example.com")
	apiVerifiedUser(ts, "root@example.com") // user 2, the target of edited claims
	pair := apiMustTokens(t, ts, "ada@example.com", goodPassword)
	genuine := pair.AccessToken
	kid, key := apiSigningKey(t, ts)
	pub := key.Public().(ed25519.PublicKey)
	now := time.Now()
	b64 := base64.RawURLEncoding.EncodeToString

	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": ts.URL, "aud": ts.URL, "sub": "1", "client_id": "gatehouse", "jti": b64([]byte(time.Now().String())),
			"iat": now.Unix(), "iat_us": now.Nanosecond() / 1000, // to the microsecond, as Gatehouse issues them:
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()} // a whole-second iat can fall before the account's cut-off
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, signKey any, hdr map[string]any, c jwt.MapClaims) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, c)
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = kid
		for k, v := range hdr {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		s, err := tok.SignedString(signKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// real signs with the server's own key: only the one defect differs.
	real := func(hdr map[string]any, edit func(jwt.MapClaims)) string {
		return sign(jwt.SigningMethodEdDSA, key, hdr, claims(edit))
	}
	raw := func(header, body map[string]any, sig string) string {
		h, _ := json.Marshal(header)
		c, _ := json.Marshal(body)
		return b64(h) + "." + b64(c) + "." + sig
	}

	// The control: a token crafted here with the real key and the right
	// claims is accepted, so each refusal below is about its one defect.
	apiMe(t, ts, real(nil, nil)).want(t, http.StatusOK)

	_, attacker, _ := ed25519.GenerateKey(rand.Reader)
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(attacker.Public().(ed25519.PublicKey)), "kid": kid}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pastIssuer, err := apitoken.NewIssuer(mustStaticKeys(t, kid, key), apitoken.IssuerConfig{
		Issuer: ts.URL, Audience: []string{ts.URL}, ClientID: "gatehouse", Now: func() time.Time { return now.Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := pastIssuer.Issue("1", apitoken.Extra{})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(genuine, ".")
	var payload map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &payload) != nil {
		t.Fatalf("payload of %s: %v", genuine, err)
	}
	payload["sub"], payload["roles"] = "2", []string{"admin", "user"}
	edited, _ := json.Marshal(payload)
	reset, err := onetime.New()
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	tests := []struct {
		name  string
		query string // appended to /api/v1/me
		hdr   []string
	}{
		{"alg none", "", bearer(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims(nil)))},
		{"alg NONE by hand", "", bearer(raw(map[string]any{"alg": "NONE", "typ": "at+jwt", "kid": kid}, claims(nil), ""))},
		{"HS256 with the public key", "", bearer(sign(jwt.SigningMethodHS256, []byte(pub), nil, claims(nil)))},
		{"HS256 with the published x", "", bearer(sign(jwt.SigningMethodHS256, []byte(b64(pub)), nil, claims(nil)))},
		{"ES256 with another key", "", bearer(sign(jwt.SigningMethodES256, ecKey, nil, claims(nil)))},
		{"EdDSA with another key", "", bearer(sign(jwt.SigningMethodEdDSA, attacker, nil, claims(nil)))},
		{"wrong aud", "", bearer(real(nil, func(c jwt.MapClaims) { c["aud"] = "https://api.other.example" }))},
		{"aud list without us", "", bearer(real(nil, func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }))},
		{"no aud", "", bearer(real(nil, func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong iss", "", bearer(real(nil, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))},
		{"iss with a slash", "", bearer(real(nil, func(c jwt.MapClaims) { c["iss"] = ts.URL + "/" }))},
		{"no iss", "", bearer(real(nil, func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"expired (real issuer, past clock)", "", bearer(expired)},
		{"expired by hand", "", bearer(real(nil, func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
		}))},
		{"no exp", "", bearer(real(nil, func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"nbf in the future", "", bearer(real(nil, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }))},
		{"iat in the future", "", bearer(real(nil, func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(time.Hour).Unix(), now.Add(time.Hour+time.Minute).Unix()
		}))},
		{"lifetime too long", "", bearer(real(nil, func(c jwt.MapClaims) { c["exp"] = now.Add(48 * time.Hour).Unix() }))},
		{"unknown user", "", bearer(real(nil, func(c jwt.MapClaims) { c["sub"] = "9999" }))},
		{"sub not an id", "", bearer(real(nil, func(c jwt.MapClaims) { c["sub"] = "ada@example.com" }))},
		{"sub zero", "", bearer(real(nil, func(c jwt.MapClaims) { c["sub"] = "0" }))},
		{"unknown kid", "", bearer(real(map[string]any{"kid": "deadbeef"}, nil))},
		{"path-like kid", "", bearer(real(map[string]any{"kid": "../../../../etc/passwd"}, nil))},
		{"absolute path kid", "", bearer(real(map[string]any{"kid": "/dev/null"}, nil))},
		{"URL kid", "", bearer(real(map[string]any{"kid": "https://evil.example/jwks.json"}, nil))},
		{"SQL kid", "", bearer(real(map[string]any{"kid": "x' OR '1'='1"}, nil))},
		{"no kid", "", bearer(real(map[string]any{"kid": nil}, nil))},
		{"typ JWT", "", bearer(real(map[string]any{"typ": "JWT"}, nil))},
		{"no typ", "", bearer(real(map[string]any{"typ": nil}, nil))},
		{"stripped signature", "", bearer(parts[0] + "." + parts[1] + ".")},
		{"signature removed", "", bearer(parts[0] + "." + parts[1])},
		{"signature of another token", "", bearer(parts[0] + "." + parts[1] + "." + strings.Split(real(nil, nil), ".")[2])},
		{"edited claims", "", bearer(parts[0] + "." + b64(edited) + "." + parts[2])},
		{"jku header, attacker key", "", bearer(sign(jwt.SigningMethodEdDSA, attacker, map[string]any{"jku": "https://evil.example/jwks.json"}, claims(nil)))},
		{"jku header, real key", "", bearer(real(map[string]any{"jku": ts.URL + "/.well-known/jwks.json"}, nil))},
		{"x5u header, attacker key", "", bearer(sign(jwt.SigningMethodEdDSA, attacker, map[string]any{"x5u": "https://evil.example/cert.pem"}, claims(nil)))},
		{"x5u header, real key", "", bearer(real(map[string]any{"x5u": "https://evil.example/cert.pem"}, nil))},
		{"jwk header, attacker key", "", bearer(sign(jwt.SigningMethodEdDSA, attacker, map[string]any{"jwk": attackerJWK}, claims(nil)))},
		{"jwk header, real key", "", bearer(real(map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}}, nil))},
		{"x5c header", "", bearer(real(map[string]any{"x5c": []string{"MIIB"}}, nil))},
		{"crit header", "", bearer(real(map[string]any{"crit": []string{"exp"}}, nil))},
		{"token in the query string", "?access_token=" + url.QueryEscape(genuine), nil},
		{"token in the query and the header", "?access_token=" + url.QueryEscape(genuine), bearer(genuine)},
		{"refresh token as access token", "", bearer(pair.RefreshToken)},
		{"reset token as access token", "", bearer(reset.String())},
		{"no token", "", nil},
		{"basic credentials", "", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ada@example.com:"+goodPassword))}},
		{"empty bearer", "", []string{"Authorization", "Bearer "}},
		{"two Authorization headers", "", []string{"Authorization", "Bearer " + genuine, "Authorization", "Bearer " + genuine}},
		{"token in a cookie", "", []string{"Cookie", "access_token=" + genuine}},
		{"oversized", "", bearer(strings.Repeat("a", 9000))},
		{"garbage", "", bearer("not.a.jwt")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apiWantInvalidToken(t, apiCall(t, ts, http.MethodGet, "/api/v1/me"+tc.query, "", tc.hdr...), api.ProblemInvalidToken)
		})
	}
	// Access tokens are no refresh tokens either.
	apiWantInvalidToken(t, apiJSON(t, ts, "/api/v1/token/refresh", map[string]string{"refresh_token": genuine}), api.ProblemInvalidRefresh)
	// None of this harmed the genuine token.
	apiMe(t, ts, genuine).want(t, http.StatusOK)
}

func mustStaticKeys(t *testing.T, kid string, key ed25519.PrivateKey) *apitoken.StaticKeys {
	t.Helper()
	sk, err := apitoken.NewSigningKey(kid, key.Seed())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apitoken.NewStaticKeys(sk)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
