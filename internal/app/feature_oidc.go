package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/oidc"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
)

// OpenID Connect provider: internal/oidc serves the protocol and its pages;
// this file builds it, gives it the server's pages and sessions, registers
// its routes and adds its RS256 keys to the JWKS.

// oidcBrowser is the provider's view of the server's page machinery.
type oidcBrowser struct{ s *Server }

func (b oidcBrowser) SignedIn(r *http.Request) (oidc.SignIn, bool) {
	u, ok := userFrom(r.Context())
	sess := session.FromContext(r.Context())
	if !ok || sess == nil {
		return oidc.SignIn{}, false
	}
	return oidc.SignIn{User: u, AuthAt: sess.AuthAt(), AMR: strings.Fields(sess.Get("amr"))}, true
}

func (b oidcBrowser) Page(r *http.Request, title string) *web.Page { return b.s.page(r, title) }
func (b oidcBrowser) Show(w http.ResponseWriter, r *http.Request, status int, name string, p *web.Page) {
	b.s.show(w, r, status, name, p)
}
func (b oidcBrowser) ErrorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b.s.errorPage(w, r, status, msg)
}
func (b oidcBrowser) Unavailable(w http.ResponseWriter, r *http.Request, err error) {
	b.s.unavailable(w, r, err)
}
func (b oidcBrowser) EndSession(w http.ResponseWriter, r *http.Request) {
	if sess := session.FromContext(r.Context()); sess != nil {
		sess.Destroy()
	}
}

// newOIDC builds the provider of the server.
func newOIDC(ctx context.Context, s *Server) (*oidc.Provider, error) {
	return oidc.New(ctx, oidc.Config{
		Issuer: strings.TrimRight(s.cfg.BaseURL.String(), "/"), DB: s.d.db, Keys: s.d.keys, Users: s.d.accounts,
		Browser: oidcBrowser{s}, AccessTokenTTL: s.cfg.AccessTokenTTL, RefreshTokenTTL: s.cfg.RefreshTokenTTL,
		Now: s.d.now, Log: s.log.With("component", "oidc"),
	})
}

// routesOIDC registers the provider's routes: machine endpoints on root
// (no session, no CSRF), pages on the browser mux.
func (s *Server) routesOIDC(pages, root *http.ServeMux) {
	for _, rt := range s.oidc.Routes() {
		var h http.Handler = rt.Handler
		pattern := rt.Method + " " + rt.Path
		switch rt.Access {
		case oidc.Machine:
			root.Handle(pattern, s.headers.Handler(h))
		case oidc.Page:
			pages.Handle(pattern, h)
		case oidc.SignedIn:
			pages.Handle(pattern, s.requireLogin(h))
		case oidc.Admin:
			pages.Handle(pattern, s.requireRole(account.RoleAdmin, h))
		}
	}
}

// oidcJWKS serves the API's Ed25519 keys and the provider's RS256 keys in
// one JSON Web Key Set.
func (s *Server) oidcJWKS(w http.ResponseWriter, r *http.Request) {
	keys, err := s.d.api.keys.VerificationKeys()
	var body []byte
	if err == nil {
		body, err = apitoken.JWKS(keys)
	}
	var set struct {
		Keys []any `json:"keys"`
	}
	if err == nil {
		err = json.Unmarshal(body, &set)
	}
	var rsa []oidc.JWK
	if err == nil {
		rsa, err = s.oidc.Keys().JWKS(r.Context())
	}
	if err != nil {
		writeProblem(w, problemUnavailable, "The key set is not available.")
		return
	}
	for _, k := range rsa {
		set.Keys = append(set.Keys, k)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(set)
}

// clientCommand runs `gatehouse client ...`.
func clientCommand(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" {
		return &UsageError{Msg: oidc.ClientUsage}
	}
	d, err := openForCLI(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	err = oidc.ClientCommand(ctx, oidc.NewClients(d.db.OIDC(), d.now), args, stdout, stderr)
	if errors.Is(err, oidc.ErrUsage) {
		return &UsageError{Msg: strings.TrimPrefix(err.Error(), oidc.ErrUsage.Error()+": ")}
	}
	if errors.Is(err, oidc.ErrInvalidClient) || errors.Is(err, oidc.ErrClientNotFound) || errors.Is(err, oidc.ErrPublicClient) {
		return fmt.Errorf("client: %w", err)
	}
	return err
}
