package session

import (
	"context"
	"net/http"
)

// responseWriter saves the session before the first WriteHeader or Write.
type responseWriter struct {
	http.ResponseWriter
	m      *Manager
	r      *http.Request
	s      *Session
	done   bool // commit attempted
	failed bool // commit failed; the error handler answered
}

// headers a handler may have set that must not accompany the error page.
var dropOnFailure = []string{
	"Location", "Content-Type", "Content-Length", "Content-Encoding",
	"Content-Disposition", "Content-Range", "Set-Cookie", "Etag",
	"Last-Modified", "Refresh", "Cache-Control",
}

func (w *responseWriter) commit() bool {
	if w.done {
		return !w.failed
	}
	w.done = true
	h := w.ResponseWriter.Header()
	ctx := context.WithoutCancel(w.r.Context()) // finish a sign-out even if the client left
	if err := w.m.commit(ctx, h, w.s); err != nil {
		w.failed = true
		for _, k := range dropOnFailure {
			h.Del(k)
		}
		w.m.fail(w.ResponseWriter, w.r, err)
		return false
	}
	return true
}

// WriteHeader saves the session, then writes the header. When the save
// fails, the error handler's status is sent instead.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if !w.failed {
			w.ResponseWriter.WriteHeader(code) // informational: no commit yet
		}
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session if the header is not yet written, then writes b.
// After a failed save it discards b and returns ErrResponseAborted.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, ErrResponseAborted
	}
	return w.ResponseWriter.Write(b)
}

// Flush saves the session and flushes the underlying writer.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError saves the session and flushes the underlying writer, for
// http.ResponseController.
func (w *responseWriter) FlushError() error {
	if !w.commit() {
		return ErrResponseAborted
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
