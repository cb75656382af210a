// Package admin is the administration feature: the list of accounts
// (/admin/users) and disabling, enabling and signing out an account. It
// imports the kit, internal/account, internal/web and ring 1; never another
// feature or internal/app.
package admin

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
)

// Feature serves the administration pages.
type Feature struct {
	k *kit.Kit
}

// New builds the feature.
func New(k *kit.Kit) *Feature { return &Feature{k: k} }

// adminUsersPageSize is the number of users per admin page.
const adminUsersPageSize = 50

// Users lists the accounts, 50 a page, optionally searched by q.
func (f *Feature) Users(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	q := r.Form.Get("q")
	if len(q) > kit.MaxEmailField {
		q = q[:kit.MaxEmailField]
	}
	page, _ := strconv.Atoi(r.Form.Get("page"))
	page = max(page, 1)
	res, err := f.k.Accounts().ListUsers(r.Context(), page, adminUsersPageSize, q)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	data := web.AdminUsers{}
	for _, u := range res.Users {
		roles := make([]string, len(u.Roles))
		for i, r := range u.Roles {
			roles[i] = string(r)
		}
		data.Users = append(data.Users, web.AdminUser{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Roles: roles,
			EmailVerified: u.EmailVerified(), Disabled: u.Disabled(), CreatedAt: u.CreatedAt})
	}
	link := func(n int) string {
		return "/admin/users?" + kit.URLValues("q", q, "page", strconv.Itoa(n))
	}
	if page > 1 {
		data.PrevURL = link(page - 1)
	}
	if page < res.Pages() {
		data.NextURL = link(page + 1)
	}
	p := f.k.Page(r, "Users")
	p.Form["q"] = q
	p.Data = data
	f.k.Show(w, r, http.StatusOK, "admin_users", p)
}

// Disable disables an account and ends its sessions.
func (f *Feature) Disable(w http.ResponseWriter, r *http.Request) { f.setDisabled(w, r, true) }

// Enable enables an account.
func (f *Feature) Enable(w http.ResponseWriter, r *http.Request) { f.setDisabled(w, r, false) }

// setDisabled disables or enables an account. Disabling ends every
// session and token of the user at once.
func (f *Feature) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	admin, _ := kit.UserFrom(r.Context())
	id, ok := kit.PathID(r)
	if !ok {
		f.k.ErrorPage(w, r, http.StatusNotFound, "")
		return
	}
	if err := f.k.Accounts().SetDisabled(r.Context(), admin, id, disabled, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if disabled {
		f.k.EndAllSessions(r.Context(), id)
		kit.Flash(r, "success", "The account was disabled and its sessions ended.")
	} else {
		kit.Flash(r, "success", "The account was enabled.")
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// RevokeSessions ends every session and API token of a user.
func (f *Feature) RevokeSessions(w http.ResponseWriter, r *http.Request) {
	admin, _ := kit.UserFrom(r.Context())
	id, ok := kit.PathID(r)
	if !ok {
		f.k.ErrorPage(w, r, http.StatusNotFound, "")
		return
	}
	if _, err := f.k.Accounts().RevokeSessions(r.Context(), id, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	f.k.EndAllSessions(r.Context(), id)
	_ = admin
	kit.Flash(r, "success", "Every session of that user was ended.")
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}
