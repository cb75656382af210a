// Package csrf protects state-changing HTTP requests against cross-site
// request forgery with two independent checks:
//
//   - a cross-origin check: a request with an unsafe method is refused when
//     the browser says it comes from another origin (Sec-Fetch-Site), or
//     when its Origin header does not match its Host, as in net/http's
//     CrossOriginProtection;
//   - a token check: the request must carry, in the csrf_token form field or
//     the X-CSRF-Token header, a token that the server signed (HMAC, see
//     keyring.MAC) over a random per-browser secret held in an HttpOnly
//     cookie and over an optional binding to the signed-in session.
//
// Tokens are masked with a fresh one-time pad every time [Protector.Token]
// is called, so no two renders of a page carry the same bytes (BREACH).
// Tokens signed with an older key keep working after a key rotation and are
// refused once that key is retired.
//
// The zero-config [New] is secure: a __Host- cookie that is Secure,
// HttpOnly, Path=/ and SameSite=Lax. Escape hatches say Insecure in their
// name.
package csrf

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gatehouse/gatehouse/keyring"
)

// Names of the places a token is read from.
const (
	// FieldName is the form field that carries the token.
	FieldName = "csrf_token"
	// HeaderName is the request header that carries the token, for scripts.
	HeaderName = "X-CSRF-Token"
	// CookieName is the default name of the cookie holding the browser
	// secret.
	CookieName = "__Host-gatehouse-csrf"
	// InsecureCookieName is the cookie name used with [InsecureHTTPCookie]:
	// the __Host- prefix requires Secure.
	InsecureCookieName = "gatehouse-csrf"
	// Purpose is the keyring purpose of the MAC that signs tokens.
	Purpose = "csrf"
)

// Failure reasons, returned by [Protector.Check] and [FailureReason].
var (
	// ErrCrossOrigin means the browser sent the request from another origin.
	ErrCrossOrigin = errors.New("csrf: cross-origin request")
	// ErrTokenMissing means the request carries no token.
	ErrTokenMissing = errors.New("csrf: token missing")
	// ErrCookieMissing means the request carries no valid secret cookie.
	ErrCookieMissing = errors.New("csrf: cookie missing")
	// ErrTokenInvalid means the token is malformed, was issued for another
	// cookie or session, or was signed with a retired key.
	ErrTokenInvalid = errors.New("csrf: token invalid")
)

// TokenLen is the length of every token: base64url (no padding) of a
// one-time pad and the signature masked with it.
const TokenLen = (maskedSize*8 + 5) / 6

const (
	secretSize = 32
	// secretLen is the length of the cookie value: base64url of the secret.
	secretLen = (secretSize*8 + 5) / 6
	// maskedSize is a one-time pad followed by the masked signature.
	maskedSize = 2 * keyring.SignatureSize
)

var b64 = base64.RawURLEncoding

// Protector checks requests and issues tokens. Build it with [New]; it is
// safe for concurrent use.
type Protector struct {
	mac          *keyring.MAC
	origins      *http.CrossOriginProtection
	cookieName   string
	secure       bool
	binding      func(*http.Request) string
	exempt       func(*http.Request) bool
	errorHandler http.Handler
}

// Option configures [New].
type Option func(*Protector)

// WithBinding binds tokens to a string taken from the request, typically a
// hash of the session id: a token then only works in the session it was
// issued in, and all tokens change when the user signs in or out. The
// function must return the same string for the request that renders a form
// and the one that submits it.
func WithBinding(fn func(*http.Request) string) Option {
	return func(p *Protector) { p.binding = fn }
}

// WithErrorHandler sets the handler that answers refused requests. It can
// call [FailureReason] to learn why. The default answers 403 with a short
// HTML page.
func WithErrorHandler(h http.Handler) Option {
	return func(p *Protector) { p.errorHandler = h }
}

// WithExempt exempts requests for which fn returns true from both checks,
// for example JSON API calls authenticated by a bearer token, which a
// browser never adds on its own. Exempt requests get no cookie and no
// token.
func WithExempt(fn func(*http.Request) bool) Option {
	return func(p *Protector) { p.exempt = fn }
}

// WithTrustedOrigins lets requests whose Origin header is exactly one of
// origins ("scheme://host[:port]") pass the cross-origin check. They still
// need a valid token. [New] panics if an origin is malformed.
func WithTrustedOrigins(origins ...string) Option {
	return func(p *Protector) {
		for _, o := range origins {
			if err := p.origins.AddTrustedOrigin(o); err != nil {
				panic("csrf: " + err.Error())
			}
		}
	}
}

// InsecureHTTPCookie names the cookie [InsecureCookieName] and drops its
// Secure attribute, so that it works on a plain-http development site.
// Never use it on a site reachable over https.
func InsecureHTTPCookie() Option {
	return func(p *Protector) {
		p.cookieName = InsecureCookieName
		p.secure = false
	}
}

