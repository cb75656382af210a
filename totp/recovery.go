package totp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Recovery codes are single-use codes a user writes down when turning on
// two-factor authentication, to sign in when the authenticator is lost.
//
// Each code is 80 random bits written as 16 characters of Crockford's
// base32 alphabet (digits and lower-case letters without i, l, o and u),
// in four groups: "xxxx-xxxx-xxxx-xxxx". When a user types one back, case,
// spaces and hyphens do not matter, and the letters i, l and o are read as
// 1, 1 and 0.
const (
	// DefaultRecoveryCodes is how many codes NewRecoveryCodes makes when
	// asked for 0.
	DefaultRecoveryCodes = 10
	// MaxRecoveryCodes is the most codes NewRecoveryCodes makes at once.
	MaxRecoveryCodes = 100
	// recoveryBytes is the entropy of one code: 80 bits.
	recoveryBytes = 10
	// recoveryChars is the number of base32 characters in a code.
	recoveryChars = recoveryBytes * 8 / 5
	// maxRecoveryInput bounds what NormalizeRecoveryCode looks at.
	maxRecoveryInput = 64
)

// crockford is Crockford's base32 alphabet, in lower case.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// Errors about recovery codes.
var (
	// ErrRecoveryCode means the input is not a recovery code in any
	// accepted form.
	ErrRecoveryCode = errors.New("totp: malformed recovery code")
	// ErrRecoveryCount means NewRecoveryCodes was asked for a negative
	// number of codes or more than MaxRecoveryCodes.
	ErrRecoveryCount = errors.New("totp: invalid number of recovery codes")
)

// NewRecoveryCodes returns n distinct new recovery codes (DefaultRecoveryCodes
// when n is 0), each 80 bits from crypto/rand in the form
// "xxxx-xxxx-xxxx-xxxx". Show them to the user once and store only their
// HashRecoveryCode hashes.
func NewRecoveryCodes(n int) ([]string, error) {
	if n == 0 {
		n = DefaultRecoveryCodes
	}
	if n < 0 || n > MaxRecoveryCodes {
		return nil, ErrRecoveryCount
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		var raw [recoveryBytes]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("totp: reading random recovery code: %w", err)
		}
		c := formatRecovery(encodeCrockford(raw))
		if seen[c] { // 2^-80 per pair; cheap to rule out anyway
			continue
		}
		seen[c] = true
		codes = append(codes, c)
	}
	return codes, nil
}

// encodeCrockford writes 80 bits as 16 base32 characters, most significant
// bits first.
func encodeCrockford(raw [recoveryBytes]byte) [recoveryChars]byte {
	var out [recoveryChars]byte
	var acc uint64
	bits := 0
	j := 0
	for _, b := range raw {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = crockford[(acc>>bits)&31]
			j++
		}
	}
	return out
}

// formatRecovery groups 16 characters as "xxxx-xxxx-xxxx-xxxx".
func formatRecovery(c [recoveryChars]byte) string {
	b := make([]byte, 0, recoveryChars+3)
	for i, ch := range c {
		if i > 0 && i%4 == 0 {
			b = append(b, '-')
		}
		b = append(b, ch)
	}
	return string(b)
}

// crockfordValue maps an input byte to its canonical lower-case character
// of the alphabet, or 0 if it is not one.
func crockfordValue(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	switch c {
	case 'o':
		return '0'
	case 'i', 'l':
		return '1'
	case 'u':
		return 0
	}
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' {
		return c
	}
	return 0
}

// NormalizeRecoveryCode returns the canonical form ("xxxx-xxxx-xxxx-xxxx",
// lower case) of a recovery code as a user typed it: letters in either
// case, with any spaces, tabs and hyphens, and with i, l, o read as 1, 1,
// 0. Anything else, or input over 64 bytes, gives ErrRecoveryCode.
func NormalizeRecoveryCode(input string) (string, error) {
	if len(input) > maxRecoveryInput {
		return "", ErrRecoveryCode
	}
	var c [recoveryChars]byte
	n := 0
	for i := 0; i < len(input); i++ {
		ch := input[i]
		if ch == ' ' || ch == '-' || ch == '\t' {
			continue
		}
		v := crockfordValue(ch)
		if v == 0 || n == recoveryChars {
			return "", ErrRecoveryCode
		}
		c[n] = v
		n++
	}
	if n != recoveryChars {
		return "", ErrRecoveryCode
	}
	return formatRecovery(c), nil
}

// HashRecoveryCode returns the SHA-256 hash of the normalized code, the
// value to store. It returns nil if code is malformed.
//
// A fast, unsalted hash is enough here, unlike for passwords: each code
// holds 80 bits from crypto/rand, so even with a stolen table of hashes
// an offline search of 2^80 candidates is out of reach, and no two users'
// codes are alike enough for a salt or a slow hash to add anything.
func HashRecoveryCode(code string) []byte {
	norm, err := NormalizeRecoveryCode(code)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256([]byte(norm))
	return sum[:]
}

// MatchRecoveryCode reports whether input (as a user typed it) matches one
// of the stored hashes, and which one, so that the caller can delete it:
// each code works once. Every hash is compared, in constant time, without
// stopping at a match. A malformed input matches nothing; nil or
// wrong-sized hashes (such as spent slots) never match.
func MatchRecoveryCode(input string, hashes [][]byte) (index int, ok bool) {
	sum := HashRecoveryCode(input)
	if sum == nil {
		return -1, false
	}
	index = -1
	found := 0
	for i, h := range hashes {
		eq := subtle.ConstantTimeCompare(sum, h) // 0 for a length mismatch
		index = subtle.ConstantTimeSelect(eq&(1-found), i, index)
		found |= eq
	}
	return index, found == 1
}
