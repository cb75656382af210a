package account

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on user input.
const (
	// MaxEmailBytes is the longest accepted address (RFC 5321 path limit).
	MaxEmailBytes = 254
	// MaxLocalPartBytes is the longest accepted local part (RFC 5321).
	MaxLocalPartBytes = 64
	// MaxDisplayNameRunes is the longest accepted display name.
	MaxDisplayNameRunes = 64
	// MaxPasswordBytes bounds a password submitted for verification; longer
	// input is refused before any hashing work. The policy's own limit for
	// new passwords is lower.
	MaxPasswordBytes = 1024
)

var errBadEmail = errors.New("account: invalid email address")

// ParseEmail trims s and checks that it is a plain email address; it returns
// the address as it will be stored and its uniqueness key ([EmailKey]).
//
// Accepted: a bare addr-spec (no display name, no angle brackets, no
// comments, no quoted local part, no domain literal), at most
// [MaxEmailBytes] bytes with a local part of at most [MaxLocalPartBytes],
// made only of printable ASCII.
//
// Look-alikes: non-ASCII addresses are refused, both in the local part and
// in the domain (internationalized domains are entered in their ASCII
// "xn--" form). This rules out homograph tricks such as a Cyrillic "а"
// standing in for a Latin "a", and fullwidth or compatibility characters,
// at the cost of not supporting SMTPUTF8 mailboxes. Dots and "+tags" are
// kept: "a.b+x@example.com" and "ab@example.com" are different accounts.
func ParseEmail(s string) (email, key string, err error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxEmailBytes {
		return "", "", errBadEmail
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", "", errBadEmail // control, space or non-ASCII
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", "", errBadEmail
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > MaxLocalPartBytes || !validDomain(domain) {
		return "", "", errBadEmail
	}
	return s, EmailKey(s), nil
}

// validDomain accepts dot-separated hostname labels of letters, digits and
// hyphens (not at either end of a label), 1–63 bytes each. A single label
// such as "localhost" is allowed for development setups.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// EmailKey returns the uniqueness key of an email address: trimmed, NFKC
// normalized and lowercased. Two addresses with the same key are the same
// account. (For the ASCII-only addresses [ParseEmail] accepts, this is
// simply lowercasing; NFKC keeps the key sound should the rule be relaxed.)
func EmailKey(email string) string {
	return strings.ToLower(norm.NFKC.String(strings.TrimSpace(email)))
}

// ParseDisplayName trims s and checks it: optional, at most
// [MaxDisplayNameRunes] runes of valid UTF-8, no control characters and no
// invisible bidirectional or line/paragraph separator characters that could
// disguise text around it.
func ParseDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayNameRunes {
		return "", errors.New("account: invalid display name")
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiOrSeparator(r) {
			return "", errors.New("account: invalid display name")
		}
	}
	return s, nil
}

// isBidiOrSeparator reports runes that reorder or break displayed text.
func isBidiOrSeparator(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069,            // LRI, RLI, FSI, PDI
		r == 0x200E, r == 0x200F, r == 0x061C, // LRM, RLM, ALM
		r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
