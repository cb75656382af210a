package accessrule

import "strings"

// maxNextBytes bounds an absolute `next` URL.
const maxNextBytes = 2048

// ExternalNext reports whether next is an absolute URL a sign-in may return
// to: https (http too when allowHTTP, for development), a host for which
// allowed returns true (a host the rules name, or one under COOKIE_DOMAIN),
// and nothing that browsers and servers could read differently: no user
// information (https://a@evil.example), no backslash (https:/\evil.example),
// no whitespace or control characters, no fragment, only printable ASCII,
// and a path that normalizes. It returns next unchanged when it is safe.
func ExternalNext(next string, allowed func(host string) bool, allowHTTP bool) (string, bool) {
	if len(next) > maxNextBytes || allowed == nil {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	if !strings.HasPrefix(next, "https://") && !(allowHTTP && strings.HasPrefix(next, "http://")) {
		return "", false
	}
	t, err := ParseURL(next)
	if err != nil || !allowed(t.Host) {
		return "", false
	}
	return next, true
}
