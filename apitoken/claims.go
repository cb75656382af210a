package apitoken

import (
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the verified contents of an access token (RFC 9068 section 2.2).
// Times are in whole seconds, except IssuedAtExact; an optional time that is
// absent is the zero time.
type Claims struct {
	// Issuer ("iss") is the base URL of the server that issued the token.
	Issuer string
	// Subject ("sub") identifies the user.
	Subject string
	// Audience ("aud") lists the resource servers the token is meant for.
	Audience []string
	// ExpiresAt ("exp") is when the token stops being valid.
	ExpiresAt time.Time
	// IssuedAt ("iat") is when the token was issued, in whole seconds
	// (rounded down).
	IssuedAt time.Time
	// IssuedAtExact is when the token was issued to the microsecond: "iat"
	// plus the private claim "iat_us" (the microseconds past "iat", 0 to
	// 999999), which this package's Issuer always writes. For a token
	// without "iat_us" it equals IssuedAt. Compare it, not IssuedAt, with an
	// instant such as a user's cut-off: a token issued in the same second
	// but before the cut-off is then older, one issued after it newer, and
	// nobody has to wait for the next second.
	IssuedAtExact time.Time
	// NotBefore ("nbf") is when the token starts being valid, or zero.
	NotBefore time.Time
	// ID ("jti") is a unique, random token id.
	ID string
	// ClientID ("client_id") is the OAuth client the token was issued to.
	ClientID string
	// AuthTime ("auth_time") is when the user last authenticated, or zero.
	AuthTime time.Time
	// Roles ("roles") are the user's roles (RFC 9068 section 2.2.3.1).
	Roles []string
	// Scope ("scope", space separated in the token) lists granted scopes.
	Scope []string
	// AMR ("amr") lists the authentication methods used, such as "pwd" and
	// "otp" (RFC 8176).
	AMR []string
	// Email ("email") and Name ("name") describe the user, when present.
	Email, Name string
	// Groups ("groups") are the user's groups (RFC 9068 section 2.2.3.1).
	Groups []string
}

// HasRole reports whether the claims list role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// HasScope reports whether the claims grant scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scope, scope) }

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	jwt.RegisteredClaims
	ClientID string           `json:"client_id,omitempty"`
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	Roles    []string         `json:"roles,omitempty"`
	Scope    string           `json:"scope,omitempty"`
	AMR      []string         `json:"amr,omitempty"`
	// IssuedMicros ("iat_us") is the microseconds past "iat" at which the
	// token was issued; nil when absent.
	IssuedMicros *int64   `json:"iat_us,omitempty"`
	Email        string   `json:"email,omitempty"`
	Name         string   `json:"name,omitempty"`
	Groups       []string `json:"groups,omitempty"`
}

func dateOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

func (w *wireClaims) claims() *Claims {
	c := &Claims{
		Issuer:    w.Issuer,
		Subject:   w.Subject,
		Audience:  slices.Clone([]string(w.Audience)),
		ExpiresAt: dateOf(w.ExpiresAt),
		IssuedAt:  dateOf(w.IssuedAt),
		NotBefore: dateOf(w.NotBefore),
		ID:        w.ID,
		ClientID:  w.ClientID,
		AuthTime:  dateOf(w.AuthTime),
		Roles:     w.Roles,
		AMR:       w.AMR,
		Email:     w.Email,
		Name:      w.Name,
		Groups:    w.Groups,
	}
	if w.Scope != "" {
		c.Scope = strings.Fields(w.Scope)
	}
	c.IssuedAtExact = c.IssuedAt
	if w.IssuedMicros != nil {
		c.IssuedAtExact = c.IssuedAt.Add(time.Duration(*w.IssuedMicros) * time.Microsecond)
	}
	return c
}
