package account

import (
	"context"
	"log/slog"
)

// newPasswordHash checks pw against the password policy for u's address
// (a [*ValidationError] on "password" if refused) and hashes it.
func (s *Service) newPasswordHash(ctx context.Context, op string, u User, pw string) (string, error) {
	if err := s.checkPolicy(pw, u.Email); err != nil {
		return "", &ValidationError{Fields: map[string]string{FieldPassword: PolicyMessage(err)}}
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", wrap(op, err)
	}
	return hash, nil
}

// verifyPassword checks pw against c's hash; an overlong pw costs a dummy
// verification and fails.
func (s *Service) verifyPassword(ctx context.Context, c Credentials, pw string) error {
	if len(pw) > MaxPasswordBytes {
		if err := s.hasher.VerifyDummy(ctx, ""); isBusy(err) {
			return err
		}
		return errTooLong
	}
	_, err := s.hasher.Verify(ctx, pw, c.PasswordHash)
	return err
}

// logError reports a failure that does not fail the operation.
func (s *Service) logError(ctx context.Context, what string, err error) {
	if s.log != nil {
		s.log.LogAttrs(ctx, slog.LevelError, what, slog.String("error", err.Error()))
	}
}
