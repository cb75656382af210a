// Package totp implements time-based one-time passwords (RFC 6238, built on
// the HOTP algorithm of RFC 4226) with the settings every authenticator app
// understands: HMAC-SHA-1, 6 digits, 30-second steps. It also builds and
// parses otpauth:// key URIs, renders them as QR codes, and makes, hashes
// and matches single-use recovery codes.
//
// Verification accepts one step of clock skew either way and protects
// against replay: the caller stores the step that [Verify] returns and
// passes it back next time, so that a code is never accepted twice and an
// older code cannot be used after a newer one.
//
// The package has no clock of its own: every function that depends on time
// takes it as an argument.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Settings of the codes this package makes and accepts: the defaults of
// RFC 6238 and of every authenticator app.
const (
	// Digits is the number of decimal digits in a code.
	Digits = 6
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one Verify
	// accepts, to allow for clock drift and typing time.
	Skew = 1
)

// Bounds on secrets.
const (
	// SecretSize is the size in bytes of a secret made by NewSecret: 160
	// bits, the size RFC 4226 recommends.
	SecretSize = 20
	// MinSecretSize is the smallest secret accepted: 128 bits, the minimum
	// of RFC 4226 section 4 (R6).
	MinSecretSize = 16
	// MaxSecretSize is the largest secret accepted (512 bits, one
	// SHA-512 block's worth of key).
	MaxSecretSize = 64
)

// maxCodeInput bounds the raw code input Verify looks at, before spaces
// are removed.
const maxCodeInput = 64

// maxSecretInput bounds the text DecodeSecret looks at.
const maxSecretInput = 256

// Errors returned by this package. Compare with errors.Is.
var (
	// ErrInvalid means the code is well formed but wrong for the secret
	// and time.
	ErrInvalid = errors.New("totp: invalid code")
	// ErrReplayed means the code is right but belongs to a time step at
	// or before the last one used: it was used already, or a newer code
	// was.
	ErrReplayed = errors.New("totp: code already used")
	// ErrMalformed means the input is not 6 ASCII digits (spaces aside).
	ErrMalformed = errors.New("totp: malformed code")
	// ErrSecret means a secret is of the wrong size or not valid base32.
	ErrSecret = errors.New("totp: invalid secret")
)

// algorithm selects the HMAC hash. The application only ever uses SHA-1;
// the others exist to check the package against RFC 6238's test vectors.
type algorithm int

const (
	sha1Alg algorithm = iota
	sha256Alg
	sha512Alg
)

func (a algorithm) new() func() hash.Hash {
	switch a {
	case sha256Alg:
		return sha256.New
	case sha512Alg:
		return sha512.New
	default:
		return sha1.New
	}
}

// params are the code settings. The exported API always uses
// defaultParams; the tests use others for the RFC vectors.
type params struct {
	digits int
	alg    algorithm
	period int64 // seconds
}

var defaultParams = params{digits: Digits, alg: sha1Alg, period: int64(Period / time.Second)}

// pow10 holds 10^0 ... 10^9 for the modulo of RFC 4226 section 5.3.
var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// hotp computes the RFC 4226 HOTP value for counter, as a zero-padded
// decimal string of p.digits digits.
func hotp(secret []byte, counter uint64, p params) string {
	mac := hmac.New(p.alg.new(), secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	// Dynamic truncation (RFC 4226 section 5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", p.digits, bin%pow10[p.digits])
}

// stepAt returns the RFC 6238 time step T = floor(unix time / period).
func stepAt(t time.Time, period int64) int64 {
	u := t.Unix()
	s := u / period
	if u%period < 0 {
		s-- // floor, not truncation, for times before 1970
	}
	return s
}

// Step returns the time step (the number of whole 30-second periods since
// the Unix epoch) that t falls in. Verify returns steps in the same unit.
func Step(t time.Time) int64 { return stepAt(t, defaultParams.period) }

// Code returns the 6-digit code for secret at time t, as an authenticator
// app would show it.
func Code(secret []byte, t time.Time) string {
	return hotp(secret, uint64(Step(t)), defaultParams)
}

// NormalizeCode removes spaces (and other ASCII blanks) from a code as a
// user typed it, and checks that what is left is exactly 6 ASCII digits.
// It returns ErrMalformed otherwise, and for input longer than 64 bytes.
func NormalizeCode(code string) (string, error) {
	if len(code) > maxCodeInput {
		return "", ErrMalformed
	}
	var b [Digits]byte
	n := 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c >= '0' && c <= '9' && n < Digits:
			b[n] = c
			n++
		default:
			return "", ErrMalformed
		}
	}
	if n != Digits {
		return "", ErrMalformed
	}
	return string(b[:]), nil
}

