package app

import (
	"net"
	"net/http"
	"strings"
)

// secretPages show secrets in their answers (mail with reset links, a new
// TOTP key, recovery codes): they are served only to requests addressed to
// this server by name, whatever the mode.
var secretPages = []string{"/dev/outbox", "/account/2fa/totp/setup", "/account/2fa/totp/confirm", "/account/2fa/recovery-codes"}

// anyHost are the routes that answer whatever the Host in dev mode too: the
// health checks, and the forward-auth subrequests, whose Host is the
// protected application's. Neither shows anything without the session
// cookie, which a rebound name never carries (cookies follow the name).
var anyHost = map[string]bool{"/healthz": true, "/readyz": true, "/auth/forward": true, "/auth/request": true}

// checkHost refuses with 421 a request whose Host is neither the base URL's
// host nor a loopback name: in dev mode for every route but anyHost, and
// in every mode for the secretPages. A page on another site that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own
// name as the Host, so it cannot read a developer's outbox or a new key.
func (s *Server) checkHost(next http.Handler) http.Handler {
	base := strings.ToLower(s.cfg.BaseURL.Hostname())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guarded := s.cfg.Dev && !anyHost[r.URL.Path]
		for _, p := range secretPages {
			if r.URL.Path == p {
				guarded = true
			}
		}
		if guarded && !hostAllowed(r.Host, base) {
			s.opsHeaders(w.Header())
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = w.Write([]byte("This server does not answer for that host name.\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a Host header names base or a loopback name.
func hostAllowed(hostHeader, base string) bool {
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	return host != "" && (host == base || isLoopbackHost(host))
}
