package app

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
)

// Hooks where later capabilities (mail, second factor) attach to the flows.

// afterRegister runs after a registration attempt that passed validation.
func (d *deps) afterRegister(ctx context.Context, reg account.Registration) {}

// afterLogin runs after a successful sign-in.
func (d *deps) afterLogin(ctx context.Context, r *http.Request, u account.User) {}

// afterPasswordChange runs after the user changed the password.
func (d *deps) afterPasswordChange(ctx context.Context, u account.User) {}

// needsSecondFactor reports whether sign-in needs a second step.
func (d *deps) needsSecondFactor(u account.User) bool { return false }

// startSecondFactor parks the sign-in until the second factor is given.
func (s *Server) startSecondFactor(w http.ResponseWriter, r *http.Request, sess *session.Session, u account.User, remember bool, next string) {
	s.completeLogin(w, r, sess, u, remember, next)
}

// resetSecondFactor turns off a user's second factor (admin action).
func (d *deps) resetSecondFactor(ctx context.Context, u account.User, actorID int64, m account.Meta) error {
	return nil
}

// startBackground starts the background loops of optional capabilities.
func (d *deps) startBackground(run func(name string, f func(context.Context) error)) {}

// newLimiters returns the rate limit and backoff backends: in memory for one
// instance, in Redis when instances share one.
func (d *deps) newLimiters() (ratelimit.Backend, ratelimit.Backoff) {
	return ratelimit.NewMemory(), ratelimit.NewMemoryBackoff()
}
