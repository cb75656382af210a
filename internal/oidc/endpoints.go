package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/ory/fosite"
)

// writeJSON answers v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError answers an OAuth error body (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// machineRequest bounds and checks the form of a token, revocation or
// UserInfo request: at most maxBodyBytes, one value per parameter.
func machineRequest(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength > maxBodyBytes {
		oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
			return false
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be read.")
		return false
	}
	for k, vs := range r.Form {
		if len(vs) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The parameter "+trunc(k)+" is repeated.")
			return false
		}
		if len(vs) == 1 && len(vs[0]) > maxBodyBytes/2 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "A parameter is too long.")
			return false
		}
	}
	return true
}

// Token is the token endpoint: authorization codes and refresh tokens.
// A token whose user was disabled, signed out or changed their password
// since the sign-in is refused, and its family revoked.
func (p *Provider) Token(w http.ResponseWriter, r *http.Request) {
	if !machineRequest(w, r) {
		return
	}
	ctx := r.Context()
	// The PKCE policy of the client the library will authenticate: from
	// HTTP Basic credentials if any, else the form's client_id.
	cid, _, basic := r.BasicAuth()
	if basic {
		cid, _ = url.QueryUnescape(cid)
	} else {
		cid = r.PostForm.Get("client_id")
	}
	if cid != "" && len(cid) <= maxClientIDLen {
		if c, err := p.repo.Client(ctx, cid); err == nil {
			ctx = withPKCEPolicy(ctx, c)
		}
	}
	ar, err := p.f.NewAccessRequest(ctx, r, newSession())
	if err != nil {
		p.tokenError(w, r, ar, err)
		return
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.UserID == 0 {
		p.tokenError(w, r, ar, fosite.ErrInvalidGrant)
		return
	}
	u, err := p.sessionUser(ctx, sess)
	if err != nil && !errors.Is(err, ErrSignInEnded) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again.")
		return
	}
	if err != nil {
		_ = p.store.RevokeRefreshToken(context.WithoutCancel(ctx), ar.GetID())
		_ = p.store.RevokeAccessToken(context.WithoutCancel(ctx), ar.GetID())
		p.tokenError(w, r, ar, fosite.ErrInvalidGrant.WithHint("The sign-in has ended: sign in again."))
		return
	}
	// Claims are as of now, not of the first sign-in.
	sess.Claims.Extra = userClaims(u, ar.GetGrantedScopes(), p.issuer)
	resp, err := p.f.NewAccessResponse(ctx, ar)
	if err != nil {
		p.tokenError(w, r, ar, err)
		return
	}
	p.f.WriteAccessResponse(ctx, w, ar, resp)
	p.maybePurge(ctx)
}

func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	if errors.Is(err, errCodeRace) {
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField == fosite.ErrServerError.ErrorField {
		if !errors.Is(err, context.Canceled) {
			p.log.Error("oidc token endpoint", "err", err)
		}
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again.")
		return
	}
	p.f.WriteAccessError(r.Context(), w, ar, err)
}

// Revoke is the revocation endpoint (RFC 7009): a refresh token revokes its
// whole family, an access token its family's access tokens.
func (p *Provider) Revoke(w http.ResponseWriter, r *http.Request) {
	if !machineRequest(w, r) {
		return
	}
	err := p.f.NewRevocationRequest(r.Context(), r)
	if err != nil && fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrServerError.ErrorField {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again.")
		return
	}
	p.f.WriteRevocationResponse(r.Context(), w, err)
}

// bearer extracts the access token of a UserInfo request.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if r.Method == http.MethodPost {
		return r.PostForm.Get("access_token")
	}
	return ""
}

func unauthorized(w http.ResponseWriter, code, desc string) {
	v := `Bearer realm="gatehouse"`
	if code != "" {
		v += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	oauthError(w, http.StatusUnauthorized, code, desc)
}

// UserInfo answers the claims of the access token's user that its scopes
// release. A user disabled, signed out or with a new password since the
// sign-in gets 401.
func (p *Provider) UserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !machineRequest(w, r) {
		return
	}
	tok := bearer(r)
	if tok == "" {
		unauthorized(w, "", "An access token is required.")
		return
	}
	if len(tok) > maxTokenLen {
		unauthorized(w, "invalid_token", "The access token is not valid.")
		return
	}
	ctx := r.Context()
	_, ar, err := p.f.IntrospectToken(ctx, tok, fosite.AccessToken, newSession())
	if err != nil {
		if fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrServerError.ErrorField {
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again.")
			return
		}
		unauthorized(w, "invalid_token", "The access token is not valid.")
		return
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.UserID == 0 {
		unauthorized(w, "invalid_token", "The access token is not valid.")
		return
	}
	if !slices.Contains(ar.GetGrantedScopes(), ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope", scope="openid"`)
		oauthError(w, http.StatusForbidden, "insufficient_scope", "The openid scope is required.")
		return
	}
	u, err := p.sessionUser(ctx, sess)
	if err != nil && !errors.Is(err, ErrSignInEnded) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again.")
		return
	}
	if err != nil {
		unauthorized(w, "invalid_token", "The sign-in has ended.")
		return
	}
	claims := userClaims(u, ar.GetGrantedScopes(), p.issuer)
	claims["sub"] = Subject(u)
	writeJSON(w, http.StatusOK, claims)
}

// ErrSignInEnded means the sign-in behind a grant no longer counts: the
// account is gone or disabled, or the user changed their password or
// signed out everywhere since.
var ErrSignInEnded = errors.New("oidc: the sign-in has ended")

// sessionUser returns the user of a grant while its sign-in is still valid;
// ErrSignInEnded otherwise, or the database's error.
func (p *Provider) sessionUser(ctx context.Context, sess *Session) (account.User, error) {
	u, err := p.cfg.Users.UserByID(ctx, sess.UserID)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return account.User{}, ErrSignInEnded
	case err != nil:
		return account.User{}, err
	case !u.SessionValid(sess.AuthAt):
		return account.User{}, ErrSignInEnded
	}
	return u, nil
}

// DiscoveryHandler serves the provider metadata.
func (p *Provider) DiscoveryHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(p.Discovery())
}
