package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/oidc"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/session"
)

// Server is Gatehouse's HTTP side: handlers and the dependencies they use.
type Server struct {
	d       *deps
	cfg     *Config
	log     *slog.Logger
	render  *web.Renderer
	csrf    *csrf.Protector
	headers *secheaders.Headers
	now     func() time.Time
	oidc    *oidc.Provider
}

// NewServer builds the HTTP handler of a Gatehouse instance.
func NewServer(d *deps) (*Server, http.Handler, error) {
	r, err := web.NewRenderer()
	if err != nil {
		return nil, nil, err
	}
	s := &Server{d: d, cfg: d.cfg, log: d.log, render: r, now: d.now}
	hopts := []secheaders.Option{}
	if d.cfg.Secure() {
		hopts = append(hopts, secheaders.WithHSTS())
	}
	s.headers = secheaders.New(hopts...)
	copts := []csrf.Option{
		csrf.WithErrorHandler(http.HandlerFunc(s.csrfFailed)),
		// A token is bound to the session once there is one, so it changes
		// at sign-in and dies with the session.
		csrf.WithBinding(func(r *http.Request) string {
			if sess := session.FromContext(r.Context()); sess != nil && sess.UserID() != "" {
				return sess.Handle()
			}
			return ""
		}),
	}
	if !d.cfg.Secure() {
		copts = append(copts, csrf.InsecureHTTPCookie())
	}
	s.csrf = csrf.New(d.keys, copts...)
	if s.oidc, err = newOIDC(context.Background(), s); err != nil {
		return nil, nil, err
	}
	return s, s.routes(), nil
}

// userFrom returns the signed-in user of the request, if any.
func userFrom(ctx context.Context) (account.User, bool) {
	if rs := stateFrom(ctx); rs != nil && rs.signedIn != nil {
		return *rs.signedIn, true
	}
	return account.User{}, false
}

// meta describes the client for audit events.
func (s *Server) meta(r *http.Request) account.Meta {
	return account.Meta{IP: s.d.clientIP(r), UserAgent: r.UserAgent()}
}

// loadUser resolves the session's user. A session whose user is gone,
// disabled, or signed out everywhere since it was created is ended: the
// visitor is simply anonymous. A database failure is a 503, never a guess.
func (s *Server) loadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.FromContext(r.Context())
		if sess == nil || sess.UserID() == "" {
			next.ServeHTTP(w, r)
			return
		}
		id, err := strconv.ParseInt(sess.UserID(), 10, 64)
		if err != nil || id <= 0 {
			sess.Destroy()
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.userByID(r.Context(), id)
		switch {
		case errors.Is(err, account.ErrNotFound):
			sess.Destroy()
		case err != nil:
			s.unavailable(w, r, err)
			return
		case !u.SessionValid(sess.AuthAt()):
			sess.Destroy()
		default:
			if rs := stateFrom(r.Context()); rs != nil {
				rs.signedIn = &u
			}
		}
		next.ServeHTTP(w, r)
	})
}

// userByID returns the user the session store read with the session, or
// reads it.
func (s *Server) userByID(ctx context.Context, id int64) (account.User, error) {
	if rs := stateFrom(ctx); rs != nil && rs.fetched != nil {
		u := *rs.fetched
		rs.fetched = nil
		if u.ID == id {
			return u, nil
		}
	}
	return s.d.accounts.UserByID(ctx, id)
}

// keepSessionUser is the session store's hand-over of the user it read
// with the session (see db.SessionStore).
func keepSessionUser(ctx context.Context, u account.User) {
	if rs := stateFrom(ctx); rs != nil {
		rs.fetched = &u
	}
}

