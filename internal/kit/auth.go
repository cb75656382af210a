package kit

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
)

// DefaultNext is where a sign-in leads when `next` is missing or unsafe.
const DefaultNext = "/dashboard"

// RequireLogin sends anonymous visitors to the sign-in page (303),
// remembering where they wanted to go.
func (k *Kit) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); !ok {
			target := "/login"
			if r.Method == http.MethodGet {
				if n := SafeNext(r.URL.RequestURI()); n != DefaultNext || r.URL.Path == DefaultNext {
					target += "?next=" + url.QueryEscape(n)
				}
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireRole answers 403 unless the signed-in user holds the role (and
// sends anonymous visitors to sign in first).
func (k *Kit) RequireRole(role account.Role, next http.Handler) http.Handler {
	return k.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		if !u.HasRole(role) {
			k.ErrorPage(w, r, http.StatusForbidden, "You do not have access to this page.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// SafeNext returns next when it is a plain local path on this site, and
// DefaultNext otherwise. Open redirects hide in the details: `//host` and
// `/\host` are protocol-relative for browsers, schemes and encoded or
// control characters can smuggle either past a naive check.
func SafeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' {
		return DefaultNext
	}
	for i := 0; i < len(next); i++ {
		c := next[i]
		if c < 0x21 || c == 0x7f || c == '\\' || c >= 0x80 {
			return DefaultNext
		}
	}
	if strings.HasPrefix(next, "//") {
		return DefaultNext
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return DefaultNext
	}
	// The decoded path must be just as plain: %2F%2F, %5C, %00 and friends.
	dec := u.Path
	if strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00\r\n\t") || !strings.HasPrefix(dec, "/") {
		return DefaultNext
	}
	if strings.Contains(strings.ToLower(u.RawQuery), "%0d") || strings.Contains(strings.ToLower(u.RawQuery), "%0a") {
		return DefaultNext
	}
	// Never back to the sign-in machinery itself.
	for _, p := range []string{"/login", "/logout", "/register"} {
		if dec == p || strings.HasPrefix(dec, p+"/") {
			return DefaultNext
		}
	}
	return u.RequestURI()
}

// Next is SafeNext that also accepts the absolute URLs Config.ExternalNext
// accepts (forward-auth: https URLs on a protected host), for `next` on
// sign-in, the second factor, step-up and sign-out. Anything else is
// DefaultNext, as strictly as SafeNext.
func (k *Kit) Next(next string) string {
	if local := SafeNext(next); local != DefaultNext || k.cfg.ExternalNext == nil {
		return local
	}
	if abs, ok := k.cfg.ExternalNext(next); ok {
		return abs
	}
	return DefaultNext
}

// GoNext sends the browser on to next (from Next) once a form was
// accepted: a 303 for a local path. For an absolute URL (an app behind
// forward-auth) it answers a page that moves on with a Refresh header and a
// link instead, because browsers apply the form-action Content Security
// Policy ('self') to the redirects that follow a form submission, and
// would block a 303 to another origin.
func (k *Kit) GoNext(w http.ResponseWriter, r *http.Request, next string) {
	if strings.HasPrefix(next, "/") {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	w.Header().Set("Refresh", "0;url="+next)
	p := k.Page(r, "Continue")
	p.Data = web.Continue{URL: next}
	k.Show(w, r, http.StatusOK, "continue", p)
}

// AMRKey is the session key of the authentication methods used to sign the
// session in (RFC 8176 values, space-separated).
const AMRKey = "amr"

// The RFC 8176 authentication method references the session may hold.
const (
	AMRPassword = "pwd" // a password
	AMROTP      = "otp" // a one-time code: TOTP or a recovery code
	AMRHardware = "hwk" // a hardware-bound key (a passkey)
	AMRMFA      = "mfa" // more than one factor
)

// AMR returns how the request's session signed in (RFC 8176 values, kept
// in the session under "amr"): "pwd" after a password, "otp" added after
// TOTP or a recovery code, "hwk" for a passkey, "mfa" whenever two factors
// were used. It is nil without a session or a record.
func AMR(r *http.Request) []string {
	sess := session.FromContext(r.Context())
	if sess == nil {
		return nil
	}
	return strings.Fields(sess.Get(AMRKey))
}

// TwoFactorDone reports whether the session signed in with two factors
// (its amr contains "mfa").
func TwoFactorDone(r *http.Request) bool { return slices.Contains(AMR(r), AMRMFA) }

// AddAMR adds values to the session's amr, each once, keeping the order.
func AddAMR(r *http.Request, values ...string) {
	sess := session.FromContext(r.Context())
	if sess == nil {
		return
	}
	cur := strings.Fields(sess.Get(AMRKey))
	for _, v := range values {
		if v != "" && !strings.ContainsAny(v, " \t\r\n") && !slices.Contains(cur, v) {
			cur = append(cur, v)
		}
	}
	sess.Put(AMRKey, strings.Join(cur, " "))
}

// SetAMR replaces the session's amr with values: at sign-in, where earlier
// methods no longer count.
func SetAMR(r *http.Request, values ...string) {
	if sess := session.FromContext(r.Context()); sess != nil {
		sess.Remove(AMRKey)
		AddAMR(r, values...)
	}
}