// Verify checks a code the user typed against secret at time now.
//
// The code may contain spaces; otherwise it must be exactly 6 ASCII
// digits, or Verify returns ErrMalformed. The codes of the current step
// and of one step either side are accepted, but only for steps after
// lastUsedStep. On success Verify returns the step the code belongs to;
// the caller must store it (atomically with accepting the login) and pass
// it as lastUsedStep next time. For a secret that has never been used,
// pass 0.
//
// A right code for a step at or before lastUsedStep gives ErrReplayed; a
// wrong code gives ErrInvalid; a secret of the wrong size gives ErrSecret.
// All candidate codes are compared in constant time. Verify does not limit
// attempts: a 6-digit code can be guessed, so callers must rate-limit.
func Verify(secret []byte, code string, now time.Time, lastUsedStep int64) (step int64, err error) {
	if len(secret) < MinSecretSize || len(secret) > MaxSecretSize {
		return 0, ErrSecret
	}
	return verify(secret, code, now, lastUsedStep, defaultParams)
}

func verify(secret []byte, code string, now time.Time, lastUsedStep int64, p params) (int64, error) {
	norm, err := NormalizeCode(code)
	if err != nil {
		return 0, err
	}
	cur := stepAt(now, p.period)
	var (
		matched  bool
		accepted bool
		best     int64
	)
	// Compare with every candidate, without stopping at the first match.
	for s := cur - Skew; s <= cur+Skew; s++ {
		want := hotp(secret, uint64(s), p)
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(norm)) == 1
		if eq {
			matched = true
			if s > lastUsedStep {
				accepted = true
				best = s // the largest fresh matching step wins
			}
		}
	}
	switch {
	case accepted:
		return best, nil
	case matched:
		return 0, ErrReplayed
	default:
		return 0, ErrInvalid
	}
}

// NewSecret returns a new random 160-bit (20-byte) secret from
// crypto/rand.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("totp: reading random secret: %w", err)
	}
	return b, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns secret in unpadded upper-case base32, the form
// authenticator apps accept in key URIs and for manual entry.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// FormatSecret returns secret in base32 split into groups of four
// characters separated by spaces, for a person to read and type.
// DecodeSecret accepts this form.
func FormatSecret(secret []byte) string {
	s := EncodeSecret(secret)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// DecodeSecret decodes a base32 secret as EncodeSecret or FormatSecret
// write it, or as a user copied it: case-insensitive, ignoring spaces and
// trailing '=' padding. The encoding must be canonical (unused trailing
// bits zero) and the secret between MinSecretSize and MaxSecretSize bytes;
// anything else, or input over 256 bytes, gives ErrSecret.
func DecodeSecret(s string) ([]byte, error) {
	if len(s) > maxSecretInput {
		return nil, ErrSecret
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	norm := strings.TrimRight(b.String(), "=")
	secret, err := b32.DecodeString(norm)
	if err != nil || b32.EncodeToString(secret) != norm {
		return nil, ErrSecret
	}
	if len(secret) < MinSecretSize || len(secret) > MaxSecretSize {
		return nil, ErrSecret
	}
	return secret, nil
}
