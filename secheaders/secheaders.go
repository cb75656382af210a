// Package secheaders sets the security headers of HTML responses: a strict
// Content-Security-Policy with a fresh script nonce per response, nosniff,
// frame denial, a strict referrer policy, cross-origin isolation of the
// browsing context and resources, a restrictive Permissions-Policy and,
// when enabled, HSTS.
//
// The zero-config [New] is secure. Options add sources to CSP directives but
// never loosen the policy to 'unsafe-inline' or a wildcard unless the
// option says Insecure. The static part of every header is built once; a
// response costs one random nonce and one string concatenation.
//
// Templates put the nonce on their script elements:
//
//	<script nonce="{{.Nonce}}" src="/static/app.js"></script>
//
// with Nonce taken from [Nonce](r.Context()).
package secheaders

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// Header values this package sets.
const (
	// HSTSValue is the Strict-Transport-Security value set by [WithHSTS].
	HSTSValue = "max-age=31536000; includeSubDomains"
	// HSTSPreloadValue is the value set by [WithHSTSPreload].
	HSTSPreloadValue = HSTSValue + "; preload"
	// PermissionsPolicy turns off powerful browser features the pages do
	// not use.
	PermissionsPolicy = "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), " +
		"display-capture=(), encrypted-media=(), geolocation=(), gyroscope=(), hid=(), " +
		"idle-detection=(), interest-cohort=(), magnetometer=(), microphone=(), midi=(), " +
		"payment=(), screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
)

// defaultCSP is the policy before options, in output order. script-src also
// gets the per-response nonce and 'strict-dynamic'.
var defaultCSP = []directive{
	{"default-src", []string{"'none'"}},
	{"script-src", nil},
	{"style-src", []string{"'self'"}},
	{"img-src", []string{"'self'", "data:"}},
	{"font-src", []string{"'self'"}},
	{"connect-src", []string{"'self'"}},
	{"form-action", []string{"'self'"}},
	{"frame-ancestors", []string{"'none'"}},
	{"base-uri", []string{"'none'"}},
	{"object-src", []string{"'none'"}},
}

type directive struct {
	name    string
	sources []string
}

// Headers sets security headers on responses. Build it with [New]; it is
// safe for concurrent use.
type Headers struct {
	keys      []string // canonical header names
	values    []string // their values, same order
	cspPrefix string   // CSP up to the nonce
	cspSuffix string   // CSP after the nonce
}

type config struct {
	csp  []directive
	hsts string
}

// Option configures [New]. Options panic on a malformed argument: they
// describe the program, not its input.
type Option func(*config)

// WithHSTS sends Strict-Transport-Security: max-age=31536000;
// includeSubDomains, telling browsers to use only https for a year. Enable
// it only for a site served over https.
func WithHSTS() Option {
	return func(c *config) {
		if c.hsts == "" {
			c.hsts = HSTSValue
		}
	}
}

// WithHSTSPreload is [WithHSTS] plus the preload flag, for a domain
// submitted to the browsers' HSTS preload list.
func WithHSTSPreload() Option {
	return func(c *config) { c.hsts = HSTSPreloadValue }
}

// WithSources adds sources to a CSP directive, for example
// WithSources("img-src", "https://avatars.example.com"). Sources replace a
// directive's 'none'. A directive not in the default policy is added.
// WithSources panics on a source that would loosen the policy ('unsafe-…'
// keywords, "*", bare schemes such as https: or data: outside img-src and
// font-src); use [InsecureWithSources] to add those deliberately.
func WithSources(name string, sources ...string) Option {
	for _, s := range sources {
		if loose(name, s) {
			panic("secheaders: WithSources(" + name + ", " + s + ") would loosen the policy; use InsecureWithSources")
		}
	}
	return InsecureWithSources(name, sources...)
}

// InsecureWithSources adds sources to a CSP directive without refusing
// loose ones such as 'unsafe-inline'. It still panics on a malformed
// directive name or source.
func InsecureWithSources(name string, sources ...string) Option {
	if !validName(name) {
		panic("secheaders: invalid CSP directive name " + name)
	}
	for _, s := range sources {
		if !validSource(s) {
			panic("secheaders: invalid CSP source " + s)
		}
	}
	return func(c *config) {
		i := slices.IndexFunc(c.csp, func(d directive) bool { return d.name == name })
		if i < 0 {
			c.csp = append(c.csp, directive{name: name})
			i = len(c.csp) - 1
		}
		d := &c.csp[i]
		d.sources = slices.DeleteFunc(slices.Clone(d.sources), func(s string) bool { return s == "'none'" })
		for _, s := range sources {
			if !slices.Contains(d.sources, s) {
				d.sources = append(d.sources, s)
			}
		}
	}
}

