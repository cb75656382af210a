package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/onetime"
)

// Email tokens: the one-time links mailed for address verification,
// password reset and email change.

// TokenPurpose says what an email token is for. A token works for its own
// purpose only: the purpose is mixed into the stored hash (see
// onetime.PurposeHash) and stored beside it.
type TokenPurpose string

// The purposes of email tokens.
const (
	// TokenVerifyEmail confirms the account's current address.
	TokenVerifyEmail TokenPurpose = "verify"
	// TokenResetPassword lets the owner of the address set a new password.
	TokenResetPassword TokenPurpose = "reset"
	// TokenChangeEmail confirms a new address for the account.
	TokenChangeEmail TokenPurpose = "change"
)

// hashPurpose is the onetime purpose string of p.
func (p TokenPurpose) hashPurpose() string {
	switch p {
	case TokenVerifyEmail:
		return onetime.PurposeVerifyEmail
	case TokenResetPassword:
		return onetime.PurposeResetPassword
	case TokenChangeEmail:
		return onetime.PurposeChangeEmail
	}
	return "gatehouse/unknown"
}

// FieldNewEmail is the form field of the new address in an email change.
const FieldNewEmail = "new_email"

// Audit event names of the email flows.
const (
	EventEmailVerify          EventName = "email.verify"
	EventPasswordResetRequest EventName = "password.reset.request"
	EventPasswordReset        EventName = "password.reset"
	EventEmailChangeRequest   EventName = "email.change.request"
	EventEmailChange          EventName = "email.change"
)

// ErrTokenInvalid is the one answer to every token that cannot be used:
// malformed, unknown, tampered with, of another purpose, expired, already
// used, voided by a newer token or a password change, or for an account
// that is disabled or whose address changed since. The reason goes to the
// audit trail only.
var ErrTokenInvalid = errors.New("account: invalid or expired token")

// EmailToken is the stored form of a token: never the token itself, only
// its selector and the purpose hash of its verifier.
type EmailToken struct {
	// Selector is the public half, to look the token up by.
	Selector string
	Purpose  TokenPurpose
	// UserID is the account the token acts on (0 for a decoy, never stored).
	UserID int64
	// Email is the address the token was mailed to: the account's address
	// for verification and reset, the new address for an email change.
	// EmailKey is its [EmailKey].
	Email    string
	EmailKey string
	// Hash is onetime.PurposeHash of the verifier.
	Hash []byte
	// CreatedAt and ExpiresAt bound the token's life; UsedAt is set once,
	// when it is redeemed (zero until then).
	CreatedAt, ExpiresAt, UsedAt time.Time
}

// EmailTokenStore is the storage port for email tokens (internal/db
// implements it). Implementations must be safe for concurrent use and
// store times in UTC.
type EmailTokenStore interface {
	// SaveToken deletes every token of t.UserID with t.Purpose, used or not,
	// and stores t, in one transaction, so that a user has at most one
	// live token per purpose. With commit false the same statements run
	// and are rolled back: the equal work done for an unknown address.
	SaveToken(ctx context.Context, t EmailToken, commit bool) error
	// TokenBySelector returns the token or ErrNotFound.
	TokenBySelector(ctx context.Context, selector string) (EmailToken, error)
	// UseToken sets UsedAt = now on the token if it is unused and expires
	// after now, atomically, and reports whether this call did it: of
	// concurrent callers exactly one gets true.
	UseToken(ctx context.Context, selector string, now time.Time) (bool, error)
	// ChangeEmail uses the token (as UseToken, and only if it belongs to
	// userID) and sets the user's email, email key and EmailVerifiedAt =
	// now, in one transaction. It returns ErrEmailTaken, changing nothing,
	// when another account has the key, and false when the token was no
	// longer usable.
	ChangeEmail(ctx context.Context, selector string, userID int64, email, key string, now time.Time) (bool, error)
	// DeleteTokens voids the user's unused tokens of the given purposes.
	DeleteTokens(ctx context.Context, userID int64, purposes ...TokenPurpose) error
	// PurgeTokens deletes tokens that expired before the given time, and
	// returns how many.
	PurgeTokens(ctx context.Context, before time.Time) (int64, error)
}

