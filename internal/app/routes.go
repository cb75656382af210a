package app

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/activity"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/guard"
	"github.com/gatehouse/gatehouse/internal/kit"
)

// routes lists every route of the server in one place, each with the
// feature handler serving it: the map of the house.
//
// Operational routes (health, static files) skip the session entirely, so
// they answer even when the session store is down. Browser pages get the
// full chain: security headers, session, user, CSRF.
func (s *Server) routes() http.Handler {
	auth := s.k.RequireLogin
	adminOnly := func(h http.Handler) http.Handler { return s.k.RequireRole(account.RoleAdmin, h) }
	fn := func(f func(http.ResponseWriter, *http.Request)) http.Handler { return http.HandlerFunc(f) }
	pages := http.NewServeMux()

	// The sign-in core: internal/signin.
	in := s.d.signin
	pages.Handle("GET /{$}", fn(in.Home))
	pages.Handle("GET /register", fn(in.RegisterForm))
	pages.Handle("POST /register", fn(in.Register))
	pages.Handle("GET /login", fn(in.LoginForm))
	pages.Handle("POST /login", fn(in.Login))
	pages.Handle("POST /logout", s.signOutEverywhere(fn(in.Logout))) // and out of every OpenID Connect client
	pages.Handle("GET /dashboard", auth(fn(in.Dashboard)))
	pages.Handle("GET /account", auth(fn(in.Account)))
	pages.Handle("POST /account/password", auth(fn(in.ChangePassword)))
	pages.Handle("GET /account/sessions", auth(fn(in.Sessions)))
	pages.Handle("POST /account/sessions/revoke", auth(fn(in.RevokeSession)))
	pages.Handle("POST /account/sessions/revoke-others", auth(fn(in.RevokeOtherSessions)))

	// Two-factor sign-in: internal/twofactor. The second sign-in step is
	// reached without a signed-in user (the session only holds the pending
	// sign-in); step-up by a signed-in one-factor session.
	tf := s.d.tf
	pages.Handle("GET /login/2fa", fn(tf.LoginForm))
	pages.Handle("POST /login/2fa", fn(tf.Login))
	pages.Handle("GET /login/step-up", fn(tf.StepUpForm))
	pages.Handle("POST /login/step-up", fn(tf.StepUp))
	pages.Handle("GET /account/2fa", auth(fn(tf.Status)))
	pages.Handle("POST /account/2fa/totp/setup", auth(fn(tf.Setup)))
	pages.Handle("POST /account/2fa/totp/confirm", auth(fn(tf.Confirm)))
	pages.Handle("POST /account/2fa/recovery-codes", auth(fn(tf.RecoveryCodes)))
	pages.Handle("POST /account/2fa/disable", auth(fn(tf.Disable)))
	pages.Handle("POST /admin/users/{id}/reset-2fa", adminOnly(fn(tf.AdminReset)))

	// Passkeys: internal/passkey (off when the base URL's host is an IP
	// address). The /options routes answer JSON to passkey.js.
	if pk := s.d.passkeys; pk != nil {
		pages.Handle("POST /login/passkey/options", fn(pk.LoginOptions))
		pages.Handle("POST /login/passkey", fn(pk.Login))
		pages.Handle("POST /login/2fa/passkey/options", fn(pk.SecondFactorOptions))
		pages.Handle("POST /login/2fa/passkey", fn(pk.SecondFactor))
		pages.Handle("POST /login/step-up/passkey/options", auth(fn(pk.StepUpOptions)))
		pages.Handle("POST /login/step-up/passkey", auth(fn(pk.StepUp)))
		pages.Handle("GET /account/passkeys", auth(fn(pk.Manage)))
		pages.Handle("POST /account/passkeys/confirm", auth(fn(pk.Confirm)))
		pages.Handle("POST /account/passkeys/options", auth(fn(pk.AddOptions)))
		pages.Handle("POST /account/passkeys", auth(fn(pk.Add)))
		pages.Handle("POST /account/passkeys/{id}/rename", auth(fn(pk.Rename)))
		pages.Handle("POST /account/passkeys/{id}/remove", auth(fn(pk.Remove)))
	}

	// Email flows: internal/emailflow.
	mail := s.d.email
	pages.Handle("GET /verify-email", fn(mail.VerifyForm))
	pages.Handle("POST /verify-email", fn(mail.Verify))
	pages.Handle("POST /verify-email/resend", auth(fn(mail.Resend)))
	pages.Handle("GET /password/forgot", fn(mail.ForgotForm))
	pages.Handle("POST /password/forgot", fn(mail.Forgot))
	pages.Handle("GET /password/reset", fn(mail.ResetForm))
	pages.Handle("POST /password/reset", fn(mail.Reset))
	pages.Handle("POST /account/email", auth(fn(mail.Change)))
	pages.Handle("GET /account/email/confirm", fn(mail.ConfirmForm))
	pages.Handle("POST /account/email/confirm", fn(mail.Confirm))
	pages.Handle("GET /dev/outbox", fn(mail.DevOutbox))

	// Activity and audit views: internal/activity.
	events := activity.New(s.k)
	pages.Handle("GET /account/activity", auth(fn(events.Activity)))
	pages.Handle("GET /admin/audit", adminOnly(fn(events.Audit)))

	// Administration: internal/admin.
	users := admin.New(s.k)
	pages.Handle("GET /admin/users", adminOnly(fn(users.Users)))
	pages.Handle("POST /admin/users/{id}/disable", adminOnly(fn(users.Disable)))
	pages.Handle("POST /admin/users/{id}/enable", adminOnly(fn(users.Enable)))
	pages.Handle("POST /admin/users/{id}/revoke-sessions", adminOnly(fn(users.RevokeSessions)))

	browser := s.headers.Handler(s.d.sessions.Handler(s.k.LoadUser(s.k.FormGuard(s.withErrorPages(pages, s.k.CSRF().Handler(pages))))))

	root := http.NewServeMux()
	root.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	root.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	root.Handle("GET /static/", s.headers.Handler(http.StripPrefix("/static", s.k.Static())))
	root.Handle("GET /favicon.ico", http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently))
	root.Handle("/", browser)

	// The JSON API: internal/api (api.Routes lists its routes; no session,
	// no CSRF: bearer tokens only).
	jsonAPI := s.headers.Handler(s.d.oidc.WithRSAKeys(s.d.api.Handler())) // the JWKS gets the OIDC RS256 keys
	root.Handle("/api/", jsonAPI)
	for _, path := range api.Paths() {
		root.Handle(path, jsonAPI) // GET /.well-known/jwks.json
	}

	// Profile pictures: internal/avatar. The upload is routed on root with
	// its own chain (see avatar.Feature.Upload); the pages entry only makes
	// the pages mux answer other methods with 405 (root's POST route is
	// more specific than root's "/").
	pics := s.d.avatars
	upload := auth(fn(pics.Upload))
	root.Handle("POST /account/avatar", s.headers.Handler(s.d.sessions.Handler(s.k.LoadUser(upload))))
	pages.Handle("POST /account/avatar", upload)
	pages.Handle("POST /account/avatar/delete", auth(fn(pics.Delete)))
	root.Handle("GET /avatars/{id}", fn(pics.Serve))

	// Forward-auth for reverse proxies: internal/forwardauth, wired in
	// feature_forwardauth.go. The subrequests get the session and its user,
	// no CSRF: they are GET and change nothing.
	fa := s.d.fa.handler
	withUser := func(h http.Handler) http.Handler { return s.d.sessions.Handler(s.k.LoadUser(h)) }
	root.Handle("GET /auth/forward", withUser(fa.Forward()))
	root.Handle("GET /auth/request", withUser(fa.Request()))
	pages.Handle("GET /admin/access", adminOnly(fn(s.d.fa.site.AdminAccess)))

	// The OpenID Connect provider: internal/oidc (oidc.Provider.Routes
	// lists its routes: discovery, /oidc/authorize, /oidc/token,
	// /oidc/userinfo, /oidc/revoke, /oidc/logout, /account/apps,
	// /admin/clients).
	s.routesOIDC(pages, root)

	fail := func(w http.ResponseWriter, r *http.Request) { s.k.ErrorPage(w, r, http.StatusInternalServerError, "") }
	admit := guard.NewAdmission(2*s.cfg.HashWorkers, s.cfg.HashQueueWait, s.d.metrics.AdmissionRejected, s.d.guard.PreRefuse)
	return kit.RequestID(s.log)(accessLog(s.cfg.AccessLog, s.d.metrics.ObserveRequest)(recoverer(fail)(s.limitHeaders(s.checkHost(admit.Handler(root))))))
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
		s.k.ErrorPage(w, r, status, "")
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

// limitHeaders refuses absurdly long request targets before routing.
func (s *Server) limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > 8192 {
			s.opsHeaders(w.Header())
			w.WriteHeader(http.StatusRequestURITooLong)
			_, _ = w.Write([]byte("Request URI too long\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
