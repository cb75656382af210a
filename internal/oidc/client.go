package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/ory/fosite"
)

// client adapts a stored client to fosite.Client. It deliberately does not
// implement fosite.OpenIDConnectClient: a confidential client may then
// authenticate with client_secret_basic or client_secret_post, a public one
// with none, and request objects are refused.
type client struct{ c db.OIDCClient }

var _ fosite.Client = (*client)(nil)

func (c *client) GetID() string             { return c.c.ID }
func (c *client) GetHashedSecret() []byte   { return c.c.SecretHash }
func (c *client) GetRedirectURIs() []string { return c.c.RedirectURIs }
func (c *client) GetScopes() fosite.Arguments {
	return fosite.Arguments(c.c.Scopes)
}
func (c *client) IsPublic() bool { return c.c.Public }

// GetAudience is the client itself: access tokens name it as audience.
func (c *client) GetAudience() fosite.Arguments { return fosite.Arguments{c.c.ID} }

// GetGrantTypes: the authorization code flow and its refresh tokens only.
func (c *client) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments{"authorization_code", "refresh_token"}
}

// GetResponseTypes: the code flow only.
func (c *client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }

// secretHasher compares client secrets. A client secret is 32 random bytes
// made by Gatehouse, so a single SHA-256 (compared in constant time) is as
// strong as a slow password hash and lets the token endpoint answer fast.
type secretHasher struct{}

var _ fosite.Hasher = secretHasher{}

// Compare reports whether data hashes to hash, in constant time.
func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	h := sha256.Sum256(data)
	if len(hash) != len(h) || subtle.ConstantTimeCompare(hash, h[:]) != 1 {
		return fosite.ErrNotFound
	}
	return nil
}

// Hash returns the SHA-256 of data.
func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return h[:], nil
}
