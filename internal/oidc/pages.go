package oidc

import (
	"errors"
	"net/http"
	"time"
)

// Access says which middleware chain a route needs.
type Access int

// The chains.
const (
	// Machine routes are called by applications: no session, no CSRF.
	Machine Access = iota
	// Page routes run with the session and CSRF protection.
	Page

	// SignedIn routes also require a signed-in user.
	SignedIn
	// Admin routes require the admin role.
	Admin
)

// Route is one route of the provider.
type Route struct {
	Method, Path string
	Access       Access
	Handler      http.HandlerFunc
}

// Routes lists every route of the provider. /.well-known/jwks.json is not
// among them: the server's JWKS publishes [Keys.JWKS] beside its other
// keys.
func (p *Provider) Routes() []Route {
	return []Route{
		{http.MethodGet, PathDiscovery, Machine, p.DiscoveryHandler},
		{http.MethodPost, PathToken, Machine, p.Token},
		{http.MethodGet, PathUserInfo, Machine, p.UserInfo},
		{http.MethodPost, PathUserInfo, Machine, p.UserInfo},
		{http.MethodPost, PathRevoke, Machine, p.Revoke},
		{http.MethodGet, PathAuthorize, Page, p.Authorize},
		{http.MethodPost, PathAuthorize, Page, p.Authorize},
		{http.MethodGet, PathLogout, Page, p.Logout},
		{http.MethodPost, PathLogout, Page, p.Logout},
		{http.MethodGet, "/account/apps", SignedIn, p.ConnectedApps},
		{http.MethodPost, "/account/apps/revoke", SignedIn, p.RevokeApp},
		{http.MethodGet, "/admin/clients", Admin, p.AdminClients},
		{http.MethodPost, "/admin/clients/{id}/disable", Admin, p.AdminDisableClient},
	}
}

// AppsView is the data of the connected apps page.
type AppsView struct{ Apps []ConnectedApp }

// ConnectedApp is one application the user allowed.
type ConnectedApp struct {
	ClientID, Name string
	Scopes         []string
	At             time.Time
}

// ConnectedApps lists the applications the signed-in user consented to.
func (p *Provider) ConnectedApps(w http.ResponseWriter, r *http.Request) {
	in, ok := p.cfg.Browser.SignedIn(r)
	if !ok {
		http.Redirect(w, r, "/login?next=%2Faccount%2Fapps", http.StatusSeeOther)
		return
	}
	cs, err := p.repo.Consents(r.Context(), in.User.ID)
	if err != nil {
		p.cfg.Browser.Unavailable(w, r, err)
		return
	}
	var v AppsView
	for _, c := range cs {
		name := c.ClientID
		if cl, err := p.repo.Client(r.Context(), c.ClientID); err == nil {
			name = cl.Name
		}
		v.Apps = append(v.Apps, ConnectedApp{ClientID: c.ClientID, Name: name, Scopes: c.Scopes, At: c.UpdatedAt})
	}
	pg := p.cfg.Browser.Page(r, "Connected apps")
	pg.Data = v
	p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_apps", pg)
}

// RevokeApp disconnects an application: its consent is forgotten and every
// token it holds for the user stops working.
func (p *Provider) RevokeApp(w http.ResponseWriter, r *http.Request) {
	in, ok := p.cfg.Browser.SignedIn(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	id := r.PostFormValue("client_id")
	if id == "" || len(id) > maxClientIDLen {
		p.cfg.Browser.ErrorPage(w, r, http.StatusBadRequest, "No application was named.")
		return
	}
	if err := p.repo.RevokeConsent(r.Context(), in.User.ID, id); err != nil {
		p.cfg.Browser.Unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/apps", http.StatusSeeOther)
}

// ClientsView is the data of the admin clients page.
type ClientsView struct{ Clients []Client }

// AdminClients lists the registered clients.
func (p *Provider) AdminClients(w http.ResponseWriter, r *http.Request) {
	cs, err := p.clients.List(r.Context())
	if err != nil {
		p.cfg.Browser.Unavailable(w, r, err)
		return
	}
	pg := p.cfg.Browser.Page(r, "OpenID Connect clients")
	pg.Data = ClientsView{Clients: cs}
	p.cfg.Browser.Show(w, r, http.StatusOK, "oidc_clients", pg)
}

// AdminDisableClient disables a client.
func (p *Provider) AdminDisableClient(w http.ResponseWriter, r *http.Request) {
	err := p.clients.Disable(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, ErrClientNotFound):
		p.cfg.Browser.ErrorPage(w, r, http.StatusNotFound, "There is no such client.")
	case err != nil:
		p.cfg.Browser.Unavailable(w, r, err)
	default:
		http.Redirect(w, r, "/admin/clients", http.StatusSeeOther)
	}
}
