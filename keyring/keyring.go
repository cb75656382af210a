// Package keyring manages the secret keys of a server: random 32-byte keys
// with short ids, kept in a 0600 keys file, rotated and retired without a
// restart, and turned into independent per-purpose subkeys.
//
// A [Ring] is an immutable snapshot of the keys. Its [Ring.Current] key signs
// and encrypts; every non-retired key verifies and decrypts, so a rotation
// never breaks cookies or tokens issued a moment before, and retiring a key
// refuses them cleanly. Rotation is two-phase: a new key is first staged
// (it verifies and decrypts, but nothing is signed or sealed with it) and
// starts signing at its activation time, by which every instance sharing the
// keys file has re-read it. Consumers accept a [Source], which both a [File]
// (reloaded live from disk) and a fixed [Ring] (for tests and examples)
// implement.
//
// [AEAD] seals data with XChaCha20-Poly1305 and [MAC] signs messages with
// HMAC-SHA256; both carry the key id in their output, so either can be
// opened or verified with whichever non-retired key produced it.
//
// Keys are never used directly: [Key.Derive] and [Key.Ed25519] derive
// subkeys with HKDF-SHA256 from a purpose string, so the CSRF key, the cookie
// encryption key and the JWT signing key are independent even though they
// come from the same secret.
package keyring

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// SecretSize is the size in bytes of every key's secret.
const SecretSize = 32

// idSize is the size in bytes of a key id; its text form is twice as long.
const idSize = 4

// Errors returned by this package. Wrapped errors carry details; compare
// with [errors.Is].
var (
	// ErrUnknownKey means the key id is not in the ring or the key is
	// retired.
	ErrUnknownKey = errors.New("keyring: unknown key")
	// ErrDecrypt means a sealed message is malformed or was tampered with.
	ErrDecrypt = errors.New("keyring: decryption failed")
	// ErrInvalidSignature means a MAC signature is malformed or does not
	// match the message.
	ErrInvalidSignature = errors.New("keyring: invalid signature")
	// ErrTooLarge means a message exceeds [MaxMessageSize].
	ErrTooLarge = errors.New("keyring: message too large")
	// ErrNoActiveKey means a ring would have no key left to sign with.
	ErrNoActiveKey = errors.New("keyring: no active key")
	// ErrLastKey means a retirement would leave no active key.
	ErrLastKey = errors.New("keyring: cannot retire the last active key; rotate first")
	// ErrAlreadyRetired means the key to retire is already retired.
	ErrAlreadyRetired = errors.New("keyring: key already retired")
	// ErrNotStaged means the key to activate already signs (it is not
	// staged).
	ErrNotStaged = errors.New("keyring: key is not staged")
	// ErrInvalidKey means a key is malformed: bad id, missing secret or
	// duplicate id.
	ErrInvalidKey = errors.New("keyring: invalid key")
	// ErrCorrupt means a keys file cannot be parsed.
	ErrCorrupt = errors.New("keyring: corrupt keys file")
	// ErrInsecureMode means a keys file can be read or written by users
	// other than its owner.
	ErrInsecureMode = errors.New("keyring: keys file is accessible to group or others")
)

// Key is one secret key. The secret itself is unexported and never printed:
// use [Key.Derive], [Key.Ed25519], [AEAD] or [MAC].
type Key struct {
	// ID is the key's short public identifier: 8 lowercase hex characters.
	// It travels with every sealed message, signature and JWT ("kid").
	ID string
	// Created is when the key was generated.
	Created time.Time
	// Retired is when the key was retired; zero while the key is active.
	// A retired key no longer verifies or decrypts anything.
	Retired time.Time
	// Activates is when a staged key starts signing and encrypting (it may
	// become current from then on); zero for a key that could from its
	// creation. Before that the key only verifies and decrypts, so that
	// every instance knows it before anything made with it reaches them.
	Activates time.Time

	secret [SecretSize]byte
}

// Generate returns a fresh active key with a random secret and id, created
// now.
func Generate() Key {
	return generate(time.Now(), nil)
}

// generate returns a fresh key whose id is not in taken.
func generate(now time.Time, taken map[string]bool) Key {
	k := Key{Created: now.UTC()}
	rand.Read(k.secret[:]) // never fails since Go 1.24
	for {
		var id [idSize]byte
		rand.Read(id[:])
		k.ID = hex.EncodeToString(id[:])
		if !taken[k.ID] {
			return k
		}
	}
}

