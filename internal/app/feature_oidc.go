package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/oidc"
)

// OpenID Connect provider (internal/oidc): built here, its routes listed in
// routes.go through routesOIDC, its RS256 keys added to the JWKS, and a
// Gatehouse sign-out made to reach every client.

// newOIDC builds the provider of an instance.
func newOIDC(ctx context.Context, d *deps) (*oidc.Provider, error) {
	return oidc.New(ctx, oidc.Config{
		Issuer: strings.TrimRight(d.cfg.BaseURL.String(), "/"), DB: d.db, Keys: d.keys, Users: d.accounts,
		Browser: oidc.KitBrowser(d.kit), AccessTokenTTL: d.cfg.AccessTokenTTL, RefreshTokenTTL: d.cfg.RefreshTokenTTL,
		Now: func() time.Time { return d.now() }, Log: d.log.With("component", "oidc"),
	})
}

// routesOIDC registers the provider's routes (oidc.Provider.Routes):
// machine endpoints on root (no session, no CSRF), pages on the browser
// mux.
func (s *Server) routesOIDC(pages, root *http.ServeMux) {
	for _, rt := range s.d.oidc.Routes() {
		var h http.Handler = rt.Handler
		pattern := rt.Method + " " + rt.Path
		switch rt.Access {
		case oidc.Machine:
			root.Handle(pattern, s.headers.Handler(h))
		case oidc.Page:
			pages.Handle(pattern, h)
		case oidc.SignedIn:
			pages.Handle(pattern, s.k.RequireLogin(h))
		case oidc.Admin:
			pages.Handle(pattern, s.k.RequireRole(account.RoleAdmin, h))
		}
	}
}

// signOutEverywhere wraps the sign-out handler: a Gatehouse sign-out
// revokes the tokens of every client first (fail closed: 503 if it cannot).
func (s *Server) signOutEverywhere(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := kit.UserFrom(r.Context()); ok {
			if err := s.d.oidc.SignedOut(r.Context(), u.ID); err != nil {
				s.k.Unavailable(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
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
