package signin

import (
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
)

// Dashboard is the signed-in home page.
func (f *Feature) Dashboard(w http.ResponseWriter, r *http.Request) {
	f.k.Show(w, r, http.StatusOK, "dashboard", f.k.Page(r, "Dashboard"))
}

// Account is the account page.
func (f *Feature) Account(w http.ResponseWriter, r *http.Request) {
	f.k.Show(w, r, http.StatusOK, "account", f.k.AccountPage(r, "Account"))
}

// ChangePassword needs the current password. It renews this session's id
// and ends every other session of the user.
func (f *Feature) ChangePassword(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	u, _ := kit.UserFrom(r.Context())
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	p := f.k.AccountPage(r, "Account")
	if len(current) > kit.MaxPasswordField || len(next) > kit.MaxPasswordField {
		p.Errors["new_password"] = "Use at most 256 characters."
		f.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	}
	updated, err := f.k.Accounts().ChangePassword(r.Context(), u.ID, current, next, f.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields
		f.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	sess := session.FromContext(r.Context())
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := f.k.Sessions().RevokeAll(r.Context(), strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		// The cut-off already refuses the other sessions; deleting them is tidying.
		kit.Logger(r.Context()).Warn("revoke other sessions", "err", err)
	}
	f.c.AfterPasswordChange(r.Context(), updated)
	kit.Flash(r, "success", "Your password was changed. You were signed out everywhere else.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func rowFromInfo(in session.Info, current string) web.SessionRow {
	b, o := kit.DescribeAgent(in.UserAgent)
	return web.SessionRow{Handle: in.Handle, Browser: b, OS: o, IP: in.IP, CreatedAt: in.CreatedAt,
		LastSeen: in.LastSeen, Current: in.Handle == current, Remember: in.Remember}
}

// Sessions lists the user's active sessions.
func (f *Feature) Sessions(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	p := f.k.Page(r, "Your sessions")
	data := web.Sessions{CanList: true}
	infos, err := f.k.Sessions().List(r.Context(), strconv.FormatInt(u.ID, 10))
	switch {
	case errors.Is(err, session.ErrNotSupported):
		data.CanList = false
		data.CurrentOnly = rowFromInfo(sess.Info(), sess.Handle())
		data.CurrentOnly.Current = true
	case err != nil:
		f.k.Fail(w, r, err)
		return
	}
	for _, in := range infos {
		if !u.SessionValid(in.AuthAt) {
			continue // cut off by a password change or sign-out everywhere
		}
		data.Sessions = append(data.Sessions, rowFromInfo(in, sess.Handle()))
	}
	sort.SliceStable(data.Sessions, func(i, j int) bool {
		a, b := data.Sessions[i], data.Sessions[j]
		if a.Current != b.Current {
			return a.Current
		}
		return a.LastSeen.After(b.LastSeen)
	})
	p.Data = data
	f.k.Show(w, r, http.StatusOK, "sessions", p)
}

// RevokeSession ends one of the user's sessions, found by its handle.
func (f *Feature) RevokeSession(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		f.k.FormError(w, r, err)
		return
	}
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	handle := r.PostForm.Get("session_id")
	if !session.ValidHandle(handle) {
		f.k.ErrorPage(w, r, http.StatusBadRequest, "That session id is not valid.")
		return
	}
	err := f.k.Sessions().RevokeOne(r.Context(), strconv.FormatInt(u.ID, 10), handle)
	switch {
	case errors.Is(err, session.ErrNotFound):
		kit.Flash(r, "info", "That session had already ended.")
	case errors.Is(err, session.ErrNotSupported):
		f.k.ErrorPage(w, r, http.StatusBadRequest, "This server cannot end single sessions; use “Sign out everywhere else”.")
		return
	case err != nil:
		f.k.Fail(w, r, err)
		return
	default:
		_ = f.k.Accounts().Record(r.Context(), account.Event{Name: account.EventLogout, Outcome: account.OutcomeSuccess,
			UserID: u.ID, IP: f.k.IP(r), UserAgent: r.UserAgent(), Detail: "session ended from the sessions page"})
		if handle == sess.Handle() {
			sess.Destroy()
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		kit.Flash(r, "success", "The session was ended.")
	}
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}

// RevokeOtherSessions ends every session of the user but this one, on every
// store: the per-user cut-off catches even encrypted-cookie sessions.
func (f *Feature) RevokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	if _, err := f.k.Accounts().RevokeSessions(r.Context(), u.ID, f.k.Meta(r)); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := f.k.Sessions().RevokeAll(r.Context(), strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		kit.Logger(r.Context()).Warn("revoke other sessions", "err", err)
	}
	kit.Flash(r, "success", "You were signed out everywhere else.")
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}
