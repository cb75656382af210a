package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/password"
)

// Config holds the dependencies of a [Service].
type Config struct {
	// Users and Audit are the storage ports (internal/db implements both).
	Users UserStore
	Audit AuditStore
	// Hasher hashes and verifies passwords; Policy checks new ones.
	Hasher PasswordHasher
	Policy PasswordPolicy
	// Now is the clock; nil means time.Now. Times are stored in UTC.
	Now func() time.Time
	// Log, if not nil, also receives every audit event (sanitized) at Info
	// level, as a record with message "audit". Failing to store an audit
	// event is logged at Error level.
	Log *slog.Logger
}

// Service applies the account rules. It is safe for concurrent use.
type Service struct {
	users  UserStore
	audit  AuditStore
	hasher PasswordHasher
	policy PasswordPolicy
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns a Service. Users, Audit, Hasher and Policy are
// required; it panics without them, since that is a wiring bug.
func NewService(c Config) *Service {
	if c.Users == nil || c.Audit == nil || c.Hasher == nil || c.Policy == nil {
		panic("account: NewService needs Users, Audit, Hasher and Policy")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{users: c.Users, audit: c.Audit, hasher: c.Hasher, policy: c.Policy, now: c.Now, log: c.Log}
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// wrap adds op to err, and ErrBusy when the hasher was busy.
func wrap(op string, err error) error {
	if errors.Is(err, password.ErrBusy) {
		return fmt.Errorf("%w: %s: %w", ErrBusy, op, err)
	}
	return fmt.Errorf("account: %s: %w", op, err)
}

func isBusy(err error) bool { return errors.Is(err, password.ErrBusy) }

// Record sanitizes e, fills At with the current time if it is zero, and
// appends it to the audit trail. The app uses it for events it detects
// itself (CSRF refusals, sign-outs); the service records its own.
func (s *Service) Record(ctx context.Context, e Event) error {
	if e.At.IsZero() {
		e.At = s.clock()
	}
	e = SanitizeEvent(e)
	if s.log != nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "audit",
			slog.String("event", string(e.Name)), slog.String("outcome", string(e.Outcome)),
			slog.Int64("user", e.UserID), slog.Int64("actor", e.ActorID),
			slog.String("ip", e.IP), slog.String("ua", e.UserAgent), slog.String("detail", e.Detail))
	}
	// Audit must not be lost because the request was cancelled mid-way.
	ctx = context.WithoutCancel(ctx)
	if _, err := s.audit.InsertAudit(ctx, e); err != nil {
		if s.log != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "audit insert failed",
				slog.String("event", string(e.Name)), slog.String("error", err.Error()))
		}
		return fmt.Errorf("account: record audit event: %w", err)
	}
	return nil
}

// record is Record for the service's own events: a failed audit insert
// is logged (by Record) but does not fail the operation it describes.
func (s *Service) record(ctx context.Context, m Meta, name EventName, outcome Outcome, userID, actorID int64, detail string) {
	_ = s.Record(ctx, Event{
		UserID: userID, ActorID: actorID, Name: name, Outcome: outcome,
		IP: m.IP, UserAgent: m.UserAgent, Detail: detail,
	})
}

// ListAudit returns audit events matching f, newest first. Limit defaults
// to 50 and is capped at 1000.
func (s *Service) ListAudit(ctx context.Context, f AuditFilter) ([]Event, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	f.Offset = max(f.Offset, 0)
	return s.audit.ListAudit(ctx, f)
}

// RegisterInput is the registration form.
type RegisterInput struct {
	Email       string
	Password    string
	DisplayName string
}

// Registration is the result of [Service.Register].
//
// The requester must get the same answer whether Existing is true or not
// (for example "check your inbox"). When Existing is true, User is the
// account that already owned the address: nothing was changed, and the app
// may send that account's owner a notice ("someone tried to register with
// your address") to the stored address. When Existing is false, User is the
// new account.
type Registration struct {
	User     User
	Existing bool
}

// Register validates the input and creates an account with [RoleUser].
//
// Invalid input returns a [*ValidationError] (fields email, password,
// display_name). If the address is already registered (compared by
// [EmailKey]), Register does the same hashing work, changes nothing, records
// a failed "register" audit event for the existing account and returns a
// Registration with Existing set and a nil error.
func (s *Service) Register(ctx context.Context, in RegisterInput, m Meta) (Registration, error) {
	// Hashed before knowing whether the address is taken, so both paths
	// cost the same.
	nu, err := s.newUser(ctx, "register", in.Email, in.Password, in.DisplayName)
	if err != nil {
		return Registration{}, err
	}
	key := nu.EmailKey
	u, err := s.users.CreateUser(ctx, nu)
	switch {
	case errors.Is(err, ErrEmailTaken):
		c, lerr := s.users.CredentialsByEmailKey(ctx, key)
		if lerr != nil {
			return Registration{}, fmt.Errorf("account: register: look up existing: %w", lerr)
		}
		s.record(ctx, m, EventRegister, OutcomeFailure, c.User.ID, 0, "email already registered")
		return Registration{User: c.User, Existing: true}, nil
	case err != nil:
		return Registration{}, fmt.Errorf("account: register: %w", err)
	}
	s.record(ctx, m, EventRegister, OutcomeSuccess, u.ID, 0, "")
	return Registration{User: u}, nil
}

