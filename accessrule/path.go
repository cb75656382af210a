package accessrule

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxPathBytes is the longest request path (before decoding) that is
	// normalized; a longer one is refused.
	MaxPathBytes = 4096
	// MaxURLBytes is the longest original URL ParseURL accepts.
	MaxURLBytes = 8192
	// maxHostBytes bounds a host name with its port.
	maxHostBytes = 260
	// maxMethodBytes bounds an HTTP method.
	maxMethodBytes = 32
)

// ErrMalformed is wrapped by the errors of NormalizePath, SplitURI,
// NormalizeHost, NormalizeMethod and ParseURL: the input cannot be
// normalized safely, and a request carrying it must be denied.
var ErrMalformed = errors.New("accessrule: malformed request")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// SplitURI splits a request URI as sent by a proxy in X-Forwarded-Uri
// ("/path?query") into its normalized path and its raw query. The query
// is never part of the path. A "#" anywhere is refused: browsers never
// send a fragment, so one in a forwarded URI is an attempt to make the
// proxy, Gatehouse and the app disagree on where the path ends.
func SplitURI(uri string) (path, rawQuery string, err error) {
	if len(uri) > MaxURLBytes {
		return "", "", malformed("request URI longer than %d bytes", MaxURLBytes)
	}
	if strings.IndexByte(uri, '#') >= 0 {
		return "", "", malformed("%q in the request URI", '#')
	}
	path, rawQuery, _ = strings.Cut(uri, "?")
	for i := 0; i < len(rawQuery); i++ {
		if c := rawQuery[i]; c < 0x21 || c == 0x7f {
			return "", "", malformed("control character or space in the query")
		}
	}
	path, err = NormalizePath(path)
	if err != nil {
		return "", "", err
	}
	return path, rawQuery, nil
}

// NormalizePath returns the canonical form of an URL path (without query)
// that rules are matched against, or an error wrapping ErrMalformed.
//
// Percent-encoded unreserved characters and UTF-8 are decoded; "." and ".."
// segments are resolved ("/a/../b" is "/b"; climbing above the root is
// refused). Refused outright, because a proxy, Gatehouse and the app could
// read them differently: an empty segment ("//"), ";" (path parameters),
// "\" and its encoding %5C, an encoded "/" (%2F), "?" or "#" (raw or
// encoded), an encoded "%" (double encoding), control characters and
// spaces (raw or encoded), invalid UTF-8, and a path that does not start
// with "/". A trailing "/" is kept. NormalizePath is idempotent.
func NormalizePath(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", malformed("path does not start with %q", '/')
	}
	if len(p) > MaxPathBytes {
		return "", malformed("path longer than %d bytes", MaxPathBytes)
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
				return "", malformed("bad percent-encoding in path")
			}
			c = unhex(p[i+1])<<4 | unhex(p[i+2])
			i += 2
			switch c {
			case '/':
				return "", malformed("encoded %q (%%2F) in path", '/')
			case '%':
				return "", malformed("encoded %q (%%25) in path: double encoding", '%')
			}
		}
		switch {
		case c < 0x21 || c == 0x7f:
			return "", malformed("control character or space in path")
		case c == '\\':
			return "", malformed("backslash in path")
		case c == ';':
			return "", malformed("%q in path", ';')
		case c == '?' || c == '#':
			return "", malformed("%q inside the path", c)
		}
		b.WriteByte(c)
	}
	decoded := b.String()
	if !utf8.ValidString(decoded) {
		return "", malformed("invalid UTF-8 in path")
	}
	segs := strings.Split(decoded[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			if !last {
				return "", malformed("empty segment (%q) in path", "//")
			}
			trailing = len(out) > 0
		case ".":
			trailing = last && len(out) > 0
		case "..":
			if len(out) == 0 {
				return "", malformed("%q climbs above the root", "..")
			}
			out = out[:len(out)-1]
			trailing = last && len(out) > 0
		default:
			out = append(out, s)
		}
	}
	var r strings.Builder
	r.Grow(len(decoded))
	for _, s := range out {
		r.WriteByte('/')
		r.WriteString(s)
	}
	if len(out) == 0 || trailing {
		r.WriteByte('/')
	}
	return r.String(), nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// NormalizeHost returns a host name as rules match it: lower case, without
