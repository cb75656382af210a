// Package onetime makes single-use selector/verifier tokens for email
// verification, password reset and email-change links, and for any other
// secret that is handed out once and presented back once.
//
// A token has two random parts. The selector (16 bytes) is an index: it is
// stored as is and used to find the token's row. The verifier (32 bytes)
// is the secret: only its SHA-256 hash is stored, and a presented verifier
// is checked against that hash in constant time. A leaked table therefore
// holds no usable token, and a lookup by selector leaks nothing through
// timing about the verifier (the pattern of authboss and of "split
// tokens").
//
// Typical use:
//
//	tok, _ := onetime.New()
//	store(tok.Selector(), tok.PurposeHash(onetime.PurposeResetPassword), userID, now.Add(ttl))
//	send(link + "?token=" + tok.String())
//	// later
//	sel, ver, err := onetime.Parse(r.FormValue("token"))
//	row := lookup(sel)                                   // not found: same answer as a bad token
//	ok := onetime.CheckPurpose(onetime.PurposeResetPassword, ver, row.hash) && now.Before(row.expires)
//	// on success, delete the row before acting on it, so that the token works once.
//
// Expiry and single use are the caller's to enforce, since they live in
// its store; this package has no clock.
package onetime

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
)

// Sizes of a token's parts.
const (
	// SelectorSize is the number of random bytes in a selector (128 bits).
	SelectorSize = 16
	// VerifierSize is the number of random bytes in a verifier (256 bits).
	VerifierSize = 32
	// HashSize is the size of a verifier hash (SHA-256).
	HashSize = sha256.Size
	// EncodedLen is the length of Token.String: the selector and the
	// verifier, concatenated and base64url-encoded without padding.
	EncodedLen = (SelectorSize + VerifierSize) * 4 / 3
	// SelectorLen is the length of Token.Selector: 16 bytes in base64url
	// without padding.
	SelectorLen = (SelectorSize*8 + 5) / 6
)

// Purposes for PurposeHash and CheckPurpose. Any other non-secret string
// works as well; these are the ones Gatehouse uses.
const (
	PurposeVerifyEmail   = "gatehouse/verify-email"
	PurposeResetPassword = "gatehouse/reset-password"
	PurposeChangeEmail   = "gatehouse/change-email"
)

// ErrMalformed is returned by Parse for anything that is not a token as
// Token.String writes it.
var ErrMalformed = errors.New("onetime: malformed token")

var b64 = base64.RawURLEncoding.Strict()

// Token is a new single-use token. Its zero value is not a valid token;
// make one with New. A Token holds the secret verifier: keep it only long
// enough to store its hash and send it to the user, and never log it.
type Token struct {
	selector [SelectorSize]byte
	verifier [VerifierSize]byte
}

// New returns a new token with a selector and a verifier from crypto/rand.
func New() (Token, error) {
	var t Token
	if _, err := rand.Read(t.selector[:]); err != nil {
		return Token{}, fmt.Errorf("onetime: reading random selector: %w", err)
	}
	if _, err := rand.Read(t.verifier[:]); err != nil {
		return Token{}, fmt.Errorf("onetime: reading random verifier: %w", err)
	}
	return t, nil
}

// String returns the token as the user gets it: EncodedLen (64) characters
// of base64url, safe in URLs, query strings, form fields and email text
// without escaping. It contains the secret verifier.
func (t Token) String() string {
	var raw [SelectorSize + VerifierSize]byte
	copy(raw[:], t.selector[:])
	copy(raw[SelectorSize:], t.verifier[:])
	return b64.EncodeToString(raw[:])
}

// GoString returns a Go-syntax form that shows the selector only, so that
// %#v never prints the verifier.
func (t Token) GoString() string {
	return "onetime.Token{Selector: " + strconv.Quote(t.Selector()) + ", Verifier: REDACTED}"
}

// LogValue implements slog.LogValuer: a Token logged with log/slog shows
// its selector only, never the verifier.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("selector", t.Selector()))
}

// Selector returns the selector in base64url (SelectorLen characters):
// the value to store and look the token up by. It is not secret, and
// equals the selector Parse returns for t.String().
func (t Token) Selector() string { return b64.EncodeToString(t.selector[:]) }

// VerifierHash returns SHA-256 of the verifier: the value to store and
// pass to Check later. Prefer PurposeHash, which also ties the token to
// one use.
func (t Token) VerifierHash() []byte { return HashVerifier(t.verifier[:]) }

// PurposeHash returns SHA-256(purpose || 0x00 || verifier): the value to
// store and pass to CheckPurpose later with the same purpose.
//
// Mixing the purpose into the hash separates the uses of tokens: a
// password-reset token checked as an email-verification token (or the
// other way round) never matches, even if the two were stored in one
// table or their selectors collided. The encoding is unambiguous because
// the verifier has a fixed size. The purpose is not secret; use a constant
// such as PurposeResetPassword.
func (t Token) PurposeHash(purpose string) []byte {
	return HashVerifierFor(purpose, t.verifier[:])
}

// HashVerifier returns SHA-256 of verifier, as Token.VerifierHash does for
// a new token. Stored hashes are compared with Check, not by looking the
// hash up.
func HashVerifier(verifier []byte) []byte {
	sum := sha256.Sum256(verifier)
	return sum[:]
}

// HashVerifierFor returns SHA-256(purpose || 0x00 || verifier), as
// Token.PurposeHash does for a new token.
func HashVerifierFor(purpose string, verifier []byte) []byte {
	h := sha256.New()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(verifier)
	return h.Sum(nil)
}

// Parse splits a token the user presented into its selector (to look the
// stored hash up by) and its verifier (to pass to Check or CheckPurpose).
// The input must be exactly EncodedLen characters of the base64url
// alphabet, as Token.String writes it; no spaces, padding or other
// characters are accepted, and nothing else gives ErrMalformed. Callers
// that take the token from a form may trim surrounding spaces first.
func Parse(s string) (selector string, verifier []byte, err error) {
	if len(s) != EncodedLen {
		return "", nil, ErrMalformed
	}
	var raw [SelectorSize + VerifierSize]byte
	n, err := b64.Decode(raw[:], []byte(s))
	if err != nil || n != len(raw) {
		return "", nil, ErrMalformed
	}
	verifier = make([]byte, VerifierSize)
	copy(verifier, raw[SelectorSize:])
	return b64.EncodeToString(raw[:SelectorSize]), verifier, nil
}

// Check reports whether SHA-256(verifier) equals storedHash (as made by
// Token.VerifierHash), comparing in constant time. A verifier or hash of
// the wrong size never matches.
func Check(verifier, storedHash []byte) bool {
	if len(verifier) != VerifierSize || len(storedHash) != HashSize {
		return false
	}
	return subtle.ConstantTimeCompare(HashVerifier(verifier), storedHash) == 1
}

// CheckPurpose reports whether the verifier, hashed with purpose, equals
// storedHash (as made by Token.PurposeHash with the same purpose),
// comparing in constant time. A verifier or hash of the wrong size never
// matches.
func CheckPurpose(purpose string, verifier, storedHash []byte) bool {
	if len(verifier) != VerifierSize || len(storedHash) != HashSize {
		return false
	}
	return subtle.ConstantTimeCompare(HashVerifierFor(purpose, verifier), storedHash) == 1
}
