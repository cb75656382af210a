package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/secheaders"
)

// healthz answers 200 while the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.opsHeaders(w.Header())
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when every backend this instance needs answers, and
// 503 naming the ones that do not (never their addresses or errors).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := s.d.checkBackends(ctx)
	s.opsHeaders(w.Header())
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + strings.Join(failed, ", ") + " unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
	for _, note := range s.d.readyNotes() {
		_, _ = w.Write([]byte(note + "\n"))
	}
}

// opsHeaders are the headers of plain-text operational answers (health,
// readiness, 414), which skip the page middleware: no caching, no MIME
// sniffing, and HSTS on https like every other answer.
func (s *Server) opsHeaders(h http.Header) {
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if s.cfg.Secure() {
		h.Set("Strict-Transport-Security", secheaders.HSTSValue)
	}
}