// Active reports whether the key is not retired, and so may verify and
// decrypt. A staged key is active.
func (k Key) Active() bool { return k.Retired.IsZero() }

// Staged reports whether, at now, the key is active but may not sign or
// encrypt yet: its activation time is after now.
func (k Key) Staged(now time.Time) bool { return k.Active() && now.Before(k.Activates) }

// String describes the key without its secret.
func (k Key) String() string {
	s := "key " + k.ID + " created " + k.Created.UTC().Format(time.RFC3339)
	if !k.Activates.IsZero() {
		s += " activates " + k.Activates.UTC().Format(time.RFC3339)
	}
	if !k.Active() {
		s += " retired " + k.Retired.UTC().Format(time.RFC3339)
	}
	return s
}

// GoString describes the key without its secret, for %#v.
func (k Key) GoString() string { return "keyring.Key{" + k.String() + "}" }

// Derive returns a 32-byte subkey for purpose, derived from the key's secret
// with HKDF-SHA256. Different purposes give independent subkeys; the same
// key and purpose always give the same subkey. Derive panics on a Key that
// has no secret (a zero Key), which is a programming error.
func (k Key) Derive(purpose string) []byte {
	return k.derive("derive", purpose)
}

// Ed25519 returns an Ed25519 signing key for purpose, derived from the key's
// secret (independently of [Key.Derive] for the same purpose). Use the key's
// ID as the key id of whatever it signs, for example a JWT "kid".
func (k Key) Ed25519(purpose string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(k.derive("ed25519", purpose))
}

// derive separates the package's own uses (label) from each other and from
// callers' purposes.
func (k Key) derive(label, purpose string) []byte {
	if !k.hasSecret() {
		panic("keyring: derive from a Key without a secret")
	}
	info := "gatehouse keyring v1 " + label + "\x00" + purpose
	out, err := hkdf.Key(sha256.New, k.secret[:], nil, info, SecretSize)
	if err != nil {
		panic("keyring: hkdf: " + err.Error()) // impossible for 32 bytes
	}
	return out
}

func (k Key) hasSecret() bool {
	var zero [SecretSize]byte
	return subtle.ConstantTimeCompare(k.secret[:], zero[:]) == 0
}