// EmailTokens issues and redeems the tokens of the email flows. It keeps
// the rules: at most one live token per user and purpose, a lifetime,
// single use (of concurrent redemptions exactly one wins), reset tokens
// void once the password changed, and tokens bound both to the account and
// to the address they were mailed to. It is safe for concurrent use.
type EmailTokens struct {
	svc   *Service
	store EmailTokenStore
}

// NewEmailTokens returns the email token rules on top of svc (its user
// store, hasher, policy, clock and audit trail) and store.
func NewEmailTokens(svc *Service, store EmailTokenStore) *EmailTokens {
	if svc == nil || store == nil {
		panic("account: NewEmailTokens needs a Service and a store")
	}
	return &EmailTokens{svc: svc, store: store}
}

// issue makes and stores (or, with commit false, does the work of storing)
// a token and returns its text.
func (e *EmailTokens) issue(ctx context.Context, purpose TokenPurpose, userID int64, email string, ttl time.Duration, commit bool) (string, error) {
	tok, err := onetime.New()
	if err != nil {
		return "", fmt.Errorf("account: new token: %w", err)
	}
	now := e.svc.clock()
	t := EmailToken{
		Selector: tok.Selector(), Purpose: purpose, UserID: userID, Email: email, EmailKey: EmailKey(email),
		Hash: tok.PurposeHash(purpose.hashPurpose()), CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := e.store.SaveToken(ctx, t, commit); err != nil {
		return "", fmt.Errorf("account: save token: %w", err)
	}
	if !commit {
		return "", nil
	}
	return tok.String(), nil
}

// Issue makes a token of purpose for u, mailed to email (u's address, or
// the new address of an email change), valid for ttl, and voids u's older
// tokens of that purpose. The returned text belongs in the mailed link and
// nowhere else.
func (e *EmailTokens) Issue(ctx context.Context, purpose TokenPurpose, u User, email string, ttl time.Duration) (string, error) {
	if u.ID <= 0 {
		return "", fmt.Errorf("account: issue token: %w", ErrNotFound)
	}
	return e.issue(ctx, purpose, u.ID, email, ttl, true)
}

// Decoy does the work of Issue, generating a token and running the store's
// statements, but keeps nothing: for the paths that must cost the same as
// a real one (an unknown address, a registration of a taken address).
func (e *EmailTokens) Decoy(ctx context.Context, purpose TokenPurpose, ttl time.Duration) error {
	_, err := e.issue(ctx, purpose, 0, "decoy@invalid", ttl, false)
	return err
}

// VoidResetTokens voids the user's pending password reset links, as after
// a password change.
func (e *EmailTokens) VoidResetTokens(ctx context.Context, userID int64) error {
	return e.store.DeleteTokens(ctx, userID, TokenResetPassword)
}

// Purge deletes tokens that expired more than a day ago.
func (e *EmailTokens) Purge(ctx context.Context) (int64, error) {
	return e.store.PurgeTokens(ctx, e.svc.clock().Add(-24*time.Hour))
}

// Check reports whether raw is a usable token of purpose without using it
// up (for the page that asks the user to confirm). It returns the token's
// row and user, or [ErrTokenInvalid].
func (e *EmailTokens) Check(ctx context.Context, purpose TokenPurpose, raw string) (EmailToken, User, error) {
	t, u, _, err := e.check(ctx, purpose, raw)
	return t, u, err
}

// check is Check, with the reason of a refusal for the audit trail.
func (e *EmailTokens) check(ctx context.Context, purpose TokenPurpose, raw string) (EmailToken, User, string, error) {
	sel, ver, err := onetime.Parse(raw)
	if err != nil {
		return EmailToken{}, User{}, "malformed token", ErrTokenInvalid
	}
	t, err := e.store.TokenBySelector(ctx, sel)
	switch {
	case errors.Is(err, ErrNotFound):
		return EmailToken{}, User{}, "unknown or voided token", ErrTokenInvalid
	case err != nil:
		return EmailToken{}, User{}, "", fmt.Errorf("account: look up token: %w", err)
	}
	// The purpose is checked twice: by the column, and by the hash, which
	// a token of another purpose can never match.
	if t.Purpose != purpose || !onetime.CheckPurpose(purpose.hashPurpose(), ver, t.Hash) {
		return EmailToken{}, User{}, "token does not match", ErrTokenInvalid
	}
	reason := ""
	now := e.svc.clock()
	switch {
	case !t.UsedAt.IsZero():
		reason = "token already used"
	case !now.Before(t.ExpiresAt):
		reason = "token expired"
	}
	if reason != "" {
		return EmailToken{}, User{}, reason, ErrTokenInvalid
	}
	u, err := e.svc.users.UserByID(ctx, t.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return EmailToken{}, User{}, "no such user", ErrTokenInvalid
	case err != nil:
		return EmailToken{}, User{}, "", fmt.Errorf("account: look up token user: %w", err)
	}
	switch {
	case u.Disabled():
		reason = "account disabled"
	case purpose != TokenChangeEmail && EmailKey(u.Email) != t.EmailKey:
		// The link went to an address the account no longer has.
		reason = "address changed since the token was issued"
	case purpose == TokenResetPassword && t.CreatedAt.Before(u.SessionsValidAfter):
		// A password change (or sign-out everywhere) voids reset links.
		reason = "password changed since the token was issued"
	}
	if reason != "" {
		return EmailToken{}, User{}, reason, ErrTokenInvalid
	}
	return t, u, "", nil
}

// refuse records a failed redemption and returns its error.
func (e *EmailTokens) refuse(ctx context.Context, m Meta, name EventName, userID int64, reason string, err error) error {
	if errors.Is(err, ErrTokenInvalid) {
		e.svc.record(ctx, m, name, OutcomeFailure, userID, 0, reason)
	}
	return err
}

// VerifyEmail redeems a verification token: the account's address is
// marked verified. Every failure is [ErrTokenInvalid] (or a storage error).
func (e *EmailTokens) VerifyEmail(ctx context.Context, raw string, m Meta) (User, error) {
	t, u, reason, err := e.check(ctx, TokenVerifyEmail, raw)
	if err != nil {
		return User{}, e.refuse(ctx, m, EventEmailVerify, 0, reason, err)
	}
	now := e.svc.clock()
	ok, err := e.store.UseToken(ctx, t.Selector, now)
	if err != nil {
		return User{}, fmt.Errorf("account: verify email: %w", err)
	}
	if !ok {
		return User{}, e.refuse(ctx, m, EventEmailVerify, u.ID, "token already used", ErrTokenInvalid)
	}
	if !u.EmailVerified() {
		if err := e.svc.users.SetEmailVerified(ctx, u.ID, now, now); err != nil {
			return User{}, fmt.Errorf("account: verify email: %w", err)
		}
	}
	e.svc.record(ctx, m, EventEmailVerify, OutcomeSuccess, u.ID, 0, "")
	return e.svc.users.UserByID(ctx, u.ID)
}

// ResetRequest is the result of [EmailTokens.RequestPasswordReset].
type ResetRequest struct {
	// Send is false when no enabled account has the address: mail nothing.
	Send bool
	// User is the account (mail the link to User.Email only) and Token the
	// token for the link, when Send.
	User  User
	Token string
}

// RequestPasswordReset starts a password reset for the account with the
// address email (compared by [EmailKey]). It does the same work whether or
// not there is such an account: one token is generated and one store
// transaction runs, committed only for a real, enabled account. An address
// that is not one gives a [*ValidationError] on "email"; anything else
// answers alike, and the requester must be told the same in every case.
func (e *EmailTokens) RequestPasswordReset(ctx context.Context, email string, ttl time.Duration, m Meta) (ResetRequest, error) {
	_, key, err := ParseEmail(email)
	if err != nil {
		return ResetRequest{}, &ValidationError{Fields: map[string]string{FieldEmail: "Enter a valid email address."}}
	}
	c, err := e.svc.users.CredentialsByEmailKey(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ResetRequest{}, fmt.Errorf("account: request password reset: %w", err)
	}
	found := err == nil && !c.User.Disabled()
	tok, err := e.issue(ctx, TokenResetPassword, c.User.ID, c.User.Email, ttl, found)
	if err != nil {
		return ResetRequest{}, err
	}
	if !found {
		reason := "unknown email " + key
		if c.User.ID != 0 {
			reason = "account disabled"
		}
		e.svc.record(ctx, m, EventPasswordResetRequest, OutcomeFailure, c.User.ID, 0, reason)
		return ResetRequest{}, nil
	}
	e.svc.record(ctx, m, EventPasswordResetRequest, OutcomeSuccess, c.User.ID, 0, "")
	return ResetRequest{Send: true, User: c.User, Token: tok}, nil
}

// ResetPassword redeems a reset token and sets newPassword, checked by the
// password policy. A bad token gives [ErrTokenInvalid]; a refused password
// a [*ValidationError] on "password", leaving the token usable. On success
// the token is used up (of concurrent calls exactly one succeeds), every
// other reset link of the user is void, SessionsValidAfter is set to now
// (ending every session and token of the user) and, since the owner just
// proved control of the mailbox, the address counts as verified. It does
// not sign anyone in.
func (e *EmailTokens) ResetPassword(ctx context.Context, raw, newPassword string, m Meta) (User, error) {
	t, u, reason, err := e.check(ctx, TokenResetPassword, raw)
	if err != nil {
		return User{}, e.refuse(ctx, m, EventPasswordReset, 0, reason, err)
	}
	hash, err := e.svc.newPasswordHash(ctx, "reset password", u, newPassword)
	if err != nil {
		var verr *ValidationError
		if errors.As(err, &verr) {
			e.svc.record(ctx, m, EventPasswordReset, OutcomeFailure, u.ID, 0, "new password refused by the policy")
		}
		return User{}, err
	}
	now := e.svc.clock()
	ok, err := e.store.UseToken(ctx, t.Selector, now)
	if err != nil {
		return User{}, fmt.Errorf("account: reset password: %w", err)
	}
	if !ok {
		return User{}, e.refuse(ctx, m, EventPasswordReset, u.ID, "token already used", ErrTokenInvalid)
	}
	if err := e.svc.users.SetPasswordHash(ctx, u.ID, hash, now, true); err != nil {
		return User{}, fmt.Errorf("account: reset password: %w", err)
	}
	if !u.EmailVerified() {
		if err := e.svc.users.SetEmailVerified(ctx, u.ID, now, now); err != nil {
			return User{}, fmt.Errorf("account: reset password: %w", err)
		}
	}
	if err := e.store.DeleteTokens(ctx, u.ID, TokenResetPassword); err != nil {
		// The password change already voids them (SessionsValidAfter).
		e.svc.logError(ctx, "void reset tokens", err)
	}
	e.svc.record(ctx, m, EventPasswordReset, OutcomeSuccess, u.ID, 0, "")
	return e.svc.users.UserByID(ctx, u.ID)
}

// EmailChange is the result of [EmailTokens.RequestEmailChange].
type EmailChange struct {
	// User is the account as it is now (mail the notice to User.Email).
	User User
	// NewEmail is the requested address, as it will be stored; mail Token
	// there and only there.
	NewEmail string
	Token    string
}

// RequestEmailChange starts changing the address of user userID to
// newEmail, after checking the account's password. The address changes
// only when the token mailed to newEmail is redeemed with
// [EmailTokens.ConfirmEmailChange]; whether another account has newEmail is
// not checked (nor revealed) here. A wrong password or an unusable address
// gives a [*ValidationError] on "password" and "new_email".
func (e *EmailTokens) RequestEmailChange(ctx context.Context, userID int64, password, newEmail string, ttl time.Duration, m Meta) (EmailChange, error) {
	c, err := e.svc.users.CredentialsByID(ctx, userID)
	if err != nil {
		return EmailChange{}, fmt.Errorf("account: request email change: %w", err)
	}
	if c.User.Disabled() {
		e.svc.record(ctx, m, EventEmailChangeRequest, OutcomeDenied, userID, 0, "account disabled")
		return EmailChange{}, ErrDisabled
	}
	var verr ValidationError
	addr, key, err := ParseEmail(newEmail)
	switch {
	case err != nil:
		verr.add(FieldNewEmail, "Enter a valid email address.")
	case key == EmailKey(c.User.Email):
		verr.add(FieldNewEmail, "This is already the address of your account.")
	}
	if err := e.svc.verifyPassword(ctx, c, password); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return EmailChange{}, cerr
		}
		if isBusy(err) {
			return EmailChange{}, wrap("request email change", err)
		}
		verr.add(FieldPassword, "The password is not correct.")
	}
	if err := verr.orNil(); err != nil {
		e.svc.record(ctx, m, EventEmailChangeRequest, OutcomeFailure, userID, 0, strings.TrimPrefix(verr.Error(), "account: "))
		return EmailChange{}, err
	}
	tok, err := e.issue(ctx, TokenChangeEmail, userID, addr, ttl, true)
	if err != nil {
		return EmailChange{}, err
	}
	e.svc.record(ctx, m, EventEmailChangeRequest, OutcomeSuccess, userID, 0, "new address "+addr)
	return EmailChange{User: c.User, NewEmail: addr, Token: tok}, nil
}

