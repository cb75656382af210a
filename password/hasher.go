package password

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// Params are the argon2id parameters used for new hashes. Zero fields take
// the value from DefaultParams.
type Params struct {
	// Memory is the argon2 m parameter in KiB.
	Memory uint32
	// Time is the argon2 t parameter (passes over memory).
	Time uint32
	// Threads is the argon2 p parameter (lanes).
	Threads uint8
	// SaltLen is the random salt length in bytes, 16 to 64.
	SaltLen uint32
	// KeyLen is the derived key length in bytes, 16 to 64.
	KeyLen uint32
}

// DefaultParams returns m=19456 KiB (19 MiB), t=2, p=1, a 16-byte salt and
// a 32-byte key: the OWASP Password Storage Cheat Sheet's minimum argon2id
// configuration, which costs about as much CPU as its m=46 MiB, t=1 choice
// with less memory per concurrent login.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// WerkzeugDefaultIterations is the PBKDF2 iteration count assumed for a
// Werkzeug hash that omits it (pbkdf2:sha256$salt$hex). Werkzeug itself
// substitutes the DEFAULT_PBKDF2_ITERATIONS of whatever version checks the
// hash (260000 in 2.0 to 2.2, 600000 in 2.3 and 3.0, 1000000 in 3.1);
// generate_password_hash always writes the count, so such hashes are rare.
// Override with WithWerkzeugDefaultIterations.
const WerkzeugDefaultIterations = 260000

// Hasher hashes new passwords with argon2id and verifies stored hashes in
// any supported Format. It is safe for concurrent use. Each call does the
// work on the caller's goroutine; use a Pool to bound concurrency.
type Hasher struct {
	params       Params
	limits       Limits
	werkzeugIter int
}

// Option configures a Hasher.
type Option func(*Hasher)

// WithParams sets the argon2id parameters for new hashes. Zero fields keep
// their defaults.
func WithParams(p Params) Option { return func(h *Hasher) { h.params = p.withDefaults() } }

// WithLimits sets the caps on work that stored hashes may ask for. Zero
// fields keep their defaults.
func WithLimits(l Limits) Option { return func(h *Hasher) { h.limits = l.withDefaults() } }

// WithWerkzeugDefaultIterations sets the iteration count assumed for
// Werkzeug pbkdf2 hashes that omit it; see WerkzeugDefaultIterations.
func WithWerkzeugDefaultIterations(n int) Option { return func(h *Hasher) { h.werkzeugIter = n } }

// NewHasher returns a Hasher. With no options it uses DefaultParams and
// DefaultLimits, and never fails. It fails with ErrInvalidParams when the
// parameters are out of range or exceed the limits (the Hasher could not
// verify its own hashes).
func NewHasher(opts ...Option) (*Hasher, error) {
	h := &Hasher{params: DefaultParams(), limits: DefaultLimits(), werkzeugIter: WerkzeugDefaultIterations}
	for _, o := range opts {
		o(h)
	}
	p, l := h.params, h.limits
	if err := l.validate(); err != nil {
		return nil, err
	}
	switch {
	case p.Time < 1 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads):
		return nil, fmt.Errorf("%w: argon2 needs t >= 1, p >= 1, m >= 8*p", ErrInvalidParams)
	case p.SaltLen < 16 || p.SaltLen > 64:
		return nil, fmt.Errorf("%w: SaltLen %d not in [16, 64]", ErrInvalidParams, p.SaltLen)
	case p.KeyLen < 16 || p.KeyLen > 64:
		return nil, fmt.Errorf("%w: KeyLen %d not in [16, 64]", ErrInvalidParams, p.KeyLen)
	case p.Memory > l.MaxArgon2Memory || p.Time > l.MaxArgon2Time || p.Threads > l.MaxArgon2Threads:
		return nil, fmt.Errorf("%w: params exceed limits", ErrInvalidParams)
	case h.werkzeugIter < 1:
		return nil, fmt.Errorf("%w: Werkzeug default iterations %d < 1", ErrInvalidParams, h.werkzeugIter)
	}
	return h, nil
}

// Params returns the argon2id parameters used for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Limits returns the caps applied to stored hashes.
func (h *Hasher) Limits() Limits { return h.limits }

func checkPasswordLen(pw string) error {
	if len(pw) > MaxPasswordBytes {
		return fmt.Errorf("%w: over %d bytes", ErrPasswordTooLong, MaxPasswordBytes)
	}
	return nil
}

