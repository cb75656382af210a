package app

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/account"
)

// JSON API: access tokens, refresh tokens, JWKS.
//
// Access tokens are short-lived JWTs (RFC 9068) signed with an Ed25519 key
// derived from the current key of the keys file, so `gatehouse keys rotate`
// rotates them too. Refresh tokens are opaque, stored as hashes and replaced
// at every use (internal/account/refresh.go). Every route is listed in
// apiRoutes; docs/openapi.yaml describes the same list, and a test keeps the
// two in step.

// apiClientID is the OAuth client_id of every token Gatehouse issues.
const apiClientID = "gatehouse"

// apiRoute is one route of the JSON API.
type apiRoute struct {
	method, path string
	handle       func(s *Server, w http.ResponseWriter, r *http.Request)
}

// apiRoutes is every JSON API route, as registered by routesAPI. OPTIONS
// (CORS preflight) is answered for each path without being listed.
var apiRoutes = []apiRoute{
	{http.MethodPost, "/api/v1/token", (*Server).apiToken},
	{http.MethodPost, "/api/v1/token/refresh", (*Server).apiRefresh},
	{http.MethodPost, "/api/v1/token/revoke", (*Server).apiRevoke},
	{http.MethodGet, "/api/v1/me", (*Server).apiMe},
	{http.MethodGet, "/.well-known/jwks.json", (*Server).apiJWKS},
}

// apiFeature holds the token issuer and verifier.
type apiFeature struct {
	d        *deps
	keys     *ringKeys
	issuer   *apitoken.Issuer
	verifier *apitoken.Verifier
	verified verifiedTokens
	refresh  *account.RefreshService
	jwks     http.Handler
	// origins is the CORS allow-list (exact origins).
	origins map[string]bool
	// lastPurge is when expired refresh tokens were last deleted (unix
	// seconds).
	lastPurge atomic.Int64
}

func newAPIFeature(d *deps) (*apiFeature, error) {
	cfg := d.cfg
	a := &apiFeature{d: d, keys: newRingKeys(d.keys), origins: map[string]bool{}}
	iss := cfg.BaseURL.String()
	var err error
	a.issuer, err = apitoken.NewIssuer(a.keys, apitoken.IssuerConfig{
		Issuer: iss, Audience: []string{cfg.APIAudience}, TTL: cfg.AccessTokenTTL, ClientID: apiClientID, Now: d.now,
	})
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	a.verifier, err = apitoken.NewVerifier(a.keys, apitoken.VerifierConfig{
		Issuer: iss, Audience: cfg.APIAudience, MaxLifetime: max(cfg.AccessTokenTTL, time.Second), Now: d.now,
	})
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	a.refresh = account.NewRefreshService(account.RefreshConfig{
		Store: d.db.RefreshTokens(), Users: d.db.Users(), Record: d.accounts.Record, TTL: cfg.RefreshTokenTTL, Now: d.now,
	})
	a.jwks = apitoken.JWKSHandler(a.keys)
	for _, o := range cfg.CORSOrigins {
		a.origins[normalizeOrigin(o)] = true
	}
	return a, nil
}

// routesAPI adds the JSON API routes to the root mux (no session, no CSRF:
// bearer tokens only).
func (s *Server) routesAPI(root *http.ServeMux) {
	mux := http.NewServeMux()
	methods := map[string][]string{} // path -> its methods
	for _, rt := range apiRoutes {
		handle := rt.handle
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { handle(s, w, r) })
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	api := s.headers.Handler(s.d.api.cors(methods, s.apiFallback(mux, methods)))
	root.Handle("/api/", api)
	for path := range methods {
		if !strings.HasPrefix(path, "/api/") {
			root.Handle(path, api)
		}
	}
}

// apiFallback answers requests no route matches with problem+json: 404 for
// an unknown path, 405 with Allow for a known path and another method.
func (s *Server) apiFallback(mux *http.ServeMux, methods map[string][]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := mux.Handler(r); pattern != "" {
			h.ServeHTTP(w, r) // routed once (API handlers use no path values)
			return
		}
		ms, ok := methods[r.URL.Path]
		if !ok {
			writeProblem(w, problemNotFound, "")
			return
		}
		w.Header().Set("Allow", allowHeader(ms))
		writeProblem(w, problemMethod, "")
	})
}

// allowHeader lists methods for an Allow header: HEAD goes with GET, and
// OPTIONS is always answered.
func allowHeader(methods []string) string {
	var out []string
	for _, m := range methods {
		out = append(out, m)
		if m == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	return strings.Join(append(out, http.MethodOptions), ", ")
}

// apiJWKS publishes the public keys that verify access tokens: the current
// key and every older key not yet retired.
func (s *Server) apiJWKS(w http.ResponseWriter, r *http.Request) {
	if s.oidc != nil {
		s.oidcJWKS(w, r) // with the OpenID Connect provider's RS256 keys
		return
	}
	s.d.api.jwks.ServeHTTP(w, r)
}
