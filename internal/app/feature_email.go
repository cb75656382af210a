package app

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Email: verification, password reset, email change and security notices.

// emailFeature holds the mailer and the email token flows.
type emailFeature struct{ d *deps }

func newEmailFeature(d *deps) (*emailFeature, error) { return &emailFeature{d: d}, nil }

// routesEmail adds the email routes. auth wraps handlers that need a
// signed-in user.
func (s *Server) routesEmail(pages *http.ServeMux, auth func(http.Handler) http.Handler) {}

// afterRegister runs after a registration attempt that passed validation.
func (d *deps) afterRegister(ctx context.Context, reg account.Registration) {}

// afterLogin runs after a successful sign-in (both factors).
func (d *deps) afterLogin(ctx context.Context, r *http.Request, u account.User) {}

// afterPasswordChange runs after the user changed the password.
func (d *deps) afterPasswordChange(ctx context.Context, u account.User) {}

// securityNotice mails the account's owner a notice of a security event,
// such as "twofactor_enabled" or "twofactor_disabled".
func (d *deps) securityNotice(ctx context.Context, u account.User, kind string) {}

// startMailWorker starts the outbox delivery loop.
func (d *deps) startMailWorker(run func(name string, f func(context.Context) error)) {}
