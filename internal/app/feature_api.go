package app

import "net/http"

// JSON API: access tokens, refresh tokens, JWKS.

// apiFeature holds the token issuer and verifier.
type apiFeature struct{ d *deps }

func newAPIFeature(d *deps) (*apiFeature, error) { return &apiFeature{d: d}, nil }

// routesAPI adds the JSON API routes to the root mux (no session, no CSRF:
// bearer tokens only).
func (s *Server) routesAPI(root *http.ServeMux) {}
