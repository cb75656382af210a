package oidc

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/ory/fosite"
)

// ConsentView is the data of the consent page (Page.Data).
type ConsentView struct {
	ClientName string
	// Scopes are the requested scopes with what each releases.
	Scopes []ConsentScope
	// Action is the form's target: the authorization URL.
	Action string
}

// ConsentScope is one scope on the consent page.
type ConsentScope struct {
	Name, Description string
}

// checkParams refuses an authorization request with a repeated, oversized
// or badly encoded parameter before the library sees it.
func checkParams(r *http.Request) (string, bool) {
	if len(r.URL.RawQuery) > maxQueryBytes {
		return "The sign-in request is too large.", false
	}
	for k, vs := range r.Form {
		if len(vs) > 1 {
			return "The sign-in request repeats the parameter " + strconv.Quote(trunc(k)) + ".", false
		}
		if len(k) > 64 || len(vs) == 1 && len(vs[0]) > maxParamLen {
			return "A parameter of the sign-in request is too long.", false
		}
	}
	return "", true
}

func trunc(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}

// Authorize is the authorization endpoint (GET, and POST from the consent
// form).
func (p *Provider) Authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Form == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The sign-in request could not be read.")
			return
		}
	}
	if msg, ok := checkParams(r); !ok {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, msg)
		return
	}
	// The redirect URI of a confidential client matches exactly (the
	// library also lets any loopback port through, which RFC 8252 allows
	// only native, public clients).
	cid := r.Form.Get("client_id")
	c, err := p.repo.Client(ctx, cid)
	switch {
	case cid == "" || len(cid) > maxClientIDLen || errors.Is(err, db.ErrOIDCNotFound) || err == nil && c.Disabled():
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The application that sent you here is not registered with this server.")
		return
	case err != nil:
		p.cfg.Browser.Unavailable(w, r, err)
		return
	case !c.Public && !slices.Contains(c.RedirectURIs, r.Form.Get("redirect_uri")):
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The application asked to send you to an address it did not register.")
		return
	}
	// The consent form's own fields are not part of the request.
	decision := ""
	if r.Method == http.MethodPost {
		decision = r.PostForm.Get("decision")
	}
	for _, k := range []string{"csrf_token", "decision"} {
		r.Form.Del(k)
		r.PostForm.Del(k)
	}
	if rm := r.Form.Get("response_mode"); rm != "" && rm != "query" {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "Unsupported response_mode.")
		return
	}

	ctx = withPKCEPolicy(ctx, c)
	ar, err := p.f.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	none := slices.Contains(prompt, "none")
	here := PathAuthorize + "?" + authorizeQuery(r)

	in, signedIn := p.cfg.Browser.SignedIn(r)
	if !signedIn {
		if none {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired)
			return
		}
		p.toLogin(w, r, here, ar.GetRequestForm().Get("login_hint"))
		return
	}
	now := p.now()
	// prompt=login and an exceeded max_age ask for a fresh sign-in: this
	// session ends, and the user signs in again and comes back here
	// without prompt=login.
	maxAge, _ := strconv.ParseInt(ar.GetRequestForm().Get("max_age"), 10, 64)
	stale := maxAge > 0 && in.AuthAt.Add(time.Duration(maxAge)*time.Second).Before(now)
	if slices.Contains(prompt, "login") || stale {
		if none {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired)
			return
		}
		p.cfg.Browser.EndSession(w, r)
		p.toLogin(w, r, PathAuthorize+"?"+withoutPromptLogin(r), ar.GetRequestForm().Get("login_hint"))
		return
	}
	u := in.User
	// Per-client policy: roles, then the second factor.
	if len(c.Roles) > 0 && !slices.ContainsFunc(c.Roles, func(role string) bool { return slices.Contains(roleNames(u), role) }) {
		if none {
			p.authorizeError(w, r, ar, fosite.ErrAccessDenied)
			return
		}
		p.denied(w, r, ar, c.Name)
		return
	}
	if c.Require2FA && !slices.Contains(in.AMR, "mfa") {
		if none {
			p.authorizeError(w, r, ar, fosite.ErrInteractionRequired.WithHint("This application requires two-factor sign-in."))
			return
		}
		http.Redirect(w, r, "/login/step-up?next="+url.QueryEscape(here), http.StatusSeeOther)
		return
	}
	requested := []string(ar.GetRequestedScopes())
	if !c.SkipConsent {
		switch decision {
		case "deny":
			p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user refused."))
			return
		case "allow":
			if err := p.saveConsent(ctx, u.ID, c.ID, requested); err != nil {
				p.cfg.Browser.Unavailable(w, r, err)
				return
			}
		default:
			ok, err := p.consented(ctx, u.ID, c.ID, requested)
			if err != nil {
				p.cfg.Browser.Unavailable(w, r, err)
				return
			}
			if !ok || slices.Contains(prompt, "consent") {
				if none {
					p.authorizeError(w, r, ar, fosite.ErrConsentRequired)
					return
				}
				p.showConsent(w, r, c, requested)
				return
			}
		}
	}

	for _, s := range requested {
		ar.GrantScope(s)
	}
	ar.GrantAudience(c.ID)
	sess := p.newUserSession(in, ar, now)
	resp, err := p.f.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", p.issuer)
	rec := &captureWriter{header: http.Header{}}
	p.f.WriteAuthorizeResponse(ctx, rec, ar, resp)
	p.toClient(w, r, rec.header.Get("Location"), c.Name)
}

