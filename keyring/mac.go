package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// SignatureSize is the size of a signature made by [MAC.Sign]: a version
// byte, the 4-byte key id and a 32-byte HMAC-SHA256 tag.
const SignatureSize = headerSize + sha256.Size

// MAC signs and verifies messages with HMAC-SHA256 under a per-purpose
// subkey. It signs with the current key and verifies with any active key.
// It is safe for concurrent use.
type MAC struct {
	keys derivedKeys[*macKey]
}

// macKey keeps HMAC states keyed with one subkey for reuse: keying an HMAC
// hashes two blocks and allocates, and a signature is made on every page.
type macKey struct{ pool sync.Pool }

func newMACKey(key []byte) *macKey {
	return &macKey{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// NewMAC returns a MAC whose keys are derived from the keys of src for
// purpose (for example "csrf"). Signatures for one purpose do not verify
// for another.
func NewMAC(src Source, purpose string) *MAC {
	m := &MAC{}
	m.keys = derivedKeys[*macKey]{src: src, build: func(k Key) *macKey {
		return newMACKey(k.derive("mac", purpose))
	}}
	return m
}

// Sign returns the signature of msg: version byte 1, the current key's id
// (4 bytes), then HMAC-SHA256 over those 5 bytes and msg. It is
// [SignatureSize] bytes long.
func (m *MAC) Sign(msg []byte) []byte {
	s := m.keys.get()
	sig := make([]byte, headerSize, SignatureSize)
	copy(sig, s.current[:])
	return tag(sig, s.currVal, msg)
}

// Verify checks sig against msg in constant time. It returns
// [ErrUnknownKey] when the signing key is retired or unknown, and
// [ErrInvalidSignature] when sig is malformed or does not match.
func (m *MAC) Verify(msg, sig []byte) error {
	if len(sig) != SignatureSize || sig[0] != formatVersion {
		return ErrInvalidSignature
	}
	key, ok := m.keys.get().find(sig)
	if !ok {
		return ErrUnknownKey
	}
	want := make([]byte, headerSize, SignatureSize)
	copy(want, sig[:headerSize])
	want = tag(want, key, msg)
	if !hmac.Equal(want, sig) {
		return ErrInvalidSignature
	}
	return nil
}

// tag appends to header (the first headerSize bytes of a signature) the
// HMAC of header and msg under key.
func tag(header []byte, key *macKey, msg []byte) []byte {
	h := key.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(header)
	h.Write(msg)
	out := h.Sum(header)
	key.pool.Put(h)
	return out
}
