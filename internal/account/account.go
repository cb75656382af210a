// Package account holds Gatehouse's domain rules for user accounts:
// registration, sign-in, password changes, roles, disabling accounts and the
// audit trail of security events.
//
// It knows no HTTP and no SQL. Storage is reached through the ports
// [UserStore] and [AuditStore] (implemented by internal/db), password hashing
// through [PasswordHasher] and the password rules through [PasswordPolicy]
// (both implemented by the password package). Every operation takes a [Meta]
// describing the client, so that the audit events it writes carry the client
// IP and user agent.
//
// Errors: [ErrInvalidCredentials] is the one answer to every failed sign-in;
// [*ValidationError] carries a user-facing message per form field; the other
// sentinels ([ErrNotFound], [ErrEmailTaken], [ErrForbidden],
// [ErrCannotDisableSelf]) are matched with errors.Is.
package account

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sentinel errors. Match them with errors.Is; stores and the service may wrap
// them with more context.
var (
	// ErrInvalidCredentials is returned by [Service.Authenticate] for every
	// failure: unknown email, wrong password or disabled account alike.
	ErrInvalidCredentials = errors.New("account: invalid credentials")
	// ErrNotFound means that no user matches the lookup.
	ErrNotFound = errors.New("account: not found")
	// ErrEmailTaken is returned by a [UserStore] when the email key is
	// already used, and by [Service.CreateUser]. [Service.Register] never
	// returns it: a duplicate registration looks like a fresh one.
	ErrEmailTaken = errors.New("account: email taken")
	// ErrForbidden means that the actor lacks the role the operation needs.
	ErrForbidden = errors.New("account: forbidden")
	// ErrCannotDisableSelf is returned when an admin tries to disable their
	// own account (which could lock every admin out).
	ErrCannotDisableSelf = errors.New("account: cannot disable own account")
	// ErrDisabled is returned by operations on behalf of a disabled user
	// (such as a password change from a session that outlived the disabling).
	ErrDisabled = errors.New("account: account disabled")
	// ErrBusy means the password hasher had no worker free in time (it
	// wraps password.ErrBusy too). The app answers 503 with Retry-After.
	ErrBusy = errors.New("account: busy")
)

// Role is a named set of permissions held by a user.
type Role string

// The roles Gatehouse knows.
const (
	// RoleUser is held by every account.
	RoleUser Role = "user"
	// RoleAdmin may list users and disable or enable them.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a role Gatehouse knows.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// NormalizeRoles returns roles sorted, without duplicates, always including
// [RoleUser]. It reports false if any role is unknown.
func NormalizeRoles(roles []Role) ([]Role, bool) {
	out := []Role{RoleUser}
	for _, r := range roles {
		if !r.Valid() {
			return nil, false
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, true
}

// User is an account as the rest of the application sees it. It never holds
// the password hash, so it is safe to hand to templates and JSON encoders.
type User struct {
	// ID is the stable numeric identifier.
	ID int64
	// AvatarID is the id of the user's profile picture, or "" when there is
	// none. Only [UserStore.UserByID] fills it.
	AvatarID string
	// TwoFactorEnabled reports whether the user has turned on a second
	// factor. Only [UserStore.UserByID] fills it; sign-in asks the
	// two-factor store itself.
	TwoFactorEnabled bool
	// Email is the address as entered at registration (trimmed). Mail goes
	// only to this address.
	Email string
	// DisplayName is optional and user-chosen; render it escaped.
	DisplayName string
	// Roles is sorted and always contains RoleUser.
	Roles []Role
	// EmailVerifiedAt is when the address was confirmed; zero if never.
	EmailVerifiedAt time.Time
	// DisabledAt is when an admin disabled the account; zero if enabled.
	DisabledAt time.Time
	// SessionsValidAfter invalidates every session or token issued before
	// it: the app must refuse a session whose sign-in time is before this
	// instant. Set at creation, on password change, on disabling and on
	// sign-out-everywhere.
	SessionsValidAfter time.Time
	// CreatedAt and UpdatedAt are UTC.
	CreatedAt, UpdatedAt time.Time
}

// EmailVerified reports whether the address has been confirmed.
func (u User) EmailVerified() bool { return !u.EmailVerifiedAt.IsZero() }

// Disabled reports whether an admin has disabled the account.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// HasRole reports whether the user holds role r.
func (u User) HasRole(r Role) bool { return slices.Contains(u.Roles, r) }

// IsAdmin reports whether the user holds [RoleAdmin].
func (u User) IsAdmin() bool { return u.HasRole(RoleAdmin) }

// SessionValid reports whether a session or token issued (signed in) at
// issuedAt is still acceptable for this user: the account is enabled and
// issuedAt is not before SessionsValidAfter.
func (u User) SessionValid(issuedAt time.Time) bool {
	return !u.Disabled() && !issuedAt.Before(u.SessionsValidAfter)
}

// Credentials is a user together with the encoded password hash. Only the
// service and the stores see it; it never leaves this package's API.
type Credentials struct {
	User         User
	PasswordHash string
}

// Meta describes the client on whose behalf an operation runs. Its fields
// are copied, sanitized, into audit events.
type Meta struct {
	// IP is the client address as determined by the app (realip).
	IP string
	// UserAgent is the User-Agent header as sent.
	UserAgent string
}

// Form field names used as keys of [ValidationError.Fields]; they match the
// form fields in CONTRACT.md.
const (
	FieldEmail           = "email"
	FieldPassword        = "password"
	FieldDisplayName     = "display_name"
	FieldCurrentPassword = "current_password"
	FieldNewPassword     = "new_password"
)

// ValidationError reports invalid input, with one user-facing message per
// form field. The app answers 422 and shows the messages next to the fields.
type ValidationError struct {
	// Fields maps a form field name (FieldEmail, ...) to a message that is
	// safe to show to the user.
	Fields map[string]string
}

// Error lists the invalid fields (not the messages).
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return "account: invalid " + strings.Join(names, ", ")
}

// add records msg for field, keeping the first message per field.
func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = make(map[string]string)
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

// orNil returns e if it has any field, else nil.
func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}
