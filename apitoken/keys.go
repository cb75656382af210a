package apitoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
)

// MaxKeyIDLength is the longest key id ("kid") the package accepts.
const MaxKeyIDLength = 128

var (
	// ErrUnknownKey is returned by a [KeyLookup] when no key has the
	// requested id.
	ErrUnknownKey = errors.New("apitoken: unknown key id")
	// ErrBadKey is returned when a key or key id is unusable: a key of the
	// wrong size or an id that is empty, too long or contains characters
	// outside [A-Za-z0-9._-] (or is "." or "..").
	ErrBadKey = errors.New("apitoken: bad key")
)

// SigningKey is an Ed25519 private key with its key id. The id becomes the
// "kid" header of every token it signs.
type SigningKey struct {
	// ID is the key id, published as "kid".
	ID string
	// Key is the Ed25519 private key.
	Key ed25519.PrivateKey
}

// PublicKey is an Ed25519 public key with its key id.
type PublicKey struct {
	// ID is the key id, matched exactly against a token's "kid".
	ID string
	// Key is the Ed25519 public key.
	Key ed25519.PublicKey
}

// Public returns the public half of k.
func (k SigningKey) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.Key.Public().(ed25519.PublicKey)}
}

// KeySource is what an [Issuer] signs with and what [JWKSHandler] publishes.
// Implementations must be safe for concurrent use.
type KeySource interface {
	// SigningKey returns the key that signs new tokens.
	SigningKey() (SigningKey, error)
	// VerificationKeys returns every key whose tokens are still accepted,
	// including the current signing key. Retired keys are left out.
	VerificationKeys() ([]PublicKey, error)
}

// KeyLookup finds the public key for a token's "kid". A [Verifier] uses it.
// Implementations must compare ids exactly, return [ErrUnknownKey] (possibly
// wrapped) when the id is not known, and be safe for concurrent use.
type KeyLookup interface {
	// PublicKey returns the Ed25519 public key whose id is exactly kid.
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// ValidKeyID reports whether id is acceptable as a key id: 1 to
// [MaxKeyIDLength] characters from [A-Za-z0-9._-], and not "." or "..".
func ValidKeyID(id string) bool {
	if id == "" || len(id) > MaxKeyIDLength || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewSigningKey returns the signing key with the given id whose Ed25519 key
// is derived from a 32-byte seed (see [ed25519.NewKeyFromSeed]). The seed is
// secret; derive it from a secret with a KDF, never use the secret directly
// for several purposes.
func NewSigningKey(id string, seed []byte) (SigningKey, error) {
	if !ValidKeyID(id) {
		return SigningKey{}, fmt.Errorf("%w: invalid key id", ErrBadKey)
	}
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("%w: seed must be %d bytes", ErrBadKey, ed25519.SeedSize)
	}
	return SigningKey{ID: id, Key: ed25519.NewKeyFromSeed(seed)}, nil
}

// GenerateSigningKey returns a new random signing key with the given id.
func GenerateSigningKey(id string) (SigningKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return SigningKey{}, err
	}
	return NewSigningKey(id, seed)
}

func checkSigningKey(k SigningKey) error {
	if !ValidKeyID(k.ID) {
		return fmt.Errorf("%w: invalid key id", ErrBadKey)
	}
	if len(k.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key must be %d bytes", ErrBadKey, ed25519.PrivateKeySize)
	}
	return nil
}

func checkPublicKey(k PublicKey) error {
	if !ValidKeyID(k.ID) {
		return fmt.Errorf("%w: invalid key id", ErrBadKey)
	}
	if len(k.Key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key must be %d bytes", ErrBadKey, ed25519.PublicKeySize)
	}
	return nil
}

// StaticKeys is a fixed, in-memory key set: one signing key and, optionally,
// older public keys that are still accepted. It implements [KeySource] and
// [KeyLookup]. It suits tests, examples and services with a single key.
type StaticKeys struct {
	signing SigningKey
	public  []PublicKey
}

// NewStaticKeys returns a key set that signs with signing and accepts tokens
// signed by it or by any of older. Key ids must be valid and distinct.
func NewStaticKeys(signing SigningKey, older ...PublicKey) (*StaticKeys, error) {
	if err := checkSigningKey(signing); err != nil {
		return nil, err
	}
	pub := []PublicKey{signing.Public()}
	for _, k := range older {
		pub = append(pub, PublicKey{ID: k.ID, Key: append(ed25519.PublicKey(nil), k.Key...)})
	}
	if err := checkPublicKeys(pub); err != nil {
		return nil, err
	}
	return &StaticKeys{signing: signing, public: pub}, nil
}

// checkPublicKeys checks every key and that no key id is used twice.
func checkPublicKeys(keys []PublicKey) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := checkPublicKey(k); err != nil {
			return err
		}
		if seen[k.ID] {
			return fmt.Errorf("%w: duplicate key id", ErrBadKey)
		}
		seen[k.ID] = true
	}
	return nil
}

// SigningKey returns the signing key. It implements [KeySource].
func (s *StaticKeys) SigningKey() (SigningKey, error) { return s.signing, nil }

// VerificationKeys returns a copy of the public keys. It implements [KeySource].
func (s *StaticKeys) VerificationKeys() ([]PublicKey, error) {
	return append([]PublicKey(nil), s.public...), nil
}

// PublicKey returns the public key with id kid. It implements [KeyLookup].
func (s *StaticKeys) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	return findKey(s.public, kid)
}

func findKey(keys []PublicKey, kid string) (ed25519.PublicKey, error) {
	for _, k := range keys {
		if k.ID == kid {
			if len(k.Key) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%w: public key must be %d bytes", ErrBadKey, ed25519.PublicKeySize)
			}
			return k.Key, nil
		}
	}
	return nil, ErrUnknownKey
}

// LookupFromSource adapts a [KeySource] into a [KeyLookup]: each lookup
// calls VerificationKeys and matches the id exactly. This is how the server
// that issues tokens verifies them itself.
func LookupFromSource(src KeySource) KeyLookup { return sourceLookup{src} }

type sourceLookup struct{ src KeySource }

func (l sourceLookup) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	keys, err := l.src.VerificationKeys()
	if err != nil {
		return nil, err
	}
	return findKey(keys, kid)
}
