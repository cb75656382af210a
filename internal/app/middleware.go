package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Body limits. Forms are small; uploads have their own, larger limit.
const (
	maxFormBytes = 64 << 10
	maxJSONBytes = 16 << 10
	// maxHeaderBytes is the http.Server setting that makes the real cap on
	// a request's line and headers 16 KiB: net/http allows 4 KiB beyond it.
	maxHeaderBytes = 16<<10 - 4096
)

type ctxKey int

const (
	ctxState ctxKey = iota
)

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

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reqState is what the server keeps for one request, in its context (one
// allocation, where a context value per item would copy the request each
// time): the request's logger, built only when something logs (most
// requests never do, and a child logger costs allocations); the user the
// session store read together with the session, for loadUser; the
// signed-in user that loadUser accepted.
type reqState struct {
	base *slog.Logger
	id   string
	once sync.Once
	log  *slog.Logger

	fetched  *account.User // read with the session, not yet checked
	signedIn *account.User
}

func (rs *reqState) logger() *slog.Logger {
	rs.once.Do(func() { rs.log = rs.base.With("request_id", rs.id) })
	return rs.log
}

func stateFrom(ctx context.Context) *reqState {
	rs, _ := ctx.Value(ctxState).(*reqState)
	return rs
}

// requestID gives every request an id, returned in X-Request-Id and carried
// by every log line of the request.
func requestID(base *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := newRequestID()
			w.Header().Set("X-Request-Id", id)
			ctx := context.WithValue(r.Context(), ctxState, &reqState{base: base, id: id})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// logger returns the request's logger (with its request id).
func logger(ctx context.Context) *slog.Logger {
	if rs := stateFrom(ctx); rs != nil {
		return rs.logger()
	}
	return slog.Default()
}

// logEnabled reports whether the request's logger writes level, without
// building the logger.
func logEnabled(ctx context.Context, level slog.Level) bool {
	if rs := stateFrom(ctx); rs != nil {
		return rs.base.Enabled(ctx, level)
	}
	return slog.Default().Enabled(ctx, level)
}

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
			if enabled && logEnabled(r.Context(), slog.LevelInfo) {
				logger(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "request",
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
					logger(r.Context()).Error("panic", "value", v, "stack", string(debug.Stack()))
					fail(w, r)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// errBadForm is why a form was refused before any handler saw it.
var (
	errRepeatedField = errors.New("a field was sent more than once")
	errBadEncoding   = errors.New("the form holds characters that are not valid UTF-8")
	errTooLarge      = errors.New("the request body is too large")
	errMediaType     = errors.New("unsupported form encoding")
)

// parseForm reads an urlencoded form body (at most maxFormBytes) and the query
// string, refusing repeated fields and invalid UTF-8. Handlers then read
// r.PostForm and r.Form knowing each field has at most one value.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/x-www-form-urlencoded", "":
		default:
			return errMediaType
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return err
	}
	if err := checkValues(r.Form); !errors.Is(err, errRepeatedField) {
		return err
	}
	// A name in both the query and the body (a form posted to its own URL,
	// such as /login?next=/account with a next field) is not a repetition;
	// a name twice in the body, or twice in the query, is. The body's value
	// wins: it is the only one left in r.Form.
	if err := checkValues(r.PostForm); err != nil {
		return err
	}
	if err := checkValues(r.URL.Query()); err != nil {
		return err
	}
	for k, vs := range r.Form {
		if len(vs) > 1 {
			r.Form[k] = vs[:1]
		}
	}
	return nil
}

func checkValues(vals map[string][]string) error {
	for k, vs := range vals {
		if len(vs) > 1 {
			return errRepeatedField
		}
		if !utf8.ValidString(k) {
			return errBadEncoding
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return errBadEncoding
			}
		}
	}
	return nil
}
