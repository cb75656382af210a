package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// newPasskeyFeature builds the passkeys feature (internal/passkey). A base
// URL whose host cannot be a WebAuthn relying party id (an IP address)
// leaves passkeys off, with a warning.
func newPasskeyFeature(d *deps) *passkey.Feature {
	svc, err := account.NewPasskeys(account.PasskeyConfig{Accounts: d.accounts, Store: d.db.Passkeys(),
		BaseURL: d.cfg.BaseURL, Name: "Gatehouse", Notify: d.email.SecurityNotice, Now: d.now})
	if err != nil {
		d.log.Warn("passkeys are off: the base URL's host cannot be a WebAuthn relying party id", "err", err)
		return nil
	}
	tf := d.tf
	return passkey.New(passkey.Config{Kit: d.kit, Service: svc, CompleteLogin: d.signin.CompleteLogin,
		Pending: func(w http.ResponseWriter, r *http.Request) (passkey.Pending, bool) {
			u, remember, next, ok := tf.PendingSignIn(w, r)
			return passkey.Pending{User: u, Remember: remember, Next: next}, ok
		},
		ClearPending:         tf.ClearPending,
		CheckSecondFactor:    tf.Check,
		TwoFactorEnabled:     func(ctx context.Context, u account.User) (bool, error) { return tf.Needs(ctx, u) },
		RequireVerifiedEmail: d.cfg.UnverifiedLogin == "deny",
		Now:                  func() time.Time { return d.now() },
		Log:                  d.log.With("feature", "passkey"),
	})
}
