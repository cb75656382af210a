package app

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gatehouse/gatehouse/internal/kit"
)

// maxHeaderBytes bounds the request headers.
const maxHeaderBytes = 16 << 10

// statusWriter remembers the status a handler wrote, for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request and feeds the request metrics. The
// query string is never logged: it may hold a token.
func accessLog(enabled bool, observe func(r *http.Request, status int, d time.Duration)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			d := time.Since(start)
			if observe != nil {
				observe(r, sw.status, d)
			}
			if enabled && kit.LogEnabled(r.Context(), slog.LevelInfo) {
				kit.Logger(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", d))
			}
		})
	}
}

// recoverer turns a panic into a logged error and a plain 500 page. It never
// shows the panic value or a stack to the client.
func recoverer(fail func(w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					kit.Logger(r.Context()).Error("panic", "value", v, "stack", string(debug.Stack()))
					fail(w, r)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
