package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
)

type ctxKey int

const ctxState ctxKey = iota

// reqState is what the server keeps for one request, in its context (one
// allocation, where a context value per item would copy the request each
// time): the request's logger, built only when something logs (most
// requests never do, and a child logger costs allocations); the user the
// session store read together with the session, for LoadUser; the
// signed-in user that LoadUser accepted.
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

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WithState returns ctx carrying a fresh request state whose logger is
// base with the request id id. RequestID does this for every request;
// tests use it directly.
func WithState(ctx context.Context, base *slog.Logger, id string) context.Context {
	return context.WithValue(ctx, ctxState, &reqState{base: base, id: id})
}

// RequestID gives every request an id, returned in X-Request-Id and carried
// by every log line of the request, and the request state the other kit
// functions read.
func RequestID(base *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := newRequestID()
			w.Header().Set("X-Request-Id", id)
			next.ServeHTTP(w, r.WithContext(WithState(r.Context(), base, id)))
		})
	}
}

// Logger returns the request's logger (with its request id).
func Logger(ctx context.Context) *slog.Logger {
	if rs := stateFrom(ctx); rs != nil {
		return rs.logger()
	}
	return slog.Default()
}

// LogEnabled reports whether the request's logger writes level, without
// building the logger.
func LogEnabled(ctx context.Context, level slog.Level) bool {
	if rs := stateFrom(ctx); rs != nil {
		return rs.base.Enabled(ctx, level)
	}
	return slog.Default().Enabled(ctx, level)
}

// UserFrom returns the signed-in user of the request, if any.
func UserFrom(ctx context.Context) (account.User, bool) {
	if rs := stateFrom(ctx); rs != nil && rs.signedIn != nil {
		return *rs.signedIn, true
	}
	return account.User{}, false
}

// KeepSessionUser is the session store's hand-over of the user it read
// with the session (see db.SessionStore): LoadUser uses it once instead of
// reading the user again.
func KeepSessionUser(ctx context.Context, u account.User) {
	if rs := stateFrom(ctx); rs != nil {
		rs.fetched = &u
	}
}

// LoadUser resolves the session's user. A session whose user is gone,
// disabled, or signed out everywhere since it was created is ended: the
// visitor is simply anonymous. A database failure is a 503, never a guess.
func (k *Kit) LoadUser(next http.Handler) http.Handler {
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
		u, err := k.UserByID(r.Context(), id)
		switch {
		case errors.Is(err, account.ErrNotFound):
			sess.Destroy()
		case err != nil:
			k.Unavailable(w, r, err)
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

// UserByID returns the user the session store read with the session (once,
// and only for that user's id), or reads it.
func (k *Kit) UserByID(ctx context.Context, id int64) (account.User, error) {
	if rs := stateFrom(ctx); rs != nil && rs.fetched != nil {
		u := *rs.fetched
		rs.fetched = nil
		if u.ID == id {
			return u, nil
		}
	}
	return k.cfg.Accounts.UserByID(ctx, id)
}

// ClientIP is the client's address: the socket peer, or the address a
// trusted proxy reports. It is invalid when neither can be read.
func (k *Kit) ClientIP(r *http.Request) netip.Addr { return k.cfg.ClientAddr(r) }

// IP is ClientIP as text, "" when unknown: for audit events.
func (k *Kit) IP(r *http.Request) string { return AddrText(k.ClientIP(r)) }

// AddrText writes an address for audit events and logs: "" when invalid.
func AddrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Meta describes the client for audit events.
func (k *Kit) Meta(r *http.Request) account.Meta {
	return account.Meta{IP: k.IP(r), UserAgent: r.UserAgent()}
}
