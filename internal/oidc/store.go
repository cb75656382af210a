package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// Kinds of stored grants (the oidc_tokens.kind column).
const (
	kindCode    = "code"
	kindPKCE    = "pkce"
	kindOIDC    = "oidc"
	kindAccess  = "access"
	kindRefresh = "refresh"
)

// errCodeRace means two redemptions of one code raced; the loser is told
// invalid_grant.
var errCodeRace = errors.New("oidc: authorization code redeemed concurrently")

// store implements fosite's storage interfaces over internal/db. Every
// token is found by the SHA-256 of the library's signature.
type store struct {
	repo *db.OIDC
	now  func() time.Time
}

var (
	_ fosite.Storage                     = (*store)(nil)
	_ oauth2.CoreStorage                 = (*store)(nil)
	_ oauth2.TokenRevocationStorage      = (*store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*store)(nil)
	_ pkce.PKCERequestStorage            = (*store)(nil)
	_ storage.Transactional              = (*store)(nil)
)

// storedRequest is the JSON form of a fosite request.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope"`
	GrantedScope      []string        `json:"granted_scope"`
	RequestedAudience []string        `json:"requested_audience"`
	GrantedAudience   []string        `json:"granted_audience"`
	Form              url.Values      `json:"form"`
	Session           json.RawMessage `json:"session"`
}

// GetClient returns an enabled client; a disabled or unknown one is
// fosite.ErrNotFound.
func (s *store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id == "" || len(id) > maxClientIDLen {
		return nil, fosite.ErrNotFound
	}
	c, err := s.repo.Client(ctx, id)
	if errors.Is(err, db.ErrOIDCNotFound) || err == nil && c.Disabled() {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &client{c}, nil
}

// ClientAssertionJWTValid is part of fosite.ClientManager; client
// assertions (private_key_jwt) are not offered, so no JTI is ever known.
func (s *store) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT is part of fosite.ClientManager; see
// ClientAssertionJWTValid.
func (s *store) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

func hashSig(sig string) []byte {
	h := sha256.Sum256([]byte(sig))
	return h[:]
}

// create stores req under kind and signature, expiring at exp.
func (s *store) create(ctx context.Context, kind, sig string, req fosite.Requester, exp time.Time) error {
	sess, _ := req.GetSession().(*Session)
	var uid int64
	if sess != nil {
		uid = sess.UserID
	}
	raw, err := json.Marshal(req.GetSession())
	if err != nil {
		return fmt.Errorf("oidc: encode session: %w", err)
	}
	data, err := json.Marshal(storedRequest{
		ID: req.GetID(), RequestedAt: req.GetRequestedAt(), ClientID: req.GetClient().GetID(),
		RequestedScope: req.GetRequestedScopes(), GrantedScope: req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(), GrantedAudience: req.GetGrantedAudience(),
		Form: req.GetRequestForm(), Session: raw,
	})
	if err != nil {
		return fmt.Errorf("oidc: encode request: %w", err)
	}
	if exp.IsZero() {
		exp = s.now().Add(24 * time.Hour)
	}
	return s.repo.InsertToken(ctx, db.OIDCToken{
		Kind: kind, Signature: hashSig(sig), RequestID: req.GetID(), ClientID: req.GetClient().GetID(), UserID: uid,
		Active: true, RequestedAt: s.now(), ExpiresAt: exp, Data: string(data),
	})
}

// get loads the request stored under kind and signature into session. It
// returns the request together with fosite.ErrInactiveToken when the grant
// is no longer active, and fosite.ErrNotFound when there is none or its
// client is gone or disabled.
func (s *store) get(ctx context.Context, kind, sig string, session fosite.Session) (fosite.Requester, bool, error) {
	t, err := s.repo.Token(ctx, kind, hashSig(sig))
	if errors.Is(err, db.ErrOIDCNotFound) {
		return nil, false, fosite.ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	var sr storedRequest
	if err := json.Unmarshal([]byte(t.Data), &sr); err != nil {
		return nil, false, fmt.Errorf("oidc: decode request: %w", err)
	}
	if session == nil {
		session = newSession()
	}
	if err := json.Unmarshal(sr.Session, session); err != nil {
		return nil, false, fmt.Errorf("oidc: decode session: %w", err)
	}
	c, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, false, err
	}
	req := &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: c,
		RequestedScope: sr.RequestedScope, GrantedScope: sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: session,
	}
	if req.Form == nil {
		req.Form = url.Values{}
	}
	return req, t.Active, nil
}

func expiry(req fosite.Requester, tt fosite.TokenType) time.Time {
	if req.GetSession() == nil {
		return time.Time{}
	}
	return req.GetSession().GetExpiresAt(tt)
}