// newUser validates a new account's fields (a [*ValidationError] with
// every invalid field) and hashes its password.
func (s *Service) newUser(ctx context.Context, op, email, pw, displayName string) (NewUser, error) {
	var verr ValidationError
	email, key, err := ParseEmail(email)
	if err != nil {
		verr.add(FieldEmail, "Enter a valid email address.")
	}
	name, err := ParseDisplayName(displayName)
	if err != nil {
		verr.add(FieldDisplayName, fmt.Sprintf("Use at most %d characters, without control characters.", MaxDisplayNameRunes))
	}
	if err := s.checkPolicy(pw, email); err != nil {
		verr.add(FieldPassword, PolicyMessage(err))
	}
	if err := verr.orNil(); err != nil {
		return NewUser{}, err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return NewUser{}, wrap(op, err)
	}
	return NewUser{Email: email, EmailKey: key, DisplayName: name, PasswordHash: hash,
		Roles: []Role{RoleUser}, Now: s.clock()}, nil
}

// checkPolicy bounds the password before handing it to the policy.
func (s *Service) checkPolicy(pw, email string) error {
	if len(pw) > MaxPasswordBytes {
		return errTooLong
	}
	return s.policy.Check(pw, email)
}

var errTooLong = errors.New("account: password is too long")

// PolicyMessage turns a [PasswordPolicy] error into a message for the user.
// An error with a UserMessage() string method supplies its own; otherwise
// the error text is used with its "pkg: " prefix removed.
func PolicyMessage(err error) string {
	var um interface{ UserMessage() string }
	if errors.As(err, &um) {
		return um.UserMessage()
	}
	if errors.Is(err, errTooLong) {
		return "This password is too long."
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && i < 20 {
		msg = msg[i+2:]
	}
	if msg == "" {
		return "Choose a different password."
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// Authenticate checks an email and password and returns the user.
//
// Every failure returns [ErrInvalidCredentials]: an unknown or malformed
// email (after a dummy verification costing the same work), a wrong
// password, or a disabled account (refused only after the password was
// verified, so that timing reveals nothing). The reason goes into the audit
// event's detail only. On success, a hash with outdated parameters is
// replaced by a fresh one (compare-and-swap, so a concurrent password change
// wins). A cancelled ctx returns ctx.Err(); a busy hasher returns an error
// wrapping [ErrBusy], on the known and unknown paths alike.
func (s *Service) Authenticate(ctx context.Context, email, password string, m Meta) (User, error) {
	fail := func(userID int64, reason string, verr error) (User, error) {
		if err := ctx.Err(); err != nil {
			return User{}, err
		}
		if isBusy(verr) {
			s.record(ctx, m, EventLoginFailure, OutcomeError, userID, 0, "password hasher busy")
			return User{}, wrap("authenticate", verr)
		}
		s.record(ctx, m, EventLoginFailure, OutcomeFailure, userID, 0, reason)
		return User{}, ErrInvalidCredentials
	}
	if len(password) > MaxPasswordBytes {
		return fail(0, "password too long", s.hasher.VerifyDummy(ctx, ""))
	}
	_, key, err := ParseEmail(email)
	if err != nil {
		// The typed text is not logged: it may be a mistyped password.
		return fail(0, "malformed email", s.hasher.VerifyDummy(ctx, password))
	}
	c, err := s.users.CredentialsByEmailKey(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return fail(0, "unknown email "+key, s.hasher.VerifyDummy(ctx, password))
	}
	if err != nil {
		return User{}, fmt.Errorf("account: authenticate: %w", err)
	}
	needsRehash, err := s.hasher.Verify(ctx, password, c.PasswordHash)
	if err != nil {
		return fail(c.User.ID, "wrong password: "+err.Error(), err)
	}
	if c.User.Disabled() {
		return fail(c.User.ID, "account disabled", nil)
	}
	detail := ""
	if needsRehash {
		detail = "password hash upgraded"
		if err := s.rehash(ctx, c, password); err != nil {
			detail = "password hash upgrade failed"
		}
	}
	s.record(ctx, m, EventLoginSuccess, OutcomeSuccess, c.User.ID, 0, detail)
	return c.User, nil
}

func (s *Service) rehash(ctx context.Context, c Credentials, password string) error {
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.users.ReplacePasswordHash(ctx, c.User.ID, c.PasswordHash, h, s.clock())
	return err
}

// ChangePassword replaces the password of user userID after checking the
// current one.
//
// A wrong current password gives a [*ValidationError] on current_password;
// a new password the policy refuses (or equal to the current one) gives one
// on new_password; both can be reported together. On success the hash is
// replaced and SessionsValidAfter is set to now, which invalidates every
// existing session and token of the user, including the caller's: the app
// should issue the caller a fresh session. The returned User carries the new
// SessionsValidAfter.
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, newPassword string, m Meta) (User, error) {
	c, err := s.users.CredentialsByID(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("account: change password: %w", err)
	}
	if c.User.Disabled() {
		s.record(ctx, m, EventPasswordChange, OutcomeDenied, userID, 0, "account disabled")
		return User{}, ErrDisabled
	}
	var verr ValidationError
	if err := s.checkPolicy(newPassword, c.User.Email); err != nil {
		verr.add(FieldNewPassword, PolicyMessage(err))
	} else if newPassword == current {
		verr.add(FieldNewPassword, "Choose a password different from the current one.")
	}
	var err2 error
	if len(current) > MaxPasswordBytes {
		err2 = s.hasher.VerifyDummy(ctx, "")
		if err2 == nil {
			err2 = errTooLong
		}
	} else {
		_, err2 = s.hasher.Verify(ctx, current, c.PasswordHash)
	}
	if err2 != nil {
		if cerr := ctx.Err(); cerr != nil {
			return User{}, cerr
		}
		if isBusy(err2) {
			return User{}, wrap("change password", err2)
		}
		verr.add(FieldCurrentPassword, "The current password is not correct.")
	}
	if err := verr.orNil(); err != nil {
		reason := "invalid " + strings.TrimPrefix(err.Error(), "account: invalid ")
		s.record(ctx, m, EventPasswordChange, OutcomeFailure, userID, 0, reason)
		return User{}, err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return User{}, wrap("change password", err)
	}
	now := s.clock()
	if err := s.users.SetPasswordHash(ctx, userID, hash, now, true); err != nil {
		return User{}, fmt.Errorf("account: change password: %w", err)
	}
	s.record(ctx, m, EventPasswordChange, OutcomeSuccess, userID, 0, "")
	u, err := s.users.UserByID(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("account: change password: %w", err)
	}
	return u, nil
}

// UserByID returns the user or an error wrapping [ErrNotFound].
func (s *Service) UserByID(ctx context.Context, id int64) (User, error) {
	return s.users.UserByID(ctx, id)
}

// UserByEmail returns the user whose address has the same [EmailKey] as
// email, or an error wrapping [ErrNotFound]. For the CLI and admin tools;
// never use it to answer an anonymous request.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	c, err := s.users.CredentialsByEmailKey(ctx, EmailKey(email))
	if err != nil {
		return User{}, err
	}
	return c.User, nil
}

// UserPage is one page of [Service.ListUsers].
type UserPage struct {
	Users []User
	// Total is the number of users matching the search; Page (from 1) and
	// Limit describe this page.
	Total, Page, Limit int
}

// Pages returns the number of pages.
func (p UserPage) Pages() int {
	if p.Limit <= 0 {
		return 0
	}
	return (p.Total + p.Limit - 1) / p.Limit
}

// ListUsers returns page (from 1) of users ordered by ID, limit per page
// (default 50, at most 200), optionally filtered by search (matched
// literally, at most 254 bytes, against the email and the display name).
// Admin-only: the app must check the role before calling it.
func (s *Service) ListUsers(ctx context.Context, page, limit int, search string) (UserPage, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	page = max(page, 1)
	page = min(page, 1_000_000)
	search = strings.ToLower(strings.TrimSpace(search))
	if len(search) > MaxEmailBytes {
		search = search[:MaxEmailBytes]
	}
	users, total, err := s.users.ListUsers(ctx, UserQuery{Search: search, Limit: limit, Offset: (page - 1) * limit})
	if err != nil {
		return UserPage{}, fmt.Errorf("account: list users: %w", err)
	}
	return UserPage{Users: users, Total: total, Page: page, Limit: limit}, nil
}

// SetDisabled disables or enables user userID on behalf of actor.
//
// The actor is re-read from the store and must be an enabled admin
// ([ErrForbidden] otherwise); an admin cannot disable their own account
// ([ErrCannotDisableSelf]). Disabling sets SessionsValidAfter, which ends
// every session and token of the user. Every attempt is audited
// (admin.disable / admin.enable) with both the user and the actor.
func (s *Service) SetDisabled(ctx context.Context, actor User, userID int64, disabled bool, m Meta) error {
	name := EventAdminEnable
	if disabled {
		name = EventAdminDisable
	}
	a, err := s.users.UserByID(ctx, actor.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("account: set disabled: %w", err)
	}
	if err != nil || !a.IsAdmin() || a.Disabled() {
		s.record(ctx, m, name, OutcomeDenied, userID, actor.ID, "actor is not an admin")
		return ErrForbidden
	}
	if disabled && userID == a.ID {
		s.record(ctx, m, name, OutcomeDenied, userID, a.ID, "cannot disable own account")
		return ErrCannotDisableSelf
	}
	return s.setDisabled(ctx, a.ID, userID, disabled, name, m, "")
}

// SetDisabledByOperator disables or enables user userID without an actor
// account, for the command line ("gatehouse user disable E"), whose caller
// already controls the server. It is audited with detail "operator".
func (s *Service) SetDisabledByOperator(ctx context.Context, userID int64, disabled bool, m Meta) error {
	name := EventAdminEnable
	if disabled {
		name = EventAdminDisable
	}
	return s.setDisabled(ctx, 0, userID, disabled, name, m, "operator")
}

func (s *Service) setDisabled(ctx context.Context, actorID, userID int64, disabled bool, name EventName, m Meta, detail string) error {
	if err := s.users.SetDisabled(ctx, userID, disabled, s.clock()); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.record(ctx, m, name, OutcomeFailure, 0, actorID, strings.TrimSpace(detail+" no such user"))
		}
		return fmt.Errorf("account: set disabled: %w", err)
	}
	s.record(ctx, m, name, OutcomeSuccess, userID, actorID, detail)
	return nil
}

