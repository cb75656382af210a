package apitoken_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
)

// exampleKeys returns a fixed key set; a real server derives the seed from
// its keyring.
func exampleKeys() *apitoken.StaticKeys {
	seed := sha256.Sum256([]byte("example only, never a real seed"))
	key, err := apitoken.NewSigningKey("2030-01", seed[:])
	if err != nil {
		log.Fatal(err)
	}
	keys, err := apitoken.NewStaticKeys(key)
	if err != nil {
		log.Fatal(err)
	}
	return keys
}

// Verifying Gatehouse tokens from another Go service: the service fetches
// Gatehouse's published keys with a RemoteKeySet, checks tokens with a
// Verifier and protects its API with Middleware.
func Example() {
	// Stand-in for a Gatehouse server: it publishes its keys and issues a token.
	keys := exampleKeys()
	gatehouse := httptest.NewServer(apitoken.JWKSHandler(keys))
	defer gatehouse.Close()
	issuer, err := apitoken.NewIssuer(keys, apitoken.IssuerConfig{
		Issuer:   "https://auth.example.com",
		Audience: []string{"https://api.example.com"},
		ClientID: "gatehouse",
	})
	if err != nil {
		log.Fatal(err)
	}
	token, _, err := issuer.Issue("user-42", apitoken.Extra{Roles: []string{"admin"}})
	if err != nil {
		log.Fatal(err)
	}

	// The resource server. In production the URL is
	// "https://auth.example.com/.well-known/jwks.json".
	ctx := context.Background()
	remote, err := apitoken.NewRemoteKeySet(ctx, gatehouse.URL+"/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := apitoken.NewVerifier(remote, apitoken.VerifierConfig{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /api/orders", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := apitoken.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "orders of %s (admin: %v)", claims.Subject, claims.HasRole("admin"))
	})
	protected := apitoken.Middleware(verifier)(api)

	for _, auth := range []string{"Bearer " + token, "Bearer not-a-token", ""} {
		req := httptest.NewRequest("GET", "/api/orders", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		protected.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), strings.HasPrefix(string(body), "orders"))
		if rec.Code == 200 {
			fmt.Println(string(body))
		}
	}
	// Output:
	// 200  true
	// orders of user-42 (admin: true)
	// 401 Bearer error="invalid_token" false
	// 401 Bearer false
}

func ExampleIssuer_Issue() {
	now := func() time.Time { return time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) }
	issuer, err := apitoken.NewIssuer(exampleKeys(), apitoken.IssuerConfig{
		Issuer:   "https://auth.example.com",
		Audience: []string{"https://api.example.com"},
		TTL:      15 * time.Minute,
		ClientID: "gatehouse",
		Now:      now,
	})
	if err != nil {
		log.Fatal(err)
	}
	token, claims, err := issuer.Issue("user-42", apitoken.Extra{Roles: []string{"user"}, AMR: []string{"pwd", "otp"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(token, "."), claims.Subject, claims.ExpiresAt.Format(time.RFC3339), len(claims.ID))
	// Output: 2 user-42 2030-01-01T12:15:00Z 22
}

func ExampleVerifier_Verify() {
	keys := exampleKeys()
	issuer, _ := apitoken.NewIssuer(keys, apitoken.IssuerConfig{
		Issuer: "https://auth.example.com", Audience: []string{"https://api.example.com"}, ClientID: "gatehouse",
	})
	token, _, _ := issuer.Issue("user-42", apitoken.Extra{})

	// The issuing server verifies with its own key source.
	verifier, err := apitoken.NewVerifier(apitoken.LookupFromSource(keys), apitoken.VerifierConfig{
		Issuer: "https://auth.example.com", Audience: "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := verifier.Verify(token)
	fmt.Println(claims.Subject, err)

	_, err = verifier.Verify(token + "x")
	var ve *apitoken.VerifyError
	if errors.As(err, &ve) {
		fmt.Println("for the client:", apitoken.ErrInvalidToken)
		fmt.Println("for the log:", ve.Reason)
	}
	// Output:
	// user-42 <nil>
	// for the client: apitoken: invalid token
	// for the log: malformed token
}

func ExampleJWKS() {
	seed := make([]byte, ed25519.SeedSize)
	key, _ := apitoken.NewSigningKey("k1", seed)
	doc, err := apitoken.JWKS([]apitoken.PublicKey{key.Public()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(doc))
	// Output: {"keys":[{"kty":"OKP","crv":"Ed25519","x":"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik","kid":"k1","use":"sig","alg":"EdDSA"}]}
}

func ExampleMiddleware() {
	keys := exampleKeys()
	verifier, _ := apitoken.NewVerifier(keys, apitoken.VerifierConfig{
		Issuer: "https://auth.example.com", Audience: "https://api.example.com",
	})
	// Refuse tokens issued before the user's sessions were revoked.
	revokedBefore := map[string]time.Time{"user-42": time.Now().Add(time.Minute)}
	mw := apitoken.Middleware(verifier,
		apitoken.WithRealm("api"),
		apitoken.WithCheck(func(ctx context.Context, c *apitoken.Claims) error {
			if c.IssuedAt.Before(revokedBefore[c.Subject]) {
				return errors.New("token issued before the cut-off")
			}
			return nil
		}),
		apitoken.WithOnReject(func(r *http.Request, err error) {
			log.Printf("%s %s: %v", r.Method, r.URL.Path, err) // never the token itself
		}),
	)
	handler := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := apitoken.ClaimsFromContext(r.Context())
		fmt.Fprintln(w, "hello", claims.Subject)
	}))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/me?access_token=abc", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Println(rec.Header().Get("Content-Type"))
	// Output:
	// 400 Bearer realm="api", error="invalid_request"
	// application/problem+json
}