// CreateAuthorizeCodeSession stores an authorization code.
func (s *store) CreateAuthorizeCodeSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, kindCode, sig, req, expiry(req, fosite.AuthorizeCode))
}

// GetAuthorizeCodeSession returns a code's request;
// fosite.ErrInvalidatedAuthorizeCode (with the request) once it was used.
func (s *store) GetAuthorizeCodeSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindCode, sig, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession spends a code; of two concurrent
// redemptions only one succeeds.
func (s *store) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	ok, err := s.repo.DeactivateToken(ctx, kindCode, hashSig(sig))
	if err != nil {
		return err
	}
	if !ok {
		return errCodeRace
	}
	return nil
}

// CreateAccessTokenSession stores an access token's signature.
func (s *store) CreateAccessTokenSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, kindAccess, sig, req, expiry(req, fosite.AccessToken))
}

// GetAccessTokenSession returns an active access token's request.
func (s *store) GetAccessTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindAccess, sig, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

// DeleteAccessTokenSession deactivates an access token.
func (s *store) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	_, err := s.repo.DeactivateToken(ctx, kindAccess, hashSig(sig))
	return err
}

// CreateRefreshTokenSession stores a refresh token of the request's family.
func (s *store) CreateRefreshTokenSession(ctx context.Context, sig, _ string, req fosite.Requester) error {
	return s.create(ctx, kindRefresh, sig, req, expiry(req, fosite.RefreshToken))
}

// GetRefreshTokenSession returns a refresh token's request, with
// fosite.ErrInactiveToken once it was used or revoked: the library then
// revokes the whole family (reuse detection).
func (s *store) GetRefreshTokenSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindRefresh, sig, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession deactivates a refresh token (the row stays, so
// that presenting it again is detected as reuse).
func (s *store) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	_, err := s.repo.DeactivateToken(ctx, kindRefresh, hashSig(sig))
	return err
}

// RotateRefreshToken spends the refresh token being used and the family's
// access tokens; of two concurrent uses only one succeeds.
func (s *store) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	ok, err := s.repo.DeactivateToken(ctx, kindRefresh, hashSig(sig))
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrSerializationFailure
	}
	_, err = s.repo.DeactivateRequest(ctx, kindAccess, requestID)
	return err
}

// RevokeRefreshToken deactivates every refresh token of the family.
func (s *store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	_, err := s.repo.DeactivateRequest(ctx, kindRefresh, requestID)
	return err
}

// RevokeRefreshTokenMaybeGracePeriod is RevokeRefreshToken: no grace
// period.
func (s *store) RevokeRefreshTokenMaybeGracePeriod(ctx context.Context, requestID, _ string) error {
	return s.RevokeRefreshToken(ctx, requestID)
}

// RevokeAccessToken deactivates every access token of the family.
func (s *store) RevokeAccessToken(ctx context.Context, requestID string) error {
	_, err := s.repo.DeactivateRequest(ctx, kindAccess, requestID)
	return err
}

// CreateOpenIDConnectSession stores the OpenID Connect part of a code.
func (s *store) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.create(ctx, kindOIDC, code, req, expiry(req, fosite.AuthorizeCode))
}

// GetOpenIDConnectSession returns the OpenID Connect part of a code.
func (s *store) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	r, active, err := s.get(ctx, kindOIDC, code, req.GetSession())
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return r, nil
}

// DeleteOpenIDConnectSession removes the OpenID Connect part of a code.
func (s *store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.repo.DeleteToken(ctx, kindOIDC, hashSig(code))
}

// CreatePKCERequestSession stores a code's PKCE challenge.
func (s *store) CreatePKCERequestSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, kindPKCE, sig, req, expiry(req, fosite.AuthorizeCode))
}

// GetPKCERequestSession returns a code's PKCE challenge.
func (s *store) GetPKCERequestSession(ctx context.Context, sig string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.get(ctx, kindPKCE, sig, session)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

// DeletePKCERequestSession removes a code's PKCE challenge.
func (s *store) DeletePKCERequestSession(ctx context.Context, sig string) error {
	return s.repo.DeleteToken(ctx, kindPKCE, hashSig(sig))
}

// BeginTX starts a transaction that the following calls with the returned
// context join.
func (s *store) BeginTX(ctx context.Context) (context.Context, error) { return s.repo.BeginTx(ctx) }

// Commit commits the transaction of ctx.
func (s *store) Commit(ctx context.Context) error { return s.repo.Commit(ctx) }

// Rollback aborts the transaction of ctx.
func (s *store) Rollback(ctx context.Context) error { return s.repo.Rollback(ctx) }
