package twofactor

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
)

// PendingSignIn returns the user of the session's sign-in waiting for its
// second factor, with its remember choice and next page, for another
// second factor (a passkey) to complete it. When there is none, or it can
// no longer complete (expired, the user gone, disabled or signed out
// everywhere since), it has answered with a redirect to /login and reports
// false; a database failure is answered too (503).
func (f *Feature) PendingSignIn(w http.ResponseWriter, r *http.Request) (u account.User, remember bool, next string, ok bool) {
	sess := session.FromContext(r.Context())
	pending, ok := f.livePending(w, r, sess)
	if !ok {
		return account.User{}, false, "", false
	}
	u, err := f.k.Accounts().UserByID(r.Context(), pending.UserID)
	switch {
	case errors.Is(err, account.ErrNotFound), err == nil && !u.SessionValid(pending.Since):
		f.cancelPending(w, r, sess)
		return account.User{}, false, "", false
	case err != nil:
		f.k.Fail(w, r, err)
		return account.User{}, false, "", false
	}
	return u, pending.Remember, pending.Next, true
}

// ClearPending drops the session's pending sign-in, if any.
func (f *Feature) ClearPending(r *http.Request) {
	if sess := session.FromContext(r.Context()); sess != nil {
		clearPending(sess)
	}
}
