package totp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on key URIs and their parts.
const (
	// MaxURILen is the longest otpauth URI ParseURI and QRCodePNG accept.
	MaxURILen = 2048
	// MaxIssuerLen is the longest issuer, in bytes.
	MaxIssuerLen = 128
	// MaxAccountNameLen is the longest account name, in bytes.
	MaxAccountNameLen = 256
)

// ErrURI is returned by ParseURI for anything that is not a well-formed
// otpauth://totp/ URI with the settings this package uses, and by
// Key.Validate for a key that cannot be written as one.
var ErrURI = errors.New("totp: malformed key URI")

// Key is a TOTP secret with the names an authenticator app shows next to
// it. It is what a key URI (and its QR code) carries.
type Key struct {
	// Issuer names the service, such as "Gatehouse". It may be empty but
	// should not be: apps use it to tell accounts apart.
	Issuer string
	// AccountName names the user at the issuer, such as an email address.
	AccountName string
	// Secret is the shared secret; see NewSecret.
	Secret []byte
}

// Validate reports whether k can be written as a key URI: the account name
// must be non-empty, issuer and account name valid UTF-8 without control
// characters or colons and within MaxIssuerLen and MaxAccountNameLen, and
// the secret between MinSecretSize and MaxSecretSize bytes. It returns an
// error wrapping ErrURI or ErrSecret.
func (k Key) Validate() error {
	if !validName(k.Issuer, MaxIssuerLen) {
		return fmt.Errorf("%w: bad issuer", ErrURI)
	}
	if k.AccountName == "" {
		return fmt.Errorf("%w: empty account name", ErrURI)
	}
	if !validName(k.AccountName, MaxAccountNameLen) {
		return fmt.Errorf("%w: bad account name", ErrURI)
	}
	if len(k.Secret) < MinSecretSize || len(k.Secret) > MaxSecretSize {
		return ErrSecret
	}
	return nil
}

// validName reports whether s is at most max bytes of valid UTF-8 without
// colons, control characters or surrounding spaces.
func validName(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r == ':' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// escape percent-encodes every byte except the unreserved characters of
// RFC 3986, so that ':' '+' '&' '=' '/' and spaces never confuse an app.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// URI returns the key URI of k in the Key Uri Format that authenticator
// apps scan:
//
//	otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// Issuer and account name are percent-encoded. Without an issuer the
// label is the account name alone and there is no issuer parameter. URI
// does not check k; call Validate first (ParseURI(k.URI()) gives back k
// exactly when k is valid).
func (k Key) URI() string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if k.Issuer != "" {
		b.WriteString(escape(k.Issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(k.AccountName))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(k.Secret))
	if k.Issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(k.Issuer))
	}
	b.WriteString("&algorithm=SHA1&digits=6&period=30")
	return b.String()
}

// ParseURI parses a key URI such as Key.URI writes. It is strict: the
// scheme must be otpauth and the type totp; the label is "issuer:account"
// or "account" (a space after the colon is allowed); the only parameters
// allowed are secret (required), issuer (equal to the label's issuer when
// both are given), algorithm (SHA1), digits (6) and period (30), each at
// most once; no user, port or fragment. The URI must be at most MaxURILen
// bytes and the key must pass Key.Validate. Anything else gives an error
// wrapping ErrURI (or ErrSecret for a bad secret).
func ParseURI(s string) (Key, error) {
	if len(s) > MaxURILen {
		return Key{}, ErrURI
	}
	const prefix = "otpauth://totp/"
	if !strings.HasPrefix(s, prefix) {
		return Key{}, ErrURI
	}
	rest := s[len(prefix):]
	rawLabel, rawQuery, ok := strings.Cut(rest, "?")
	if !ok || strings.ContainsAny(rawLabel, "#/") || strings.Contains(rawQuery, "#") {
		return Key{}, ErrURI
	}
	label, err := url.PathUnescape(rawLabel)
	if err != nil {
		return Key{}, ErrURI
	}
	var k Key
	if issuer, account, found := strings.Cut(label, ":"); found {
		k.Issuer = issuer
		k.AccountName = strings.TrimLeft(account, " ")
		if k.Issuer == "" {
			return Key{}, ErrURI
		}
	} else {
		k.AccountName = label
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Key{}, ErrURI
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return Key{}, ErrURI
		}
		v := vals[0]
		switch name {
		case "secret":
			// Authenticator apps expect canonical upper-case base32;
			// accept lower case too, but no spaces.
			if strings.Contains(v, " ") {
				return Key{}, ErrURI
			}
			secret, err := DecodeSecret(v)
			if err != nil {
				return Key{}, err
			}
			k.Secret = secret
		case "issuer":
			if v == "" || (k.Issuer != "" && v != k.Issuer) {
				return Key{}, ErrURI
			}
			k.Issuer = v
		case "algorithm":
			if v != "SHA1" {
				return Key{}, ErrURI
			}
		case "digits":
			if v != "6" {
				return Key{}, ErrURI
			}
		case "period":
			if v != "30" {
				return Key{}, ErrURI
			}
		default:
			return Key{}, ErrURI
		}
	}
	if k.Secret == nil {
		return Key{}, ErrURI
	}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}
