package app

import (
	"mime"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/web"
)

// routes lists every route of the server in one place.
//
// Operational routes (health, static files) skip the session entirely, so
// they answer even when the session store is down. Browser pages get the
// full chain: security headers, session, user, CSRF.
func (s *Server) routes() http.Handler {
	pages := http.NewServeMux()
	pages.Handle("GET /{$}", http.HandlerFunc(s.home))
	pages.Handle("GET /register", http.HandlerFunc(s.registerForm))
	pages.Handle("POST /register", http.HandlerFunc(s.register))
	pages.Handle("GET /login", http.HandlerFunc(s.loginForm))
	pages.Handle("POST /login", http.HandlerFunc(s.login))
	pages.Handle("POST /logout", http.HandlerFunc(s.logout))

	pages.Handle("GET /dashboard", s.requireLogin(http.HandlerFunc(s.dashboard)))
	pages.Handle("GET /account", s.requireLogin(http.HandlerFunc(s.accountPage)))
	pages.Handle("POST /account/password", s.requireLogin(http.HandlerFunc(s.changePassword)))
	pages.Handle("GET /account/sessions", s.requireLogin(http.HandlerFunc(s.sessionsPage)))
	pages.Handle("POST /account/sessions/revoke", s.requireLogin(http.HandlerFunc(s.revokeSession)))
	pages.Handle("POST /account/sessions/revoke-others", s.requireLogin(http.HandlerFunc(s.revokeOtherSessions)))

	pages.Handle("GET /admin/users", s.requireRole(account.RoleAdmin, http.HandlerFunc(s.adminUsers)))
	pages.Handle("POST /admin/users/{id}/disable", s.requireRole(account.RoleAdmin, http.HandlerFunc(s.adminDisable)))
	pages.Handle("POST /admin/users/{id}/enable", s.requireRole(account.RoleAdmin, http.HandlerFunc(s.adminEnable)))
	pages.Handle("POST /admin/users/{id}/revoke-sessions", s.requireRole(account.RoleAdmin, http.HandlerFunc(s.adminRevokeSessions)))

	auth := s.requireLogin
	admin := func(h http.Handler) http.Handler { return s.requireRole(account.RoleAdmin, h) }
	s.routes2FA(pages, auth)
	s.routesEmail(pages, auth)
	s.routesActivity(pages, auth, admin)

	browser := s.headers.Handler(s.d.sessions.Handler(s.loadUser(s.formGuard(s.withErrorPages(pages, s.csrf.Handler(pages))))))

	root := http.NewServeMux()
	root.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	root.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	root.Handle("GET /static/", s.headers.Handler(http.StripPrefix("/static", web.Static())))
	root.Handle("GET /favicon.ico", http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently))
	root.Handle("/", browser)
	s.routesAPI(root)
	s.routesAvatar(pages, root, auth)
	s.routesOIDC(pages, root)

	fail := func(w http.ResponseWriter, r *http.Request) { s.errorPage(w, r, http.StatusInternalServerError, "") }
	admit := newAdmission(2*s.cfg.HashWorkers, s.cfg.HashQueueWait, s.d.metrics.admitDenied.Inc, s.d.guard.preRefuse)
	return requestID(s.log)(accessLog(s.cfg.AccessLog, s.d.observeRequest)(recoverer(fail)(limitHeaders(admit.handler(root)))))
}

// withErrorPages renders our own pages for the mux's 404 and 405 answers,
// keeping the Allow header the mux computed.
// It runs before CSRF protection, so a wrong method is a 405 even without a
// token; routed requests go on to next.
func (s *Server) withErrorPages(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		h, _ := mux.Handler(r)
		h.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		status := probe.status
		if status == 0 || status == http.StatusOK {
			status = http.StatusNotFound
		}
		if status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect {
			// The mux cleans paths (/a/../b) with a redirect: keep it.
			for k, v := range probe.header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			return
		}
		s.errorPage(w, r, status, "")
	})
}

// statusProbe records what the mux's fallback handler would answer.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

// maxUploadBytes bounds a multipart body (a profile picture and its form).
const maxUploadBytes = 3 << 20

// formGuard reads and checks every form before CSRF protection or a handler
// sees it: bounded size (413), one value per field and valid UTF-8 (400), and
// only form encodings on browser routes (415).
func (s *Server) formGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
				r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
				next.ServeHTTP(w, r)
				return
			}
		}
		if err := parseForm(w, r, maxFormBytes); err != nil {
			s.formError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitHeaders refuses absurdly long request targets before routing.
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > 8192 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusRequestURITooLong)
			_, _ = w.Write([]byte("Request URI too long\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