// SetRoles replaces the roles of user userID (RoleUser is always kept),
// for trusted callers: the command line, or the app after it checked that
// the caller is an admin. actorID (0 for the operator) is recorded in the
// audit event. Unknown roles give a [*ValidationError] on "roles".
func (s *Service) SetRoles(ctx context.Context, actorID, userID int64, roles []Role, m Meta) error {
	rs, ok := NormalizeRoles(roles)
	if !ok {
		return &ValidationError{Fields: map[string]string{"roles": "Unknown role."}}
	}
	if err := s.users.SetRoles(ctx, userID, rs, s.clock()); err != nil {
		return fmt.Errorf("account: set roles: %w", err)
	}
	s.record(ctx, m, EventRolesChange, OutcomeSuccess, userID, actorID, "roles="+joinRoles(rs))
	return nil
}

func joinRoles(rs []Role) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, ",")
}

// RevokeSessions sets the user's SessionsValidAfter to now, ending every
// session and token issued before ("sign out everywhere"). Audited as
// logout.all.
func (s *Service) RevokeSessions(ctx context.Context, userID int64, m Meta) (User, error) {
	if err := s.users.RevokeSessions(ctx, userID, s.clock()); err != nil {
		return User{}, fmt.Errorf("account: revoke sessions: %w", err)
	}
	s.record(ctx, m, EventLogoutAll, OutcomeSuccess, userID, 0, "")
	return s.users.UserByID(ctx, userID)
}

