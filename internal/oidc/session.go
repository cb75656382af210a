package oidc

import (
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what the provider keeps with every grant: the ID token claims
// (fosite's [openid.DefaultSession]), the access token's JWT claims and
// header, and who signed in, when and how. It is stored as JSON.
type Session struct {
	*openid.DefaultSession `json:"idtoken"`
	// JWTClaims and JWTHeader make the access token (RFC 9068).
	JWTClaims *jwt.JWTClaims `json:"jwt_claims"`
	JWTHeader *jwt.Headers   `json:"jwt_header"`
	// UserID is the signed-in user; AuthAt the exact sign-in time of the
	// Gatehouse session (compared with the user's sessions cut-off).
	UserID int64     `json:"user_id"`
	AuthAt time.Time `json:"auth_at"`
	// AMR lists how the user signed in (RFC 8176).
	AMR []string `json:"amr"`
}

var (
	_ openid.Session             = (*Session)(nil)
	_ oauth2.JWTSessionContainer = (*Session)(nil)
)

// newSession returns an empty session for the library to fill.
func newSession() *Session {
	return &Session{
		DefaultSession: &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}},
		JWTClaims:      &jwt.JWTClaims{},
		JWTHeader:      &jwt.Headers{},
	}
}

// GetJWTClaims returns the access token claims.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	if s.JWTClaims == nil {
		s.JWTClaims = &jwt.JWTClaims{}
	}
	return s.JWTClaims
}

// GetJWTHeader returns the access token header: typ "at+jwt" (RFC 9068).
func (s *Session) GetJWTHeader() *jwt.Headers {
	if s.JWTHeader == nil {
		s.JWTHeader = &jwt.Headers{}
	}
	s.JWTHeader.Add("typ", "at+jwt")
	return s.JWTHeader
}

// Clone returns a deep copy.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(fosite.Session)
}