// requireLogin sends anonymous visitors to the sign-in page, remembering
// where they wanted to go.
func (s *Server) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := userFrom(r.Context()); !ok {
			target := "/login"
			if r.Method == http.MethodGet {
				if n := kit.SafeNext(r.URL.RequestURI()); n != kit.DefaultNext || r.URL.Path == kit.DefaultNext {
					target += "?next=" + urlQueryEscape(n)
				}
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireRole answers 403 unless the signed-in user holds the role.
func (s *Server) requireRole(role account.Role, next http.Handler) http.Handler {
	return s.requireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := userFrom(r.Context())
		if !u.HasRole(role) {
			s.errorPage(w, r, http.StatusForbidden, "You do not have access to this page.")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// page returns the common data of a page for this request.
func (s *Server) page(r *http.Request, title string) *web.Page {
	p := &web.Page{
		Title:     title,
		CSRFToken: s.csrf.Token(r),
		Nonce:     secheaders.Nonce(r.Context()),
		Dev:       s.cfg.Dev,
		Form:      map[string]string{},
		Errors:    map[string]string{},
	}
	if u, ok := userFrom(r.Context()); ok {
		p.User = userView(u)
		p.User.AvatarURL = s.d.avatarURL(u)
		if !u.EmailVerified() {
			p.Banner = "Please confirm your email address: we sent you a link."
		}
	}
	if sess := session.FromContext(r.Context()); sess != nil {
		for _, f := range sess.Flashes() {
			kind, text, ok := strings.Cut(f, ":")
			if !ok {
				kind, text = "info", f
			}
			p.Flashes = append(p.Flashes, web.Flash{Kind: kind, Text: text})
		}
	}
	return p
}

func userView(u account.User) *web.UserView {
	return &web.UserView{
		ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, EmailVerified: u.EmailVerified(),
		IsAdmin: u.IsAdmin(), CreatedAt: u.CreatedAt,
	}
}

// flash queues a message for the next page of this session.
func flash(r *http.Request, kind, text string) {
	if sess := session.FromContext(r.Context()); sess != nil {
		sess.AddFlash(kind + ":" + text)
	}
}

// show renders a page. Pages are never cached: most show account data.
func (s *Server) show(w http.ResponseWriter, r *http.Request, status int, name string, p *web.Page) {
	secheaders.NoStore(w)
	if err := s.render.Render(w, status, name, p); err != nil {
		logger(r.Context()).Error("render", "page", name, "err", err)
		s.plainError(w, http.StatusInternalServerError)
	}
}

var statusMessages = map[int]string{
	http.StatusBadRequest:            "The request could not be understood.",
	http.StatusForbidden:             "You do not have access to this page.",
	http.StatusNotFound:              "There is no page at this address.",
	http.StatusMethodNotAllowed:      "This page does not accept that kind of request.",
	http.StatusRequestEntityTooLarge: "What you sent is too large.",
	http.StatusUnsupportedMediaType:  "That kind of content is not accepted here.",
	http.StatusTooManyRequests:       "Too many attempts. Please wait a little and try again.",
	http.StatusInternalServerError:   "Something went wrong on our side. Please try again.",
	http.StatusServiceUnavailable:    "The service is busy or briefly unavailable. Please try again in a moment.",
}

// errorPage answers status with the error page. The message is for users:
// never an internal detail.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if msg == "" {
		msg = statusMessages[status]
	}
	p := &web.Page{Title: http.StatusText(status), Error: msg, Dev: s.cfg.Dev,
		CSRFToken: s.csrf.Token(r), Nonce: secheaders.Nonce(r.Context())}
	if u, ok := userFrom(r.Context()); ok {
		p.User = userView(u)
		p.User.AvatarURL = s.d.avatarURL(u)
	}
	s.show(w, r, status, "error", p)
}

// plainError is the last resort when even the error page cannot render.
func (s *Server) plainError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}

// unavailable answers 503 when a backend (database, Redis) failed.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	logger(r.Context()).Error("backend unavailable", "err", err)
	w.Header().Set("Retry-After", "5")
	s.errorPage(w, r, http.StatusServiceUnavailable, "")
}

// fail maps an error from the domain to a response.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		return // the client went away
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "2")
		s.errorPage(w, r, http.StatusServiceUnavailable, "The server is busy. Please try again in a moment.")
	case errors.Is(err, account.ErrForbidden), errors.Is(err, account.ErrCannotDisableSelf):
		s.errorPage(w, r, http.StatusForbidden, "")
	case errors.Is(err, account.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "")
	default:
		s.unavailable(w, r, err)
	}
}

// formError answers a form that could not be read.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "")
	case errors.Is(err, errMediaType):
		s.errorPage(w, r, http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded.")
	case errors.Is(err, errRepeatedField):
		s.errorPage(w, r, http.StatusBadRequest, "A field was sent more than once.")
	case errors.Is(err, errBadEncoding):
		s.errorPage(w, r, http.StatusBadRequest, "The form holds characters that are not valid text.")
	default:
		s.errorPage(w, r, http.StatusBadRequest, "")
	}
}

// csrfFailed answers a request the CSRF protection refused, and audits it.
func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	reason := csrf.FailureReason(r)
	var uid int64
	if u, ok := userFrom(r.Context()); ok {
		uid = u.ID
	}
	detail := r.Method + " " + r.URL.Path
	if reason != nil {
		detail += ": " + reason.Error()
	}
	_ = s.d.accounts.Record(r.Context(), account.Event{Name: account.EventCSRFRefused, Outcome: account.OutcomeDenied,
		UserID: uid, IP: s.d.clientIP(r), UserAgent: r.UserAgent(), Detail: detail})
	s.errorPage(w, r, http.StatusForbidden, "This form has expired or was sent from another site. Go back, reload the page and try again.")
}
