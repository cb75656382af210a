package oidc

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/session"
)

// KitBrowser is the [Browser] of a server built on the page kit: the
// signed-in user of the kit's request state, the session's sign-in time and
// amr, the kit's pages.
func KitBrowser(k *kit.Kit) Browser { return kitBrowser{k} }

type kitBrowser struct{ *kit.Kit }

func (b kitBrowser) SignedIn(r *http.Request) (SignIn, bool) {
	u, ok := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	if !ok || sess == nil {
		return SignIn{}, false
	}
	return SignIn{User: u, AuthAt: sess.AuthAt(), AMR: kit.AMR(r)}, true
}

func (b kitBrowser) EndSession(_ http.ResponseWriter, r *http.Request) {
	if sess := session.FromContext(r.Context()); sess != nil {
		sess.Destroy()
	}
}
