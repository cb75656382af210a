package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/ory/fosite/token/jwt"
)

// LogoutView is the data of the sign-out pages (Page.Data).
type LogoutView struct {
	// Confirm asks the user to confirm; else they are signed out.
	Confirm bool
	// ClientName names the application that asked, if known.
	ClientName string
	// Action is the confirmation form's target.
	Action string
	// Refused is set when the application's return address was not
	// registered: the user is not sent there.
	Refused bool
}

// hintClaims verifies an id_token_hint (signed by one of our keys, issued
// by us; it may have expired) and returns its claims.
func (p *Provider) hintClaims(r *http.Request, hint string) (jwt.MapClaims, bool) {
	if hint == "" || len(hint) > maxTokenLen {
		return nil, false
	}
	t, err := p.signer.Decode(r.Context(), hint)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired) {
		return nil, false
	}
	if t == nil {
		return nil, false
	}
	claims := t.Claims
	if iss, _ := claims["iss"].(string); iss != p.issuer {
		return nil, false
	}
	return claims, true
}

// audience returns the single client an ID token was issued to.
func audience(c jwt.MapClaims) string {
	switch a := c["aud"].(type) {
	case string:
		return a
	case []any:
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}

// Logout is the end_session_endpoint (RP-initiated logout). It signs the
// user out of Gatehouse (and so out of every client) and returns to the
// client's post_logout_redirect_uri only when that address is registered
// for the client exactly. Without an id_token_hint naming the signed-in
// user, the user confirms first (a POST with a CSRF token), so another site
// cannot sign anyone out.
func (p *Provider) Logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Form == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The sign-out request could not be read.")
			return
		}
	}
	if msg, ok := checkParams(r); !ok {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, msg)
		return
	}
	q := r.Form
	claims, hintOK := p.hintClaims(r, q.Get("id_token_hint"))
	if q.Get("id_token_hint") != "" && !hintOK {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The sign-out request carries an ID token this server did not issue.")
		return
	}
	clientID := q.Get("client_id")
	if hintOK {
		aud := audience(claims)
		if clientID != "" && clientID != aud {
			p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "The sign-out request names two different applications.")
			return
		}
		clientID = aud
	}
	var c db.OIDCClient
	if clientID != "" && len(clientID) <= maxClientIDLen {
		var err error
		c, err = p.repo.Client(ctx, clientID)
		if err != nil && !errors.Is(err, db.ErrOIDCNotFound) {
			p.cfg.Browser.Unavailable(w, r, err)
			return
		}
		if c.Disabled() {
			c = db.OIDCClient{}
		}
	}
	target := q.Get("post_logout_redirect_uri")
	redirect := target != "" && c.ID != "" && slices.Contains(c.PostLogoutURIs, target)

	in, signedIn := p.cfg.Browser.SignedIn(r)
	if signedIn {
		sub, _ := claims["sub"].(string)
		if r.Method != http.MethodPost && !(hintOK && sub == Subject(in.User)) {
			pg := p.cfg.Browser.Page(r, "Sign out")
			pg.Data = LogoutView{Confirm: true, ClientName: c.Name, Action: PathLogout + "?" + r.URL.RawQuery}
			p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_logout", pg)
			return
		}
		if err := p.SignedOut(ctx, in.User.ID); err != nil {
			p.cfg.Browser.Unavailable(w, r, err)
			return
		}
		p.cfg.Browser.EndSession(w, r)
	}
	if redirect {
		u, err := url.Parse(target)
		if err == nil {
			if st := q.Get("state"); st != "" {
				v := u.Query()
				v.Set("state", st)
				u.RawQuery = v.Encode()
			}
			p.toClient(w, r, u.String(), c.Name)
			return
		}
	}
	pg := p.cfg.Browser.Page(r, "Signed out")
	pg.User = nil
	pg.Data = LogoutView{ClientName: c.Name, Refused: target != "" && !redirect}
	p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_logout", pg)
}