// New returns Headers configured by opts.
func New(opts ...Option) *Headers {
	c := &config{csp: slices.Clone(defaultCSP)}
	for _, o := range opts {
		o(c)
	}
	h := &Headers{}
	add := func(k, v string) {
		h.keys = append(h.keys, http.CanonicalHeaderKey(k))
		h.values = append(h.values, v)
	}
	add("X-Content-Type-Options", "nosniff")
	add("Referrer-Policy", "strict-origin-when-cross-origin")
	if xfo := frameOptions(c.csp); xfo != "" {
		add("X-Frame-Options", xfo)
	}
	add("Cross-Origin-Opener-Policy", "same-origin")
	add("Cross-Origin-Resource-Policy", "same-origin")
	add("Permissions-Policy", PermissionsPolicy)
	if c.hsts != "" {
		add("Strict-Transport-Security", c.hsts)
	}

	var b strings.Builder
	for i, d := range c.csp {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.name)
		if d.name == "script-src" {
			b.WriteString(" 'nonce-")
			h.cspPrefix = b.String()
			b.Reset()
			b.WriteString("' 'strict-dynamic'")
		}
		for _, s := range d.sources {
			b.WriteString(" ")
			b.WriteString(s)
		}
	}
	h.cspSuffix = b.String()
	return h
}

// frameOptions returns the X-Frame-Options value matching frame-ancestors,
// or "" when only the CSP can express it.
func frameOptions(csp []directive) string {
	for _, d := range csp {
		if d.name == "frame-ancestors" {
			switch {
			case slices.Equal(d.sources, []string{"'none'"}):
				return "DENY"
			case slices.Equal(d.sources, []string{"'self'"}):
				return "SAMEORIGIN"
			}
			return ""
		}
	}
	return "DENY"
}

type nonceKey struct{}

// Handler returns middleware that sets the headers, with a fresh nonce in
// the CSP, before calling next; next can read the nonce with [Nonce] and
// override any header.
func (h *Headers) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := h.Set(w.Header())
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce)))
	})
}

// Set sets the headers on hdr with a fresh nonce and returns the nonce, for
// callers that do not use [Headers.Handler].
func (h *Headers) Set(hdr http.Header) (nonce string) {
	nonce = newNonce()
	// One allocation for all the value slices; each has capacity 1, so
	// appending to one never touches the next.
	vals := make([]string, len(h.values)+1)
	copy(vals, h.values)
	for i, k := range h.keys {
		hdr[k] = vals[i : i+1 : i+1]
	}
	vals[len(h.values)] = h.cspPrefix + nonce + h.cspSuffix
	hdr["Content-Security-Policy"] = vals[len(h.values):]
	return nonce
}

// Nonce returns the CSP nonce of the response being served, for the nonce
// attribute of script elements, or "" outside [Headers.Handler].
func Nonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// newNonce returns 128 random bits in base64url, which needs no escaping in
// HTML attributes.
func newNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NoStore keeps a response out of every cache: for pages that show secrets,
// tokens or personal data.
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// ClearSiteData asks the browser to clear the site's data, for sign-out.
// With no types it clears "cache", "cookies" and "storage". Unknown types
// are dropped.
func ClearSiteData(w http.ResponseWriter, types ...string) {
	if len(types) == 0 {
		types = []string{"cache", "cookies", "storage"}
	}
	quoted := make([]string, 0, len(types))
	for _, t := range types {
		if slices.Contains(clearSiteDataTypes, t) {
			quoted = append(quoted, `"`+t+`"`)
		}
	}
	if len(quoted) > 0 {
		w.Header().Set("Clear-Site-Data", strings.Join(quoted, ", "))
	}
}

var clearSiteDataTypes = []string{"cache", "cookies", "storage", "executionContexts", "clientHints", "prefetchCache", "prerenderCache", "*"}

// NoReferrer sets Referrer-Policy: no-referrer, for pages whose URL carries
// a secret (a password-reset or email-verification token), so the URL never
// leaks to another site.
func NoReferrer(w http.ResponseWriter) {
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// validName reports whether name looks like a CSP directive name.
func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// validSource reports whether s is one CSP source expression: printable
// ASCII, no whitespace, no ';' or ',' (which would end the directive or
// policy).
func validSource(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ';' || c == ',' {
			return false
		}
	}
	return true
}

// loose reports whether adding s to directive name would weaken the
// policy in a way that needs an Insecure option.
func loose(name, s string) bool {
	ls := strings.ToLower(s)
	if strings.Contains(ls, "unsafe") || ls == "*" || strings.HasPrefix(ls, "*") && !strings.HasPrefix(ls, "*.") {
		return true
	}
	switch ls {
	case "http:", "https:", "ws:", "wss:", "blob:", "filesystem:", "data:":
		return !(ls == "data:" && (name == "img-src" || name == "font-src"))
	}
	return strings.HasPrefix(ls, "http://") || strings.HasPrefix(ls, "ws://")
}
