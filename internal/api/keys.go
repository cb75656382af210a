package api

import (
	"context"
	"crypto/ed25519"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/keyring"
)

// JWTKeyPurpose is the keyring purpose of the JWT signing keys: each key of
// the keys file yields an independent Ed25519 key for it.
const JWTKeyPurpose = "jwt"

// ringKeys adapts the keys file to apitoken: the current key signs, every
// key not retired verifies (and is published in the JWKS). A rotation
// (`gatehouse keys rotate`) therefore starts signing with a new key at the
// next reload while tokens signed by the old one stay valid until it is
// retired. It implements apitoken.KeySource and apitoken.KeyLookup.
type ringKeys struct {
	src   keyring.Source
	cache atomic.Pointer[derivedKeys]
}

// derivedKeys are the Ed25519 keys of one ring snapshot. Rings are
// immutable, so they are derived once per snapshot, not per request.
type derivedKeys struct {
	ring    *keyring.Ring
	signing apitoken.SigningKey
	public  []apitoken.PublicKey
	byID    map[string]ed25519.PublicKey
}

func newRingKeys(src keyring.Source) *ringKeys { return &ringKeys{src: src} }

var (
	_ apitoken.KeySource = (*ringKeys)(nil)
	_ apitoken.KeyLookup = (*ringKeys)(nil)
)

func (k *ringKeys) load() (*derivedKeys, error) {
	r := k.src.Ring()
	if c := k.cache.Load(); c != nil && c.ring == r {
		return c, nil
	}
	cur := r.Current()
	signing, err := apitoken.NewSigningKey(cur.ID, cur.Ed25519(JWTKeyPurpose).Seed())
	if err != nil {
		return nil, err
	}
	c := &derivedKeys{ring: r, signing: signing, byID: map[string]ed25519.PublicKey{}}
	c.public = append(c.public, signing.Public())
	c.byID[cur.ID] = signing.Key.Public().(ed25519.PublicKey)
	for _, key := range r.Keys() {
		if !key.Active() || key.ID == cur.ID {
			continue
		}
		sk, err := apitoken.NewSigningKey(key.ID, key.Ed25519(JWTKeyPurpose).Seed())
		if err != nil {
			return nil, err
		}
		c.public = append(c.public, sk.Public())
		c.byID[key.ID] = sk.Public().Key
	}
	k.cache.Store(c)
	return c, nil
}

// SigningKey returns the key of the current ring key.
func (k *ringKeys) SigningKey() (apitoken.SigningKey, error) {
	c, err := k.load()
	if err != nil {
		return apitoken.SigningKey{}, err
	}
	return c.signing, nil
}

// VerificationKeys returns the public keys of every active ring key, the
// current one first.
func (k *ringKeys) VerificationKeys() ([]apitoken.PublicKey, error) {
	c, err := k.load()
	if err != nil {
		return nil, err
	}
	return append([]apitoken.PublicKey(nil), c.public...), nil
}

// PublicKey returns the public key of the active ring key whose id is
// exactly kid.
func (k *ringKeys) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	c, err := k.load()
	if err != nil {
		return nil, err
	}
	if pk, ok := c.byID[kid]; ok {
		return pk, nil
	}
	return nil, apitoken.ErrUnknownKey
}
