package account

import (
	"context"
	"time"
)

// NewUser is what a [UserStore] needs to create an account. The service has
// already validated and normalized every field.
type NewUser struct {
	Email        string
	EmailKey     string
	DisplayName  string
	PasswordHash string
	Roles        []Role
	// EmailVerifiedAt is zero for an unverified address.
	EmailVerifiedAt time.Time
	// Now is used for CreatedAt, UpdatedAt and SessionsValidAfter.
	Now time.Time
}

// UserQuery selects a page of users for [UserStore.ListUsers].
type UserQuery struct {
	// Search, if not empty, keeps users whose email key or display name
	// contains it (case-insensitively for ASCII). It is matched literally:
	// % and _ are not wildcards.
	Search string
	// Limit is the page size (> 0) and Offset the number of rows skipped.
	Limit, Offset int
}

// UserStore is the storage port for accounts. Implementations must be safe
// for concurrent use, store times in UTC and return [ErrNotFound] and
// [ErrEmailTaken] (possibly wrapped) where documented.
type UserStore interface {
	// CreateUser inserts a user and returns it with its ID. It returns
	// ErrEmailTaken if the EmailKey is already used, also under a race.
	CreateUser(ctx context.Context, u NewUser) (User, error)
	// UserByID returns the user or ErrNotFound. It is on the hot path of
	// every signed-in request.
	UserByID(ctx context.Context, id int64) (User, error)
	// CredentialsByID returns the user and password hash, or ErrNotFound.
	CredentialsByID(ctx context.Context, id int64) (Credentials, error)
	// CredentialsByEmailKey returns the user whose normalized email (see
	// [EmailKey]) is key, with the password hash, or ErrNotFound.
	CredentialsByEmailKey(ctx context.Context, key string) (Credentials, error)
	// SetPasswordHash stores a new hash. If revokeSessions, it also sets
	// SessionsValidAfter to now. ErrNotFound if no such user.
	SetPasswordHash(ctx context.Context, id int64, hash string, now time.Time, revokeSessions bool) error
	// ReplacePasswordHash stores newHash only if the stored hash is still
	// oldHash (a compare-and-swap used to upgrade hash parameters at
	// sign-in without undoing a concurrent password change). It reports
	// whether the hash was replaced.
	ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string, now time.Time) (bool, error)
	// SetDisabled disables (DisabledAt = now, if not already disabled, and
	// SessionsValidAfter = now) or enables (DisabledAt cleared) the user.
	// ErrNotFound if no such user.
	SetDisabled(ctx context.Context, id int64, disabled bool, now time.Time) error
	// SetRoles replaces the user's roles. ErrNotFound if no such user.
	SetRoles(ctx context.Context, id int64, roles []Role, now time.Time) error
	// SetEmailVerified records the address as verified at the given time
	// (zero clears it). ErrNotFound if no such user.
	SetEmailVerified(ctx context.Context, id int64, at, now time.Time) error
	// RevokeSessions sets SessionsValidAfter to now, invalidating every
	// session and token issued before. ErrNotFound if no such user.
	RevokeSessions(ctx context.Context, id int64, now time.Time) error
	// ListUsers returns one page of users ordered by ID, and the total
	// number of users matching q.Search.
	ListUsers(ctx context.Context, q UserQuery) (users []User, total int, err error)
}

// AuditStore is the storage port for audit events. Events are append-only.
type AuditStore interface {
	// InsertAudit appends e (already sanitized) and returns its ID.
	InsertAudit(ctx context.Context, e Event) (int64, error)
	// ListAudit returns events matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]Event, error)
}

// PasswordHasher hashes and verifies passwords. *password.Pool implements
// it as is. An error wrapping password.ErrBusy (no worker free in time) is
// reported by the service as [ErrBusy]; any other Verify error is a failed
// verification.
type PasswordHasher interface {
	// Hash returns the encoded (PHC string) hash of pw.
	Hash(ctx context.Context, pw string) (string, error)
	// Verify checks pw against an encoded hash. A nil error means a match;
	// needsRehash then says that the hash uses outdated parameters and
	// should be replaced by Hash(pw).
	Verify(ctx context.Context, pw, encoded string) (needsRehash bool, err error)
	// VerifyDummy does the same work as a Verify against a real hash and
	// always fails (with password.ErrMismatch, or password.ErrBusy), so that
	// an unknown account costs as much time as a known one.
	VerifyDummy(ctx context.Context, pw string) error
}

// PasswordPolicy decides whether a new password is acceptable.
// password.Policy implements it as is.
type PasswordPolicy interface {
	// Check returns nil if pw is acceptable for the account with this email,
	// or an error whose message is shown to the user (see [PolicyMessage]).
	Check(pw, email string) error
}