// validID reports whether id is 8 lowercase hex characters.
func validID(id string) bool {
	if len(id) != 2*idSize {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Source gives the current snapshot of a set of keys. Consumers (CSRF
// protection, cookie encryption, token signing) accept a Source and call
// Ring for every operation, so they follow rotations. [*File] and [*Ring]
// implement it.
type Source interface {
	Ring() *Ring
}

// Ring is an immutable set of keys. It is safe for concurrent use. A Ring is
// also a [Source] that always returns itself.
type Ring struct {
	keys    []Key // in the order given or stored
	current int   // index in keys
	// next is the earliest activation time after the ring's instant of a
	// staged key; zero if none is staged. From then on Current is stale
	// and a File builds a new snapshot.
	next time.Time
}

// NewStatic returns a fixed ring of keys, for tests, examples and programs
// that manage keys themselves. At least one key must be active; ids must be
// valid and unique. The newest active key that is not staged now (by
// Created, then by position) is current; see [Ring.Current].
func NewStatic(keys ...Key) (*Ring, error) {
	return newRing(keys, time.Now())
}

// Ephemeral returns a ring of one freshly generated key that lives only in
// memory: everything it signs or seals becomes unreadable when the process
// exits. For tests and examples.
func Ephemeral() *Ring {
	r, err := newRing([]Key{Generate()}, time.Now())
	if err != nil {
		panic(err) // impossible: a generated key is valid
	}
	return r
}

// newRing validates keys and picks the current key as of now: the newest
// active key not staged at now; if every active key is staged, the one
// that activates first.
func newRing(keys []Key, now time.Time) (*Ring, error) {
	r := &Ring{keys: append([]Key(nil), keys...), current: -1}
	seen := make(map[string]bool, len(keys))
	for i, k := range r.keys {
		switch {
		case !validID(k.ID):
			return nil, fmt.Errorf("%w: id %q is not 8 lowercase hex characters", ErrInvalidKey, k.ID)
		case seen[k.ID]:
			return nil, fmt.Errorf("%w: duplicate id %s", ErrInvalidKey, k.ID)
		case !k.hasSecret():
			return nil, fmt.Errorf("%w: key %s has no secret", ErrInvalidKey, k.ID)
		}
		seen[k.ID] = true
		if k.Staged(now) {
			if r.next.IsZero() || k.Activates.Before(r.next) {
				r.next = k.Activates
			}
			continue
		}
		if k.Active() && (r.current < 0 || !k.Created.Before(r.keys[r.current].Created)) {
			r.current = i
		}
	}
	if r.current < 0 {
		// Only staged keys are left (the signing key was retired): the
		// first to activate signs rather than nothing.
		for i, k := range r.keys {
			if k.Active() && (r.current < 0 || k.Activates.Before(r.keys[r.current].Activates)) {
				r.current = i
			}
		}
	}
	if r.current < 0 {
		return nil, ErrNoActiveKey
	}
	return r, nil
}

// at returns the ring as of now: the same keys, the current key chosen
// again. r itself when nothing changes.
func (r *Ring) at(now time.Time) *Ring {
	if r.next.IsZero() || now.Before(r.next) {
		return r
	}
	nr, err := newRing(r.keys, now)
	if err != nil {
		return r // impossible: the same keys made r
	}
	return nr
}

// Ring returns r itself, so that a fixed ring is a [Source].
func (r *Ring) Ring() *Ring { return r }

// Current returns the key that signs and encrypts: the newest active key
// that is not staged, as of when the ring was made (a [File] makes a new
// ring when a staged key's activation time comes).
func (r *Ring) Current() Key { return r.keys[r.current] }

// Find returns the active key with the given id. Retired and unknown keys
// are not found.
func (r *Ring) Find(id string) (Key, bool) {
	for _, k := range r.keys {
		if k.ID == id && k.Active() {
			return k, true
		}
	}
	return Key{}, false
}

// Keys returns all keys, retired ones included, in file order (oldest
// first for a keys file).
func (r *Ring) Keys() []Key { return append([]Key(nil), r.keys...) }

// rotated returns a new ring with a fresh key created at now appended,
// staged until now+stage (not staged if stage <= 0).
func (r *Ring) rotated(now time.Time, stage time.Duration) (*Ring, Key, error) {
	taken := make(map[string]bool, len(r.keys))
	for _, k := range r.keys {
		taken[k.ID] = true
	}
	k := generate(now, taken)
	if stage > 0 {
		k.Activates = now.Add(stage).UTC()
	}
	nr, err := newRing(append(r.Keys(), k), now)
	return nr, k, err
}

// activated returns a new ring in which the staged key id activates at now.
func (r *Ring) activated(id string, now time.Time) (*Ring, Key, error) {
	keys := r.Keys()
	for i, k := range keys {
		if k.ID != id {
			continue
		}
		switch {
		case !k.Active():
			return nil, Key{}, fmt.Errorf("%w: %s", ErrAlreadyRetired, id)
		case !k.Staged(now):
			return nil, Key{}, fmt.Errorf("%w: %s", ErrNotStaged, id)
		}
		keys[i].Activates = now.UTC()
		nr, err := newRing(keys, now)
		return nr, keys[i], err
	}
	return nil, Key{}, fmt.Errorf("%w: %q", ErrUnknownKey, id)
}

// retired returns a new ring in which key id is retired at now.
func (r *Ring) retired(id string, now time.Time) (*Ring, error) {
	keys := r.Keys()
	found, active := -1, 0
	for i, k := range keys {
		if k.ID == id {
			found = i
		}
		if k.Active() {
			active++
		}
	}
	switch {
	case found < 0:
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, id)
	case !keys[found].Active():
		return nil, fmt.Errorf("%w: %s", ErrAlreadyRetired, id)
	case active == 1:
		return nil, ErrLastKey
	}
	keys[found].Retired = now.UTC()
	nr, err := newRing(keys, now)
	if err != nil {
		return nil, err
	}
	// Retiring the signing key while the new one is staged (after a leak)
	// activates the staged key now, and the file says so.
	if c := nr.Current(); c.Staged(now) {
		nr, _, err = nr.activated(c.ID, now)
		return nr, err
	}
	return nr, nil
}
