package app

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

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.k.Show(w, r, http.StatusOK, "dashboard", s.k.Page(r, "Dashboard"))
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.k.Show(w, r, http.StatusOK, "account", s.k.Page(r, "Account"))
}

// changePassword needs the current password. It renews this session's id
// and ends every other session of the user.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		s.k.FormError(w, r, err)
		return
	}
	u, _ := kit.UserFrom(r.Context())
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	p := s.k.Page(r, "Account")
	if len(current) > kit.MaxPasswordField || len(next) > kit.MaxPasswordField {
		p.Errors["new_password"] = "Use at most 256 characters."
		s.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	}
	updated, err := s.d.accounts.ChangePassword(r.Context(), u.ID, current, next, s.k.Meta(r))
	var verr *account.ValidationError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.Fields
		s.k.Show(w, r, http.StatusUnprocessableEntity, "account", p)
		return
	case err != nil:
		s.k.Fail(w, r, err)
		return
	}
	sess := session.FromContext(r.Context())
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := s.d.sessions.RevokeAll(r.Context(), strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		// The cut-off already refuses the other sessions; deleting them is tidying.
		kit.Logger(r.Context()).Warn("revoke other sessions", "err", err)
	}
	s.d.email.AfterPasswordChange(r.Context(), updated)
	kit.Flash(r, "success", "Your password was changed. You were signed out everywhere else.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func rowFromInfo(in session.Info, current string) web.SessionRow {
	b, o := kit.DescribeAgent(in.UserAgent)
	return web.SessionRow{Handle: in.Handle, Browser: b, OS: o, IP: in.IP, CreatedAt: in.CreatedAt,
		LastSeen: in.LastSeen, Current: in.Handle == current, Remember: in.Remember}
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	p := s.k.Page(r, "Your sessions")
	data := web.Sessions{CanList: true}
	infos, err := s.d.sessions.List(r.Context(), strconv.FormatInt(u.ID, 10))
	switch {
	case errors.Is(err, session.ErrNotSupported):
		data.CanList = false
		data.CurrentOnly = rowFromInfo(sess.Info(), sess.Handle())
		data.CurrentOnly.Current = true
	case err != nil:
		s.k.Fail(w, r, err)
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
	s.k.Show(w, r, http.StatusOK, "sessions", p)
}

// revokeSession ends one of the user's sessions, found by its handle.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) {
	if err := kit.ParseForm(w, r, kit.MaxFormBytes); err != nil {
		s.k.FormError(w, r, err)
		return
	}
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	handle := r.PostForm.Get("session_id")
	if !session.ValidHandle(handle) {
		s.k.ErrorPage(w, r, http.StatusBadRequest, "That session id is not valid.")
		return
	}
	err := s.d.sessions.RevokeOne(r.Context(), strconv.FormatInt(u.ID, 10), handle)
	switch {
	case errors.Is(err, session.ErrNotFound):
		kit.Flash(r, "info", "That session had already ended.")
	case errors.Is(err, session.ErrNotSupported):
		s.k.ErrorPage(w, r, http.StatusBadRequest, "This server cannot end single sessions; use “Sign out everywhere else”.")
		return
	case err != nil:
		s.k.Fail(w, r, err)
		return
	default:
		_ = s.d.accounts.Record(r.Context(), account.Event{Name: account.EventLogout, Outcome: account.OutcomeSuccess,
			UserID: u.ID, IP: s.k.IP(r), UserAgent: r.UserAgent(), Detail: "session ended from the sessions page"})
		if handle == sess.Handle() {
			sess.Destroy()
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		kit.Flash(r, "success", "The session was ended.")
	}
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}

// revokeOtherSessions ends every session of the user but this one, on every
// store: the per-user cut-off catches even encrypted-cookie sessions.
func (s *Server) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	if _, err := s.d.accounts.RevokeSessions(r.Context(), u.ID, s.k.Meta(r)); err != nil {
		s.k.Fail(w, r, err)
		return
	}
	sess.Login(strconv.FormatInt(u.ID, 10), sess.Remember())
	if _, err := s.d.sessions.RevokeAll(r.Context(), strconv.FormatInt(u.ID, 10), sess.Handle()); err != nil && !errors.Is(err, session.ErrNotSupported) {
		kit.Logger(r.Context()).Warn("revoke other sessions", "err", err)
	}
	kit.Flash(r, "success", "You were signed out everywhere else.")
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}