// ConfirmEmailChange redeems an email change token: the account it was
// issued for (and no other) gets the address it was issued for (and no
// other), verified. It returns the account before and after. A bad token
// gives [ErrTokenInvalid]; an address another account took in the meantime
// [ErrEmailTaken], changing nothing. The user's pending verification and
// reset links are void afterwards: they went to the old address.
func (e *EmailTokens) ConfirmEmailChange(ctx context.Context, raw string, m Meta) (before, after User, err error) {
	t, u, reason, err := e.check(ctx, TokenChangeEmail, raw)
	if err != nil {
		return User{}, User{}, e.refuse(ctx, m, EventEmailChange, 0, reason, err)
	}
	ok, err := e.store.ChangeEmail(ctx, t.Selector, u.ID, t.Email, t.EmailKey, e.svc.clock())
	switch {
	case errors.Is(err, ErrEmailTaken):
		e.svc.record(ctx, m, EventEmailChange, OutcomeFailure, u.ID, 0, "address "+t.Email+" is taken")
		return User{}, User{}, ErrEmailTaken
	case err != nil:
		return User{}, User{}, fmt.Errorf("account: confirm email change: %w", err)
	case !ok:
		return User{}, User{}, e.refuse(ctx, m, EventEmailChange, u.ID, "token already used", ErrTokenInvalid)
	}
	if err := e.store.DeleteTokens(ctx, u.ID, TokenVerifyEmail, TokenResetPassword); err != nil {
		// They are void anyway: their address no longer matches.
		e.svc.logError(ctx, "void tokens after email change", err)
	}
	e.svc.record(ctx, m, EventEmailChange, OutcomeSuccess, u.ID, 0, "from "+u.Email+" to "+t.Email)
	after, err = e.svc.users.UserByID(ctx, u.ID)
	if err != nil {
		return User{}, User{}, fmt.Errorf("account: confirm email change: %w", err)
	}
	return u, after, nil
}
