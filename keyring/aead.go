package keyring

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// MaxMessageSize bounds the plaintext [AEAD.Seal] accepts, and so the sealed
// input [AEAD.Open] accepts.
const MaxMessageSize = 1 << 20

// Overhead is how many bytes [AEAD.Seal] adds to a plaintext: a version
// byte, the 4-byte key id, a 24-byte nonce and a 16-byte tag.
const Overhead = headerSize + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// AEAD encrypts and authenticates messages with XChaCha20-Poly1305 under a
// per-purpose subkey of the current key, and decrypts with whichever active
// key sealed them. It is safe for concurrent use.
//
// A sealed message is: version byte 1, the key id (4 bytes), a random
// 24-byte nonce, then the ciphertext and tag. The version byte, key id and
// caller's additional data are all authenticated.
type AEAD struct {
	keys derivedKeys[cipher.AEAD]
}

// NewAEAD returns an AEAD whose keys are derived from the keys of src for
// purpose (for example "session-cookie"). Different purposes cannot open
// each other's messages.
func NewAEAD(src Source, purpose string) *AEAD {
	a := &AEAD{}
	a.keys = derivedKeys[cipher.AEAD]{src: src, build: func(k Key) cipher.AEAD {
		c, err := chacha20poly1305.NewX(k.derive("aead", purpose))
		if err != nil {
			panic("keyring: " + err.Error()) // impossible: the key size is right
		}
		return c
	}}
	return a
}

// Seal encrypts plaintext with the current key and a random nonce, binding
// additionalData (which is not included in the output). It returns
// [ErrTooLarge] for a plaintext over [MaxMessageSize].
func (a *AEAD) Seal(plaintext, additionalData []byte) ([]byte, error) {
	if len(plaintext) > MaxMessageSize {
		return nil, ErrTooLarge
	}
	s := a.keys.get()
	out := make([]byte, headerSize+chacha20poly1305.NonceSizeX, len(plaintext)+Overhead)
	copy(out, s.current[:])
	nonce := out[headerSize:]
	rand.Read(nonce)
	return s.currVal.Seal(out, nonce, plaintext, ad(s.current[:], additionalData)), nil
}

// Open decrypts a message sealed by [AEAD.Seal] with the same purpose and
// additionalData, under any active key. It returns [ErrUnknownKey] when the
// key that sealed it is retired or unknown, and [ErrDecrypt] when the
// message is malformed or was tampered with.
func (a *AEAD) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) > MaxMessageSize+Overhead {
		return nil, ErrTooLarge
	}
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: too short", ErrDecrypt)
	}
	if sealed[0] != formatVersion {
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrDecrypt, sealed[0])
	}
	c, ok := a.keys.get().find(sealed)
	if !ok {
		return nil, ErrUnknownKey
	}
	header := sealed[:headerSize]
	nonce := sealed[headerSize : headerSize+chacha20poly1305.NonceSizeX]
	out, err := c.Open(nil, nonce, sealed[headerSize+len(nonce):], ad(header, additionalData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// ad returns the additional data actually authenticated: the header, then
// the caller's.
func ad(header, additionalData []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(additionalData)), header...), additionalData...)
}
