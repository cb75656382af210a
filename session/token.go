package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

const (
	tokenBytes = 32 // 256-bit tokens
	// TokenLen is the length of a session token in a cookie: 32 random
	// bytes, base64url without padding.
	TokenLen = 43
	// HandleLen is the length of a session handle: the hex SHA-256 of the
	// token.
	HandleLen = 64
)

// newToken returns a fresh token from crypto/rand and its handle.
func newToken() (token, id string) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(b[:])
}

func hashToken(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// parseToken checks a cookie value's length and alphabet before anything
// else and returns the handle (store id) of a well-formed token.
func parseToken(v string) (id string, ok bool) {
	if len(v) != TokenLen {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(raw) != tokenBytes {
		return "", false
	}
	return hashToken(raw), true
}

// ValidHandle reports whether h has the form of a session handle: 64
// lowercase hexadecimal characters. Use it to reject a posted handle before
// it reaches a store.
func ValidHandle(h string) bool {
	if len(h) != HandleLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
