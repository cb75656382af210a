// Package api is the JSON API feature: access and refresh tokens
// (/api/v1/token...), the signed-in user (/api/v1/me) and the public keys
// (/.well-known/jwks.json), with RFC 9457 problem answers and CORS. It
// imports the kit, internal/account, internal/db and ring 1; never another
// feature or internal/app.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/keyring"
)

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
	handle       func(a *Feature, w http.ResponseWriter, r *http.Request)
}

// apiRoutes is every JSON API route, as served by Handler. OPTIONS
// (CORS preflight) is answered for each path without being listed.
var apiRoutes = []apiRoute{
	{http.MethodPost, "/api/v1/token", (*Feature).apiToken},
	{http.MethodPost, "/api/v1/token/refresh", (*Feature).apiRefresh},
	{http.MethodPost, "/api/v1/token/revoke", (*Feature).apiRevoke},
	{http.MethodGet, "/api/v1/me", (*Feature).apiMe},
	{http.MethodGet, "/.well-known/jwks.json", (*Feature).apiJWKS},
}

// Config is what New needs; the second-factor functions are required.
type Config struct {
	// Kit is the server's page kit (request state, client address, the
	// sign-in defences).
	Kit *kit.Kit
	// DB holds the refresh tokens and users.
	DB *db.DB
	// Keys is the keys file: the current key signs access tokens.
	Keys keyring.Source
	// Issuer is the tokens' "iss" (the base URL); Audience their "aud".
	Issuer, Audience string
	// AccessTTL and RefreshTTL are the lifetimes of the tokens.
	AccessTTL, RefreshTTL time.Duration
	// CORSOrigins are the origins allowed to call the API from a browser.
	CORSOrigins []string
	// Now is the clock.
	Now func() time.Time
	// Log is the feature's logger.
	Log *slog.Logger
	// NeedsSecondFactor reports whether the account uses a second factor.
	NeedsSecondFactor func(ctx context.Context, u account.User) (bool, error)
	// CheckSecondFactor checks totp_code (see kit.SecondFactorCheck).
	CheckSecondFactor kit.SecondFactorCheck
}

// Feature holds the token issuer and verifier.
type Feature struct {
	k        *kit.Kit
	c        Config
	keysrc   keyring.Source
	now      func() time.Time
	log      *slog.Logger
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

// SigningKeys are the keys the tokens are signed with, those of the JWKS
// endpoint: forward-auth signs Remote-Token with them too.
func (f *Feature) SigningKeys() apitoken.KeySource { return f.keys }

// New builds the feature.
func New(cfg Config) (*Feature, error) {
	a := &Feature{k: cfg.Kit, c: cfg, keysrc: cfg.Keys, now: cfg.Now, log: cfg.Log,
		keys: newRingKeys(cfg.Keys), origins: map[string]bool{}}
	iss := cfg.Issuer
	var err error
	a.issuer, err = apitoken.NewIssuer(a.keys, apitoken.IssuerConfig{
		Issuer: iss, Audience: []string{cfg.Audience}, TTL: cfg.AccessTTL, ClientID: apiClientID, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	a.verifier, err = apitoken.NewVerifier(a.keys, apitoken.VerifierConfig{
		Issuer: iss, Audience: cfg.Audience, MaxLifetime: max(cfg.AccessTTL, time.Second), Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	a.refresh = account.NewRefreshService(account.RefreshConfig{
		Store: cfg.DB.RefreshTokens(), Users: cfg.DB.Users(), Record: cfg.Kit.Accounts().Record, TTL: cfg.RefreshTTL, Now: cfg.Now,
	})
	a.jwks = apitoken.JWKSHandler(a.keys)
	for _, o := range cfg.CORSOrigins {
		a.origins[normalizeOrigin(o)] = true
	}
	return a, nil
}

// Route is one route of the JSON API.
type Route struct{ Method, Path string }

// Routes lists every route of the JSON API. OPTIONS (CORS preflight) is
// answered for each path without being listed.
func Routes() []Route {
	out := make([]Route, len(apiRoutes))
	for i, rt := range apiRoutes {
		out[i] = Route{rt.method, rt.path}
	}
	return out
}

// Handler serves every route of the JSON API (no session, no CSRF: bearer
// tokens only), with problem+json answers for unknown paths (404) and
// methods (405) and CORS for the allowed origins. Route it on "/api/" and
// on each path of Paths outside /api/.
func (a *Feature) Handler() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{} // path -> its methods
	for _, rt := range apiRoutes {
		handle := rt.handle
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { handle(a, w, r) })
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	return a.cors(methods, a.apiFallback(mux, methods))
}

// Paths lists the paths of the JSON API outside /api/ (the JWKS).
func Paths() []string {
	var out []string
	for _, rt := range apiRoutes {
		if !strings.HasPrefix(rt.path, "/api/") && !slices.Contains(out, rt.path) {
			out = append(out, rt.path)
		}
	}
	return out
}

// apiFallback answers requests no route matches with problem+json: 404 for
// an unknown path, 405 with Allow for a known path and another method.
func (a *Feature) apiFallback(mux *http.ServeMux, methods map[string][]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := mux.Handler(r); pattern != "" {
			h.ServeHTTP(w, r) // routed once (API handlers use no path values)
			return
		}
		ms, ok := methods[r.URL.Path]
		if !ok {
			writeProblem(w, ProblemNotFound, "")
			return
		}
		w.Header().Set("Allow", allowHeader(ms))
		writeProblem(w, ProblemMethod, "")
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
func (a *Feature) apiJWKS(w http.ResponseWriter, r *http.Request) { a.jwks.ServeHTTP(w, r) }
