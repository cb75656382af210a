package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
)

// rsaBits is the size of the RS256 signing keys.
const rsaBits = 2048

// kidSuffix ends the key id of the RS256 key that belongs to a keyring key:
// "<keyring id>-rs256".
const kidSuffix = "-rs256"

// ErrNoSigningKey means no RS256 key could be loaded or made.
var ErrNoSigningKey = errors.New("oidc: no signing key")

// Keys holds the RS256 signing keys, one per active keyring key. The
// private key is made with crypto/rand when a keyring key first signs, and
// stored in the database sealed by the keyring (so the database alone holds
// no usable key); retiring the keyring key retires its RSA key, and a
// rotation makes a new one. It is safe for concurrent use.
type Keys struct {
	src  keyring.Source
	repo *db.OIDC
	aead *keyring.AEAD
	now  func() time.Time

	mu    sync.Mutex
	ring  *keyring.Ring // the ring keys was built for
	keys  map[string]*rsa.PrivateKey
	order []string // kids, oldest first
}

// NewKeys returns the RS256 keys of src, kept in repo.
func NewKeys(src keyring.Source, repo *db.OIDC, now func() time.Time) *Keys {
	return &Keys{src: src, repo: repo, aead: keyring.NewAEAD(src, aeadPurpose), now: now}
}

// aeadPurpose separates the keys that seal RS256 keys from other uses.
const aeadPurpose = "oidc-rs256-key"

// kidOf returns the RS256 key id of a keyring key.
func kidOf(k keyring.Key) string { return k.ID + kidSuffix }

// load makes sure every active keyring key (the current one, and a staged
// one) has an RS256 key and (re)loads
// every key whose keyring key is active. It runs again after a rotation.
func (k *Keys) load(ctx context.Context) error {
	ring := k.src.Ring()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == ring && k.keys != nil {
		return nil
	}
	cur := kidOf(ring.Current())
	stored, err := k.repo.SigningKeys(ctx)
	if err != nil {
		return err
	}
	// Every key of the ring gets its RS256 key, a staged one too: it is
	// published in the JWKS before any instance signs with it, so relying
	// parties that cache the key set see it in time (two-phase rotation).
	for _, rk := range ring.Keys() {
		if !rk.Active() {
			continue // retired: never signs or verifies again
		}
		if stored, err = k.ensureKey(ctx, stored, rk); err != nil {
			return err
		}
	}
	keys := map[string]*rsa.PrivateKey{}
	var order []string
	for _, s := range stored {
		id, ok := strings.CutSuffix(s.KID, kidSuffix)
		if !ok {
			continue
		}
		if _, active := ring.Find(id); !active {
			continue
		}
		der, err := k.aead.Open(s.Sealed, []byte(s.KID))
		if err != nil {
			continue // sealed under a retired key: retired too
		}
		parsed, err := x509.ParsePKCS8PrivateKey(der)
		pk, ok := parsed.(*rsa.PrivateKey)
		if err != nil || !ok {
			continue
		}
		keys[s.KID] = pk
		order = append(order, s.KID)
	}
	if keys[cur] == nil {
		return ErrNoSigningKey
	}
	k.ring, k.keys, k.order = ring, keys, order
	return nil
}

// Signing returns the current RS256 key and its id.
func (k *Keys) Signing(ctx context.Context) (string, *rsa.PrivateKey, error) {
	if err := k.load(ctx); err != nil {
		return "", nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	kid := kidOf(k.ring.Current())
	return kid, k.keys[kid], nil
}

// Public returns the public key with this id, if it is active.
func (k *Keys) Public(ctx context.Context, kid string) (*rsa.PublicKey, bool) {
	if err := k.load(ctx); err != nil {
		return nil, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	pk, ok := k.keys[kid]
	if !ok {
		return nil, false
	}
	return &pk.PublicKey, true
}

// JWK is one public key in a JSON Web Key Set (RFC 7517).
type JWK struct {
	KTY string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	KID string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS returns the public RS256 keys, oldest first, for
// /.well-known/jwks.json.
func (k *Keys) JWKS(ctx context.Context) ([]JWK, error) {
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]JWK, 0, len(k.order))
	for _, kid := range k.order {
		pub := k.keys[kid].PublicKey
		out = append(out, JWK{KTY: "RSA", Use: "sig", Alg: "RS256", KID: kid,
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())})
	}
	return out, nil
}

// ensureKey stores an RS256 key for the keyring key rk unless stored has
// one, and returns the stored keys as they now are. The RSA key is sealed
// under rk itself, not the current key, so that it lives exactly as long as
// rk: retiring the key before it does not lose a staged key's RSA key.
func (k *Keys) ensureKey(ctx context.Context, stored []db.OIDCSigningKey, rk keyring.Key) ([]db.OIDCSigningKey, error) {
	kid := kidOf(rk)
	for _, s := range stored {
		if s.KID == kid {
			return stored, nil
		}
	}
	pk, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("oidc: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, fmt.Errorf("oidc: encode key: %w", err)
	}
	own := rk
	own.Activates = time.Time{} // sealing with it is not signing: allowed while staged
	ring, err := keyring.NewStatic(own)
	if err != nil {
		return nil, fmt.Errorf("oidc: seal key: %w", err)
	}
	sealed, err := keyring.NewAEAD(ring, aeadPurpose).Seal(der, []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("oidc: seal key: %w", err)
	}
	// Another process may have stored one first: then its key is used.
	if _, err := k.repo.InsertSigningKey(ctx, db.OIDCSigningKey{KID: kid, Sealed: sealed, CreatedAt: k.now()}); err != nil {
		return nil, err
	}
	return k.repo.SigningKeys(ctx)
}