// CreateUserInput is the input of [Service.CreateUser].
type CreateUserInput struct {
	Email       string
	Password    string
	DisplayName string
	// Admin grants RoleAdmin; Verified marks the address as verified.
	Admin, Verified bool
}

// CreateUser creates an account for the command line ("gatehouse user
// create"), which may reveal that an address exists: a duplicate returns
// an error wrapping [ErrEmailTaken]. Input is validated as in Register.
// Audited as user.create.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput, m Meta) (User, error) {
	nu, err := s.newUser(ctx, "create user", in.Email, in.Password, in.DisplayName)
	if err != nil {
		return User{}, err
	}
	key := nu.EmailKey
	if in.Admin {
		nu.Roles = []Role{RoleAdmin, RoleUser}
	}
	if in.Verified {
		nu.EmailVerifiedAt = nu.Now
	}
	u, err := s.users.CreateUser(ctx, nu)
	if err != nil {
		if errors.Is(err, ErrEmailTaken) {
			s.record(ctx, m, EventUserCreate, OutcomeFailure, 0, 0, "email already registered: "+key)
		}
		return User{}, fmt.Errorf("account: create user: %w", err)
	}
	s.record(ctx, m, EventUserCreate, OutcomeSuccess, u.ID, 0, "roles="+joinRoles(u.Roles))
	return u, nil
}