// New returns a Protector that signs tokens with keys from keys (purpose
// "csrf").
func New(keys keyring.Source, opts ...Option) *Protector {
	p := &Protector{
		mac:          keyring.NewMAC(keys, Purpose),
		origins:      http.NewCrossOriginProtection(),
		cookieName:   CookieName,
		secure:       true,
		errorHandler: http.HandlerFunc(defaultError),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type ctxKey int

const (
	secretKey ctxKey = iota
	reasonKey
)

// ctxSecret is the browser secret the middleware found or created for a
// request.
type ctxSecret struct {
	p      *Protector
	secret []byte
}

// Handler returns middleware that refuses forged requests with the error
// handler and passes the others to next. For a request without a valid
// secret cookie it creates a secret and sets the cookie on the response
// before calling next, so that [Protector.Token] works while next renders.
func (p *Protector) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.exempt != nil && p.exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		secret, hadCookie := p.cookieSecret(r)
		if !hadCookie {
			secret = make([]byte, secretSize)
			rand.Read(secret)
			http.SetCookie(w, p.cookie(secret))
		}
		ctx := context.WithValue(r.Context(), secretKey, ctxSecret{p, secret})
		r = r.WithContext(ctx)
		if err := p.check(r, secret, hadCookie); err != nil {
			p.errorHandler.ServeHTTP(w, r.WithContext(context.WithValue(ctx, reasonKey, err)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check reports whether r may proceed, without side effects: nil for safe
// methods (GET, HEAD, OPTIONS) and exempt requests, otherwise nil only when
// r passes the cross-origin check and carries a valid token for its secret
// cookie and binding. The error is one of the failure reasons, possibly
// wrapped.
func (p *Protector) Check(r *http.Request) error {
	if p.exempt != nil && p.exempt(r) {
		return nil
	}
	secret, ok := p.cookieSecret(r)
	return p.check(r, secret, ok)
}

func (p *Protector) check(r *http.Request, secret []byte, hadCookie bool) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if err := p.origins.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCrossOrigin, err)
	}
	token := r.Header.Get(HeaderName)
	if token == "" {
		token = r.PostFormValue(FieldName)
	}
	switch {
	case token == "":
		return ErrTokenMissing
	case !hadCookie:
		return ErrCookieMissing
	}
	return p.verify(token, secret, p.bind(r))
}

// verify checks a masked token against the secret and binding.
func (p *Protector) verify(token string, secret []byte, binding string) error {
	sig, err := unmask(token)
	if err != nil {
		return err
	}
	switch err := p.mac.Verify(message(secret, binding), sig); {
	case errors.Is(err, keyring.ErrUnknownKey):
		return fmt.Errorf("%w: signed with a retired or unknown key", ErrTokenInvalid)
	case err != nil:
		return ErrTokenInvalid
	}
	return nil
}

// Token returns a fresh masked token for r, for a form's csrf_token field
// or a script's X-CSRF-Token header. Every call returns a different string;
// all of them are valid for the same browser and binding. r must have gone
// through [Protector.Handler] (or carry the secret cookie); otherwise, and
// for exempt requests, Token returns "".
func (p *Protector) Token(r *http.Request) string {
	var secret []byte
	if s, ok := r.Context().Value(secretKey).(ctxSecret); ok && s.p == p {
		secret = s.secret
	} else if s, ok := p.cookieSecret(r); ok {
		secret = s
	} else {
		return ""
	}
	return mask(p.mac.Sign(message(secret, p.bind(r))))
}

// Field returns a hidden form input carrying [Protector.Token], for
// html/template: {{.CSRFField}}.
func (p *Protector) Field(r *http.Request) template.HTML {
	// The token is base64url: nothing in it needs escaping.
	return template.HTML(`<input type="hidden" name="` + FieldName + `" value="` + p.Token(r) + `">`)
}

// FailureReason returns why the request given to the error handler was
// refused, or nil outside the error handler.
func FailureReason(r *http.Request) error {
	err, _ := r.Context().Value(reasonKey).(error)
	return err
}

func (p *Protector) bind(r *http.Request) string {
	if p.binding == nil {
		return ""
	}
	return p.binding(r)
}

// cookieSecret returns the browser secret from r's cookie, if the cookie is
// present and well formed.
func (p *Protector) cookieSecret(r *http.Request) ([]byte, bool) {
	c, err := r.Cookie(p.cookieName)
	if err != nil || len(c.Value) != secretLen {
		return nil, false
	}
	secret, err := b64.Strict().DecodeString(c.Value)
	if err != nil || len(secret) != secretSize {
		return nil, false
	}
	return secret, true
}

func (p *Protector) cookie(secret []byte) *http.Cookie {
	return &http.Cookie{
		Name:     p.cookieName,
		Value:    b64.EncodeToString(secret),
		Path:     "/",
		Secure:   p.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// message is what a token signs: the fixed-size secret, then the binding.
func message(secret []byte, binding string) []byte {
	return append(append(make([]byte, 0, len(secret)+len(binding)), secret...), binding...)
}

// mask returns base64url(pad || sig XOR pad) for a fresh random pad.
func mask(sig []byte) string {
	buf := make([]byte, maskedSize)
	pad, masked := buf[:len(sig)], buf[len(sig):]
	rand.Read(pad)
	subtle.XORBytes(masked, sig, pad)
	return b64.EncodeToString(buf)
}

// unmask decodes a token into the signature it masks, bounding its length
// before decoding.
func unmask(token string) ([]byte, error) {
	if len(token) != TokenLen {
		return nil, fmt.Errorf("%w: wrong length", ErrTokenInvalid)
	}
	buf, err := b64.Strict().DecodeString(token)
	if err != nil || len(buf) != maskedSize {
		return nil, fmt.Errorf("%w: not base64url", ErrTokenInvalid)
	}
	half := maskedSize / 2
	sig := make([]byte, half)
	subtle.XORBytes(sig, buf[half:], buf[:half])
	return sig, nil
}

const errorPage = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Request refused</title>
<h1>Request refused</h1>
<p>This form has expired or was sent from another site.
Go back, reload the page and try again.</p>
</html>
`

func defaultError(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, errorPage)
}