// ContinueView is the data of the page that continues to a client.
type ContinueView struct {
	ClientName string
	// URL is the client's registered redirect URI with the response (it may
	// have a private-use scheme, so it is marked safe: the library checked
	// it against the registration).
	URL template.URL
}

// toClient sends the browser to the client. A navigation that comes from
// one of Gatehouse's own forms (sign-in, step-up, consent: Sec-Fetch-Site
// same-origin) may not be redirected to another origin (the pages' CSP has
// form-action 'self', which browsers apply to redirects too), so it gets a
// page that continues there; any other gets a 303.
func (p *Provider) toClient(w http.ResponseWriter, r *http.Request, location, name string) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get("Sec-Fetch-Site") != "same-origin" {
		http.Redirect(w, r, location, http.StatusSeeOther)
		return
	}
	pg := p.cfg.Browser.Page(r, "Continue to "+name)
	pg.Data = ContinueView{ClientName: name, URL: template.URL(location)}
	p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_continue", pg)
}

// authorizeQuery is the query of the authorization request, without the
// consent form's own fields.
func authorizeQuery(r *http.Request) string {
	q := r.URL.Query()
	q.Del("csrf_token")
	q.Del("decision")
	return q.Encode()
}

func withoutPromptLogin(r *http.Request) string {
	q := r.URL.Query()
	var keep []string
	for _, v := range strings.Fields(q.Get("prompt")) {
		if v != "login" {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		q.Del("prompt")
	} else {
		q.Set("prompt", strings.Join(keep, " "))
	}
	q.Del("max_age")
	q.Del("csrf_token")
	q.Del("decision")
	return q.Encode()
}

func (p *Provider) toLogin(w http.ResponseWriter, r *http.Request, next, hint string) {
	target := "/login?next=" + url.QueryEscape(next)
	if hint != "" && len(hint) <= 320 {
		target += "&email=" + url.QueryEscape(hint)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (p *Provider) newUserSession(in SignIn, ar fosite.AuthorizeRequester, now time.Time) *Session {
	u := in.User
	sess := newSession()
	sub := Subject(u)
	amr := in.AMR
	if len(amr) == 0 {
		amr = []string{"pwd"}
	}
	sess.Subject, sess.Username = sub, u.Email
	sess.UserID, sess.AuthAt, sess.AMR = u.ID, in.AuthAt, amr
	sess.Claims.Subject = sub
	sess.Claims.Issuer = p.issuer
	sess.Claims.AuthTime = in.AuthAt.UTC().Truncate(time.Second)
	sess.Claims.RequestedAt = now.UTC()
	sess.Claims.AuthenticationMethodsReferences = amr
	sess.Claims.AuthenticationContextClassReference = acrOf(amr)
	sess.Claims.Extra = userClaims(u, ar.GetGrantedScopes(), p.issuer)
	sess.JWTClaims.Subject = sub
	sess.JWTClaims.Extra = map[string]any{"client_id": ar.GetClient().GetID()}
	return sess
}

// consented reports whether the user already granted the client every
// requested scope.
func (p *Provider) consented(ctx context.Context, userID int64, clientID string, scopes []string) (bool, error) {
	c, err := p.repo.Consent(ctx, userID, clientID)
	if errors.Is(err, db.ErrOIDCNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false, nil
		}
	}
	return true, nil
}

func (p *Provider) saveConsent(ctx context.Context, userID int64, clientID string, scopes []string) error {
	now := p.now()
	all := slices.Clone(scopes)
	if prev, err := p.repo.Consent(ctx, userID, clientID); err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	} else if !errors.Is(err, db.ErrOIDCNotFound) {
		return err
	}
	return p.repo.SaveConsent(ctx, db.OIDCConsent{UserID: userID, ClientID: clientID, Scopes: all, CreatedAt: now, UpdatedAt: now})
}

func (p *Provider) showConsent(w http.ResponseWriter, r *http.Request, c db.OIDCClient, scopes []string) {
	v := ConsentView{ClientName: c.Name, Action: PathAuthorize + "?" + authorizeQuery(r)}
	for _, s := range scopes {
		v.Scopes = append(v.Scopes, ConsentScope{Name: s, Description: scopeDescriptions[s]})
	}
	pg := p.cfg.Browser.Page(r, "Allow "+c.Name+"?")
	pg.Data = v
	w.Header().Set("X-Frame-Options", "DENY")
	p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_consent", pg)
}

// DeniedView is the data of the page shown to a user a client's roles
// exclude.
type DeniedView struct {
	ClientName string
	// ReturnURL sends access_denied back to the application.
	ReturnURL string
}

func (p *Provider) denied(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, name string) {
	rec := &captureWriter{header: http.Header{}}
	p.f.WriteAuthorizeError(r.Context(), rec, ar, fosite.ErrAccessDenied.WithHint("The user may not use this application."))
	pg := p.cfg.Browser.Page(r, "Access denied")
	pg.Data = DeniedView{ClientName: name, ReturnURL: withIss(rec.header.Get("Location"), p.issuer)}
	p.cfg.Browser.Show(w, r, http.StatusForbidden, "oidc_denied", pg)
}

// captureWriter records what the library would answer.
type captureWriter struct {
	header http.Header
	status int
	body   []byte
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	c.body = append(c.body, b...)
	return len(b), nil
}
func (c *captureWriter) WriteHeader(s int) { c.status = s }

// authorizeError answers a refused authorization request: to the client's
// redirect URI (with iss) when it was verified, else an error page, never
// a redirect. A backend failure is a 503 page.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField == fosite.ErrServerError.ErrorField {
		p.cfg.Browser.Unavailable(w, r, err)
		return
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		msg := "The sign-in request is not valid"
		if h := rfc.HintField; h != "" && len(h) < 300 {
			msg += ": " + h
		}
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, msg)
		return
	}
	rec := &captureWriter{header: http.Header{}}
	p.f.WriteAuthorizeError(r.Context(), rec, ar, err)
	loc := rec.header.Get("Location")
	if loc == "" {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The sign-in request is not valid.")
		return
	}
	name := ar.GetClient().GetID()
	if c, ok := ar.GetClient().(*client); ok {
		name = c.c.Name
	}
	p.toClient(w, r, withIss(loc, p.issuer), name)
}

func roleNames(u account.User) []string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = string(r)
	}
	return out
}