// the port and a trailing dot; IPv6 literals lose their brackets. Anything
// but a DNS name of letters, digits and hyphens or an IP address is refused.
func NormalizeHost(h string) (string, error) {
	host, _, err := splitHost(h)
	return host, err
}

// splitHost normalizes a "host[:port]" and returns its parts.
func splitHost(h string) (host, port string, err error) {
	if h == "" || len(h) > maxHostBytes {
		return "", "", malformed("empty or overlong host")
	}
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", malformed("unterminated IPv6 literal")
		}
		host, rest := h[1:end], h[end+1:]
		if rest != "" {
			if rest[0] != ':' || !validPort(rest[1:]) {
				return "", "", malformed("bad port")
			}
			port = rest[1:]
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", malformed("bad IPv6 literal")
		}
		return a.String(), port, nil
	}
	host = h
	if i := strings.IndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", "", malformed("bad port")
		}
		host, port = h[:i], h[i+1:]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return a.String(), port, nil
	}
	if !validDNSName(host) {
		return "", "", malformed("bad host name")
	}
	return host, port, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n < 65536
}

// validDNSName reports whether s is a lower-case DNS name: labels of
// letters, digits and inner hyphens, 1-63 bytes each, 253 in all.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// NormalizeMethod returns an HTTP method in upper case, refusing anything
// but a short token of letters (GET, POST, PROPFIND, ...).
func NormalizeMethod(m string) (string, error) {
	if m == "" || len(m) > maxMethodBytes {
		return "", malformed("empty or overlong method")
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			return "", malformed("bad method")
		}
	}
	return strings.ToUpper(m), nil
}

// Target is an original request's URL taken apart and normalized.
type Target struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is the normalized host name (see NormalizeHost), without port.
	Host string
	// HostPort is Host with its port, unless the port is the scheme's
	// default; IPv6 literals in brackets.
	HostPort string
	// Path is the normalized path (see NormalizePath).
	Path string
	// RawQuery is the query without "?", as sent.
	RawQuery string
}

// Origin returns the target's origin, "https://app.example.com[:port]".
func (t Target) Origin() string { return t.Scheme + "://" + t.HostPort }

// URL returns the target as an absolute URL with the normalized path.
func (t Target) URL() string {
	u := t.Origin() + t.Path
	if t.RawQuery != "" {
		u += "?" + t.RawQuery
	}
	return u
}

// NewTarget builds a Target from the pieces a proxy forwards (Traefik and
// Caddy: X-Forwarded-Proto, -Host and -Uri), refusing what cannot be
// normalized.
func NewTarget(scheme, host, uri string) (Target, error) {
	if scheme != "http" && scheme != "https" {
		return Target{}, malformed("scheme is not http or https")
	}
	h, port, err := splitHost(host)
	if err != nil {
		return Target{}, err
	}
	p, q, err := SplitURI(uri)
	if err != nil {
		return Target{}, err
	}
	hp := h
	if strings.IndexByte(h, ':') >= 0 {
		hp = "[" + h + "]"
	}
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		hp += ":" + port
	}
	return Target{Scheme: scheme, Host: h, HostPort: hp, Path: p, RawQuery: q}, nil
}

// ParseURL parses an absolute original URL (nginx's X-Original-URL, the
// argument of "gatehouse rules test") into a Target. User information,
// fragments, schemes other than http and https, and everything NewTarget
// refuses are refused.
func ParseURL(raw string) (Target, error) {
	if len(raw) > MaxURLBytes {
		return Target{}, malformed("URL longer than %d bytes", MaxURLBytes)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Target{}, malformed("not an absolute URL")
	}
	scheme = strings.ToLower(scheme)
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, uri := rest[:end], rest[end:]
	if strings.ContainsAny(authority, "@\\%") {
		return Target{}, malformed("user information or escapes in the URL's host")
	}
	if uri == "" {
		uri = "/"
	} else if uri[0] == '?' {
		uri = "/" + uri
	}
	t, err := NewTarget(scheme, authority, uri)
	if err != nil {
		return Target{}, err
	}
	// Cross-check with net/url: both readings must agree on the host.
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Host, authority) || u.User != nil {
		return Target{}, malformed("ambiguous URL")
	}
	return t, nil
}
