package apitoken

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

var (
	// ErrNoToken means the request carries no bearer token.
	ErrNoToken = errors.New("apitoken: no bearer token")
	// ErrTokenInQuery means the request carries an access_token query
	// parameter. Tokens in URLs leak into logs and Referer headers, so
	// such requests are refused and the parameter is never read.
	ErrTokenInQuery = errors.New("apitoken: access token in query string")
	// ErrBadAuthorization means the Authorization header is malformed or
	// repeated.
	ErrBadAuthorization = errors.New("apitoken: malformed Authorization header")
)

// BearerToken returns the token of the request's "Authorization: Bearer"
// header. It never reads the query string, a cookie or the body; a request
// with an access_token query parameter is refused with [ErrTokenInQuery].
// A missing header, or one with another scheme, gives [ErrNoToken].
func BearerToken(r *http.Request) (string, error) {
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", ErrTokenInQuery
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoToken
	case 1:
	default:
		return "", ErrBadAuthorization
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrBadAuthorization
	}
	return token, nil
}

type ctxKey struct{}

// ContextWithClaims returns a copy of ctx that carries c. [Middleware] does
// this for verified tokens; it is exported for tests of handlers.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// ClaimsFromContext returns the claims stored by [Middleware], if any.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok && c != nil
}

// MiddlewareOption configures [Middleware].
type MiddlewareOption func(*middleware)

type middleware struct {
	v        *Verifier
	checks   []func(context.Context, *Claims) error
	onReject func(*http.Request, error)
	realm    string
}

// WithCheck adds a check run on the claims of every verified token; an error
// refuses the request like an invalid token. Use it, for example, to refuse
// tokens issued before a user's sessions were revoked.
func WithCheck(check func(ctx context.Context, c *Claims) error) MiddlewareOption {
	return func(m *middleware) { m.checks = append(m.checks, check) }
}

// WithOnReject sets a function called with the detailed error whenever a
// request is refused, for logging or metrics. The error never contains the
// token; never send it to the client.
func WithOnReject(f func(r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.onReject = f }
}

// WithRealm sets the realm of the WWW-Authenticate challenge. It must not
// contain quotes or backslashes; such a realm is ignored.
func WithRealm(realm string) MiddlewareOption {
	return func(m *middleware) {
		if !strings.ContainsAny(realm, "\"\\\r\n") {
			m.realm = realm
		}
	}
}

// Middleware returns middleware that requires a valid access token in the
// "Authorization: Bearer" header and puts its claims in the request context
// (see [ClaimsFromContext]). Refusals get an RFC 9457
// application/problem+json body without internal detail and a
// WWW-Authenticate challenge (RFC 6750): 401 without error attribute when no
// token was sent, 401 error="invalid_token" when it is invalid or refused by
// a check, and 400 error="invalid_request" for a token in the query string
// or a malformed Authorization header.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if v == nil {
		panic("apitoken: Middleware needs a Verifier")
	}
	m := &middleware{v: v}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := m.check(r)
			if err != nil {
				if m.onReject != nil {
					m.onReject(r, err)
				}
				m.fail(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), claims)))
		})
	}
}

func (m *middleware) check(r *http.Request) (*Claims, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	claims, err := m.v.VerifyContext(r.Context(), token)
	if err != nil {
		return nil, err
	}
	for _, check := range m.checks {
		if err := check(r.Context(), claims); err != nil {
			return nil, refuse(ReasonCheck, err)
		}
	}
	return claims, nil
}

func (m *middleware) fail(w http.ResponseWriter, err error) {
	challenge := "Bearer"
	if m.realm != "" {
		challenge += " realm=" + strconv.Quote(m.realm)
		if !errors.Is(err, ErrNoToken) {
			challenge += ","
		}
	}
	status := http.StatusUnauthorized
	detail := "The access token is missing, invalid or expired."
	switch {
	case errors.Is(err, ErrNoToken):
		detail = "This resource needs an access token in the Authorization header."
	case errors.Is(err, ErrTokenInQuery), errors.Is(err, ErrBadAuthorization):
		status = http.StatusBadRequest
		challenge += ` error="invalid_request"`
		detail = "Send the access token in the Authorization header, and only there."
	default:
		challenge += ` error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, status, detail)
}