// Hash returns an argon2id PHC string for pw. The password is NFKC
// normalized first (see Verify and docs/passwords.md), never
// truncated or case-folded. It fails for an empty password or one longer
// than MaxPasswordBytes. Hash does not apply a Policy.
func (h *Hasher) Hash(pw string) (string, error) {
	if pw == "" {
		return "", ErrEmptyPassword
	}
	if err := checkPasswordLen(pw); err != nil {
		return "", err
	}
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := argon2.IDKey([]byte(norm.NFKC.String(pw)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodeArgon2id(p, salt, key), nil
}

func encodeArgon2id(p Params, salt, key []byte) string {
	b := make([]byte, 0, 64+len(salt)*2+len(key)*2)
	b = append(b, "$argon2id$v=19$m="...)
	b = strconv.AppendUint(b, uint64(p.Memory), 10)
	b = append(b, ",t="...)
	b = strconv.AppendUint(b, uint64(p.Time), 10)
	b = append(b, ",p="...)
	b = strconv.AppendUint(b, uint64(p.Threads), 10)
	b = append(b, '$')
	b = base64.RawStdEncoding.AppendEncode(b, salt)
	b = append(b, '$')
	b = base64.RawStdEncoding.AppendEncode(b, key)
	return string(b)
}

// Verify checks pw against a stored hash in any supported Format.
//
// On a match it returns err == nil and needsRehash, which is true unless
// the hash is argon2id with exactly the Hasher's current parameters (and
// was made from the normalized password): the caller should then store
// the result of Hash(pw). A wrong password gives ErrMismatch; a hash that
// cannot be parsed gives ErrMalformedHash or ErrUnsupportedHash; a hash
// whose parameters exceed the Limits gives ErrTooExpensive without doing
// the work. The derived key is compared in constant time.
//
// For PHC argon2 strings, Verify tries the NFKC-normalized password first,
// as Hash stores it; if that fails and normalization changed the password,
// it also tries the raw UTF-8 bytes, which other libraries (passlib,
// argon2-cffi) hash. No other format normalizes: Werkzeug, Django and
// passlib hash the raw UTF-8 bytes. bcrypt, like every bcrypt
// implementation, uses only the first 72 bytes.
func (h *Hasher) Verify(pw, encoded string) (needsRehash bool, err error) {
	if err := checkPasswordLen(pw); err != nil {
		return false, err
	}
	p, err := h.parse(encoded)
	if err != nil {
		return false, err
	}
	return h.verifyParsed(pw, p)
}

func (h *Hasher) verifyParsed(pw string, p *parsed) (needsRehash bool, err error) {
	ok, raw, err := p.match(pw)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, ErrMismatch
	}
	return h.needsRehash(p, raw), nil
}

func (h *Hasher) needsRehash(p *parsed, raw bool) bool {
	c := h.params
	return p.format != FormatArgon2id || raw ||
		p.memory != c.Memory || p.time != c.Time || p.threads != c.Threads ||
		uint32(len(p.key)) != c.KeyLen || uint32(len(p.salt)) < c.SaltLen
}

// Identify parses and validates a stored hash against the Hasher's Limits
// without a password and without doing any hashing work. It returns the
// hash's Format, or ErrMalformedHash, ErrUnsupportedHash or
// ErrTooExpensive wrapped with a reason, so an importer can reject a hash
// up front.
func (h *Hasher) Identify(encoded string) (Format, error) {
	p, err := h.parse(encoded)
	if err != nil {
		return "", err
	}
	return p.format, nil
}

var defaultHasher, _ = NewHasher()

// Identify is Hasher.Identify with DefaultLimits.
func Identify(encoded string) (Format, error) { return defaultHasher.Identify(encoded) }

// VerifyDummy does the same work as Verify of pw against an argon2id hash
// with the Hasher's current parameters, and always returns ErrMismatch (or
// ErrPasswordTooLong). Call it when a login names an unknown account, so
// that the response time does not reveal whether the account exists.
func (h *Hasher) VerifyDummy(pw string) error {
	if err := checkPasswordLen(pw); err != nil {
		return err
	}
	_, err := h.verifyParsed(pw, h.dummy())
	if err == nil { // a 2^-256 chance: a random key matched.
		err = ErrMismatch
	}
	return err
}

// dummy returns a parsed argon2id hash with the current parameters, a
// random salt and a random key that no password produces in practice.
func (h *Hasher) dummy() *parsed {
	c := h.params
	p := &parsed{format: FormatArgon2id, kdf: kdfArgon2id, memory: c.Memory, time: c.Time,
		threads: c.Threads, salt: make([]byte, c.SaltLen), key: make([]byte, c.KeyLen), tryNFKC: true}
	rand.Read(p.salt)
	rand.Read(p.key)
	return p
}

// match reports whether pw matches p, and whether it matched only as the
// raw (non-normalized) password.
func (p *parsed) match(pw string) (ok, raw bool, err error) {
	if p.tryNFKC {
		nf := norm.NFKC.String(pw)
		if ok, err = p.check([]byte(nf)); ok || err != nil || nf == pw {
			return ok, false, err
		}
		ok, err = p.check([]byte(pw))
		return ok, ok, err
	}
	in := []byte(pw)
	if p.pre == preSHA256Hex {
		sum := sha256.Sum256(in)
		in = hex.AppendEncode(nil, sum[:])
	}
	ok, err = p.check(in)
	return ok, false, err
}

// check runs the KDF over pw and compares in constant time.
func (p *parsed) check(pw []byte) (bool, error) {
	var key []byte
	switch p.kdf {
	case kdfArgon2id:
		key = argon2.IDKey(pw, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	case kdfArgon2i:
		key = argon2.Key(pw, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	case kdfPBKDF2:
		var err error
		if key, err = pbkdf2.Key(p.newHash, string(pw), p.salt, p.iter, len(p.key)); err != nil {
			return false, fmt.Errorf("%w: pbkdf2: %v", ErrUnsupportedHash, err)
		}
	case kdfScrypt:
		var err error
		if key, err = scrypt.Key(pw, p.salt, p.n, p.r, p.p, len(p.key)); err != nil {
			return false, fmt.Errorf("%w: scrypt: %v", ErrMalformedHash, err)
		}
	case kdfBcrypt:
		// CompareHashAndPassword compares with crypto/subtle.
		err := bcrypt.CompareHashAndPassword(p.bcrypt, pw)
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
		return true, nil
	default:
		return false, ErrUnsupportedHash
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}
