package app

import (
	"net/url"
	"strings"
)

// defaultNext is where a sign-in leads when `next` is missing or unsafe.
const defaultNext = "/dashboard"

// safeNext returns next when it is a plain local path on this site, and
// defaultNext otherwise. Open redirects hide in the details: `//host` and
// `/\host` are protocol-relative for browsers, schemes and encoded or
// control characters can smuggle either past a naive check.
func safeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' {
		return defaultNext
	}
	for i := 0; i < len(next); i++ {
		c := next[i]
		if c < 0x21 || c == 0x7f || c == '\\' || c >= 0x80 {
			return defaultNext
		}
	}
	if strings.HasPrefix(next, "//") {
		return defaultNext
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return defaultNext
	}
	// The decoded path must be just as plain: %2F%2F, %5C, %00 and friends.
	dec := u.Path
	if strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00\r\n\t") || !strings.HasPrefix(dec, "/") {
		return defaultNext
	}
	if strings.Contains(strings.ToLower(u.RawQuery), "%0d") || strings.Contains(strings.ToLower(u.RawQuery), "%0a") {
		return defaultNext
	}
	// Never back to the sign-in machinery itself.
	for _, p := range []string{"/login", "/logout", "/register"} {
		if dec == p || strings.HasPrefix(dec, p+"/") {
			return defaultNext
		}
	}
	return u.RequestURI()
}
