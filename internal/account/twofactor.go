package account

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/totp"
)

// Two-factor sign-in: a TOTP secret per user (RFC 6238, as authenticator
// apps use it) and single-use recovery codes.

// The audit events of two-factor sign-in.
const (
	EventTwoFactorSetup         EventName = "2fa.setup"          // a new secret was made (not yet on)
	EventTwoFactorEnable        EventName = "2fa.enable"         // the first code confirmed it
	EventTwoFactorVerify        EventName = "2fa.verify"         // a code was checked at sign-in
	EventTwoFactorDisable       EventName = "2fa.disable"        // the user turned it off
	EventTwoFactorRecoveryCodes EventName = "2fa.recovery_codes" // a new set of recovery codes
	EventTwoFactorReset         EventName = "2fa.reset"          // an admin or the operator turned it off
)

// Errors of two-factor sign-in. Match them with errors.Is.
var (
	// ErrTwoFactorCode is the one answer to a code that is not accepted:
	// empty, malformed, too long, wrong, outside the time window, replayed
	// or an already used recovery code. The reason goes to the audit trail
	// only (the error may wrap a totp error for tests and logs).
	ErrTwoFactorCode = errors.New("account: second-factor code not accepted")
	// ErrTwoFactorOff means the user has no second factor turned on.
	ErrTwoFactorOff = errors.New("account: two-factor sign-in is off")
	// ErrTwoFactorOn means the user already has a second factor turned on
	// (it must be turned off before a new secret is made).
	ErrTwoFactorOn = errors.New("account: two-factor sign-in is already on")
	// ErrTwoFactorNoSetup means there is no setup waiting for its first
	// code (or another setup replaced it).
	ErrTwoFactorNoSetup = errors.New("account: no two-factor setup in progress")
)

// MaxCodeInputBytes bounds a second-factor code as typed (a TOTP code or a
// recovery code, with spaces or hyphens); longer input is refused unread.
const MaxCodeInputBytes = 64

// TOTPRecord is what a [TwoFactorStore] keeps for one user's TOTP secret.
type TOTPRecord struct {
	UserID int64
	// Secret is sealed (encrypted and authenticated); see [SecretSealer].
	Secret []byte
	// EnabledAt is zero while the setup waits for its first code.
	EnabledAt time.Time
	// LastStep is the last accepted time step (totp.Step); codes of this
	// step or older are refused.
	LastStep             int64
	CreatedAt, UpdatedAt time.Time
}

// Enabled reports whether the secret was confirmed and is in use.
func (r TOTPRecord) Enabled() bool { return !r.EnabledAt.IsZero() }

// RecoveryCode is a stored, unused recovery code: its id and SHA-256 hash
// (totp.HashRecoveryCode).
type RecoveryCode struct {
	ID   int64
	Hash []byte
}

// TwoFactorStore is the storage port of two-factor sign-in (internal/db
// implements it). The methods that accept a code are compare-and-set, so
// that two concurrent uses of one code cannot both succeed.
type TwoFactorStore interface {
	// TOTP returns the user's record, or ErrNotFound.
	TOTP(ctx context.Context, userID int64) (TOTPRecord, error)
	// SavePendingTOTP stores sealed as the user's secret, not yet on,
	// replacing any earlier pending one. ErrTwoFactorOn if a secret is on.
	SavePendingTOTP(ctx context.Context, userID int64, sealed []byte, now time.Time) error
	// EnableTOTP turns on the pending secret equal to sealed, with step as
	// its last used step, and replaces the user's recovery codes with
	// hashes, all at once. ErrTwoFactorNoSetup if no pending secret is
	// equal to sealed.
	EnableTOTP(ctx context.Context, userID int64, sealed []byte, step int64, hashes [][]byte, now time.Time) error
	// UseTOTPStep records step as used, and stores resealed in place of
	// the secret, if the user's secret is on, still equal to sealed, and
	// step is after its last used step; it reports whether it did.
	UseTOTPStep(ctx context.Context, userID, step int64, sealed, resealed []byte, now time.Time) (bool, error)
	// RecoveryCodes returns the user's unused recovery codes.
	RecoveryCodes(ctx context.Context, userID int64) ([]RecoveryCode, error)
	// UseRecoveryCode marks the code used if it is the user's and unused,
	// and reports whether it did.
	UseRecoveryCode(ctx context.Context, userID, codeID int64, now time.Time) (bool, error)
	// ReplaceRecoveryCodes replaces every recovery code of the user with
	// hashes. ErrTwoFactorOff unless the user's secret is on.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, now time.Time) error
	// DeleteTwoFactor removes the user's secret and recovery codes and
	// reports whether a secret was on.
	DeleteTwoFactor(ctx context.Context, userID int64) (wasOn bool, err error)
}

// SecretSealer encrypts TOTP secrets at rest; *keyring.AEAD implements it.
// The additional data binds a sealed secret to its user.
type SecretSealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// TwoFactorConfig holds the dependencies of a [TwoFactor].
type TwoFactorConfig struct {
	// Accounts checks passwords and records audit events.
	Accounts *Service
	// Store keeps secrets and recovery codes; Sealer encrypts secrets.
	Store  TwoFactorStore
	Sealer SecretSealer
	// Passkeys, if not nil, holds the user's passkeys: [TwoFactor.Reset]
	// removes them too.
	Passkeys PasskeyStore
	// Issuer names the service in authenticator apps (default "Gatehouse").
	Issuer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TwoFactor applies the rules of two-factor sign-in. It is safe for
// concurrent use. It does not limit attempts: a 6-digit code can be
// guessed, so the caller must rate-limit every method that takes a code.
type TwoFactor struct {
	acc    *Service
	store  TwoFactorStore
	sealer SecretSealer
	keys   PasskeyStore
	issuer string
	now    func() time.Time
}

// NewTwoFactor returns a TwoFactor. Accounts, Store and Sealer are
// required; it panics without them, since that is a wiring bug.
func NewTwoFactor(c TwoFactorConfig) *TwoFactor {
	if c.Accounts == nil || c.Store == nil || c.Sealer == nil {
		panic("account: NewTwoFactor needs Accounts, Store and Sealer")
	}
	if c.Issuer == "" {
		c.Issuer = "Gatehouse"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &TwoFactor{acc: c.Accounts, store: c.Store, sealer: c.Sealer, keys: c.Passkeys, issuer: c.Issuer, now: c.Now}
}

// VerifyPassword checks the password of user userID, for operations that
// ask for it again (such as turning on two-factor sign-in). It records no
// audit event: the caller records its own.
//
// A wrong or over-long password gives ErrInvalidCredentials (after the same
// hashing work); a disabled account ErrDisabled (after the password was
// checked); a busy hasher an error wrapping ErrBusy; an unknown user
// ErrNotFound.
func (s *Service) VerifyPassword(ctx context.Context, userID int64, password string) (User, error) {
	c, err := s.users.CredentialsByID(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("account: verify password: %w", err)
	}
	var verr error
	if len(password) > MaxPasswordBytes {
		verr = s.hasher.VerifyDummy(ctx, "")
		if verr == nil {
			verr = errTooLong
		}
	} else {
		_, verr = s.hasher.Verify(ctx, password, c.PasswordHash)
	}
	if verr != nil {
		if err := ctx.Err(); err != nil {
			return User{}, err
		}
		if isBusy(verr) {
			return User{}, wrap("verify password", verr)
		}
		return User{}, ErrInvalidCredentials
	}
	if c.User.Disabled() {
		return User{}, ErrDisabled
	}
	return c.User, nil
}

// TwoFactorStatus describes a user's second factor for the account page.
type TwoFactorStatus struct {
	// Enabled reports whether TOTP is on, since EnabledAt.
	Enabled   bool
	EnabledAt time.Time
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
}

// Status returns the state of the user's second factor.
func (t *TwoFactor) Status(ctx context.Context, userID int64) (TwoFactorStatus, error) {
	rec, err := t.store.TOTP(ctx, userID)
	if errors.Is(err, ErrNotFound) || (err == nil && !rec.Enabled()) {
		return TwoFactorStatus{}, nil
	}
	if err != nil {
		return TwoFactorStatus{}, fmt.Errorf("account: two-factor status: %w", err)
	}
	codes, err := t.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return TwoFactorStatus{}, fmt.Errorf("account: two-factor status: %w", err)
	}
	return TwoFactorStatus{Enabled: true, EnabledAt: rec.EnabledAt, RecoveryCodesLeft: len(codes)}, nil
}

// Enabled reports whether sign-in needs a second factor for the user.
func (t *TwoFactor) Enabled(ctx context.Context, userID int64) (bool, error) {
	rec, err := t.store.TOTP(ctx, userID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("account: two-factor status: %w", err)
	}
	return rec.Enabled(), nil
}

// additionalData binds a sealed secret to its user, so that a secret
// copied to another user's row does not open.
func tfAdditionalData(userID int64) []byte { return []byte("user:" + strconv.FormatInt(userID, 10)) }

func (t *TwoFactor) key(u User, secret []byte) totp.Key {
	k := totp.Key{Issuer: t.issuer, AccountName: u.Email, Secret: secret}
	if k.Validate() != nil {
		k.AccountName = "user " + strconv.FormatInt(u.ID, 10)
	}
	return k
}

// Begin starts a TOTP setup after checking the password: a new 160-bit
// secret is stored sealed, not yet on, and returned as a key for an
// authenticator app. A wrong password gives ErrInvalidCredentials; a user
// whose TOTP is already on ErrTwoFactorOn. Audited as 2fa.setup.
func (t *TwoFactor) Begin(ctx context.Context, userID int64, password string, m Meta) (totp.Key, error) {
	u, err := t.acc.VerifyPassword(ctx, userID, password)
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrDisabled) {
			t.acc.record(ctx, m, EventTwoFactorSetup, OutcomeFailure, userID, 0, tfReason(err))
		}
		return totp.Key{}, err
	}
	if on, err := t.Enabled(ctx, userID); err != nil {
		return totp.Key{}, err
	} else if on {
		return totp.Key{}, ErrTwoFactorOn
	}
	secret, err := totp.NewSecret()
	if err != nil {
		return totp.Key{}, fmt.Errorf("account: two-factor setup: %w", err)
	}
	sealed, err := t.sealer.Seal(secret, tfAdditionalData(userID))
	if err != nil {
		return totp.Key{}, fmt.Errorf("account: two-factor setup: %w", err)
	}
	if err := t.store.SavePendingTOTP(ctx, userID, sealed, t.now().UTC()); err != nil {
		if errors.Is(err, ErrTwoFactorOn) {
			return totp.Key{}, ErrTwoFactorOn
		}
		return totp.Key{}, fmt.Errorf("account: two-factor setup: %w", err)
	}
	t.acc.record(ctx, m, EventTwoFactorSetup, OutcomeSuccess, userID, 0, "")
	return t.key(u, secret), nil
}

// PendingKey returns the key of the setup waiting for its first code, to
// show it again. ErrTwoFactorNoSetup if there is none.
func (t *TwoFactor) PendingKey(ctx context.Context, userID int64) (totp.Key, error) {
	rec, err := t.store.TOTP(ctx, userID)
	if errors.Is(err, ErrNotFound) || (err == nil && rec.Enabled()) {
		return totp.Key{}, ErrTwoFactorNoSetup
	}
	if err != nil {
		return totp.Key{}, fmt.Errorf("account: two-factor setup: %w", err)
	}
	u, err := t.acc.UserByID(ctx, userID)
	if err != nil {
		return totp.Key{}, fmt.Errorf("account: two-factor setup: %w", err)
	}
	secret, err := t.open(rec)
	if err != nil {
		return totp.Key{}, err
	}
	return t.key(u, secret), nil
}

func (t *TwoFactor) open(rec TOTPRecord) ([]byte, error) {
	secret, err := t.sealer.Open(rec.Secret, tfAdditionalData(rec.UserID))
	if err != nil {
		return nil, fmt.Errorf("account: open TOTP secret of user %d: %w", rec.UserID, err)
	}
	return secret, nil
}

// Confirm turns on the pending setup when code is right for it, and
// returns a fresh set of recovery codes to show the user once (only their
// hashes are kept). The code's step counts as used. A wrong code gives
// ErrTwoFactorCode; no pending setup ErrTwoFactorNoSetup (or ErrTwoFactorOn
// if TOTP is already on). Audited as 2fa.enable.
func (t *TwoFactor) Confirm(ctx context.Context, userID int64, code string, m Meta) ([]string, error) {
	rec, err := t.store.TOTP(ctx, userID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrTwoFactorNoSetup
	case err != nil:
		return nil, fmt.Errorf("account: two-factor confirm: %w", err)
	case rec.Enabled():
		return nil, ErrTwoFactorOn
	}
	fail := func(why string, cause error) ([]string, error) {
		t.acc.record(ctx, m, EventTwoFactorEnable, OutcomeFailure, userID, 0, why)
		return nil, fmt.Errorf("%w: %w", ErrTwoFactorCode, cause)
	}
	if len(code) > MaxCodeInputBytes {
		return fail("code too long", totp.ErrMalformed)
	}
	secret, err := t.open(rec)
	if err != nil {
		return nil, err
	}
	step, err := totp.Verify(secret, code, t.now(), rec.LastStep)
	clear(secret)
	if err != nil {
		if tfIsCodeError(err) {
			return fail(tfCodeReason(err), err)
		}
		return nil, fmt.Errorf("account: two-factor confirm: %w", err)
	}
	codes, hashes, err := tfNewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := t.store.EnableTOTP(ctx, userID, rec.Secret, step, hashes, t.now().UTC()); err != nil {
		if errors.Is(err, ErrTwoFactorNoSetup) {
			// Another setup replaced this one meanwhile.
			return fail("setup replaced meanwhile", err)
		}
		return nil, fmt.Errorf("account: two-factor confirm: %w", err)
	}
	t.acc.record(ctx, m, EventTwoFactorEnable, OutcomeSuccess, userID, 0, "totp")
	return codes, nil
}

func tfNewRecoveryCodes() ([]string, [][]byte, error) {
	codes, err := totp.NewRecoveryCodes(totp.DefaultRecoveryCodes)
	if err != nil {
		return nil, nil, fmt.Errorf("account: recovery codes: %w", err)
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = totp.HashRecoveryCode(c)
	}
	return codes, hashes, nil
}

// TwoFactorMethod says which kind of second factor was accepted.
type TwoFactorMethod string

// The second-factor methods.
const (
	TwoFactorTOTP         TwoFactorMethod = "totp"
	TwoFactorRecoveryCode TwoFactorMethod = "recovery code"
)

// TwoFactorResult describes an accepted second factor.
type TwoFactorResult struct {
	Method TwoFactorMethod
	// RecoveryCodesLeft counts the unused recovery codes after this one
	// (for TwoFactorRecoveryCode only).
	RecoveryCodesLeft int
}

// Verify checks a second-factor code at sign-in: a TOTP code (6 digits,
// spaces allowed) or a recovery code, told apart by their form. A TOTP
// code's step is recorded, and a recovery code spent, atomically with
// accepting it. Any refusal is ErrTwoFactorCode; a user without a second
// factor ErrTwoFactorOff. Audited as 2fa.verify.
func (t *TwoFactor) Verify(ctx context.Context, userID int64, code string, m Meta) (TwoFactorResult, error) {
	return t.check(ctx, userID, code, m, EventTwoFactorVerify)
}

// check verifies code for an enabled user and records the outcome as
// event name.
func (t *TwoFactor) check(ctx context.Context, userID int64, code string, m Meta, name EventName) (TwoFactorResult, error) {
	rec, err := t.store.TOTP(ctx, userID)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && !rec.Enabled()):
		return TwoFactorResult{}, ErrTwoFactorOff
	case err != nil:
		return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
	}
	fail := func(why string, cause error) (TwoFactorResult, error) {
		t.acc.record(ctx, m, name, OutcomeFailure, userID, 0, why)
		return TwoFactorResult{}, fmt.Errorf("%w: %w", ErrTwoFactorCode, cause)
	}
	switch {
	case code == "":
		return fail("empty code", totp.ErrMalformed)
	case len(code) > MaxCodeInputBytes:
		return fail("code too long", totp.ErrMalformed)
	}
	if _, err := totp.NormalizeCode(code); err == nil {
		secret, err := t.open(rec)
		if err != nil {
			return TwoFactorResult{}, err
		}
		step, err := totp.Verify(secret, code, t.now(), rec.LastStep)
		if err != nil {
			clear(secret)
			if tfIsCodeError(err) {
				return fail(tfCodeReason(err), err)
			}
			return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
		}
		// Sealed again under the keyring's current key, so that secrets
		// in use move to it after a rotation.
		resealed, err := t.sealer.Seal(secret, tfAdditionalData(userID))
		clear(secret)
		if err != nil {
			return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
		}
		ok, err := t.store.UseTOTPStep(ctx, userID, step, rec.Secret, resealed, t.now().UTC())
		if err != nil {
			return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
		}
		if !ok {
			// Another request accepted this step (or a later one) first,
			// or the secret was replaced meanwhile.
			return fail("replayed code (concurrent use)", totp.ErrReplayed)
		}
		t.acc.record(ctx, m, name, OutcomeSuccess, userID, 0, string(TwoFactorTOTP))
		return TwoFactorResult{Method: TwoFactorTOTP}, nil
	}
	if _, err := totp.NormalizeRecoveryCode(code); err != nil {
		return fail("malformed code", totp.ErrMalformed)
	}
	codes, err := t.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = c.Hash
	}
	i, ok := totp.MatchRecoveryCode(code, hashes)
	if !ok {
		return fail("wrong or used recovery code", totp.ErrInvalid)
	}
	ok, err = t.store.UseRecoveryCode(ctx, userID, codes[i].ID, t.now().UTC())
	if err != nil {
		return TwoFactorResult{}, fmt.Errorf("account: check second factor: %w", err)
	}
	if !ok {
		return fail("recovery code already used (concurrent use)", totp.ErrReplayed)
	}
	left := len(codes) - 1
	t.acc.record(ctx, m, name, OutcomeSuccess, userID, 0, fmt.Sprintf("%s, %d left", TwoFactorRecoveryCode, left))
	return TwoFactorResult{Method: TwoFactorRecoveryCode, RecoveryCodesLeft: left}, nil
}

func tfIsCodeError(err error) bool {
	return errors.Is(err, totp.ErrInvalid) || errors.Is(err, totp.ErrReplayed) || errors.Is(err, totp.ErrMalformed)
}

func tfCodeReason(err error) string {
	switch {
	case errors.Is(err, totp.ErrReplayed):
		return "replayed code"
	case errors.Is(err, totp.ErrMalformed):
		return "malformed code"
	default:
		return "wrong code or outside the time window"
	}
}

func tfReason(err error) string {
	if errors.Is(err, ErrDisabled) {
		return "account disabled"
	}
	return "wrong password"
}

// Disable turns the user's second factor off. It needs the password and a
// code (TOTP or recovery code, which is spent). A wrong password gives
// ErrInvalidCredentials and the code is not looked at; a refused code
// ErrTwoFactorCode; no second factor ErrTwoFactorOff. Audited as
// 2fa.disable. The caller ends the user's other sessions.
func (t *TwoFactor) Disable(ctx context.Context, userID int64, password, code string, m Meta) error {
	if _, err := t.acc.VerifyPassword(ctx, userID, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrDisabled) {
			t.acc.record(ctx, m, EventTwoFactorDisable, OutcomeFailure, userID, 0, tfReason(err))
		}
		return err
	}
	if _, err := t.check(ctx, userID, code, m, EventTwoFactorDisable); err != nil {
		return err
	}
	if _, err := t.store.DeleteTwoFactor(ctx, userID); err != nil {
		return fmt.Errorf("account: disable two-factor: %w", err)
	}
	t.acc.record(ctx, m, EventTwoFactorDisable, OutcomeSuccess, userID, 0, "")
	return nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes with a new set
// after checking the password, and returns it to show once. A wrong
// password gives ErrInvalidCredentials; no second factor ErrTwoFactorOff.
// Audited as 2fa.recovery_codes.
func (t *TwoFactor) RegenerateRecoveryCodes(ctx context.Context, userID int64, password string, m Meta) ([]string, error) {
	if _, err := t.acc.VerifyPassword(ctx, userID, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrDisabled) {
			t.acc.record(ctx, m, EventTwoFactorRecoveryCodes, OutcomeFailure, userID, 0, tfReason(err))
		}
		return nil, err
	}
	codes, hashes, err := tfNewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := t.store.ReplaceRecoveryCodes(ctx, userID, hashes, t.now().UTC()); err != nil {
		if errors.Is(err, ErrTwoFactorOff) {
			return nil, ErrTwoFactorOff
		}
		return nil, fmt.Errorf("account: recovery codes: %w", err)
	}
	t.acc.record(ctx, m, EventTwoFactorRecoveryCodes, OutcomeSuccess, userID, 0, strconv.Itoa(len(codes))+" new codes")
	return codes, nil
}

// Reset turns off the user's second factor without asking for anything,
// for an admin (actorID) or the operator on the command line (actorID 0),
// removes the user's passkeys (when the TwoFactor has the passkey store),
// and reports whether a TOTP secret was on or a passkey was removed.
// Audited as 2fa.reset with the actor. The caller ends the user's sessions.
func (t *TwoFactor) Reset(ctx context.Context, userID, actorID int64, m Meta) (bool, error) {
	wasOn, err := t.store.DeleteTwoFactor(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("account: reset two-factor: %w", err)
	}
	detail := "was off"
	if wasOn {
		detail = "was on"
	}
	if t.keys != nil {
		n, err := t.keys.DeletePasskeys(ctx, userID)
		if err != nil {
			return false, fmt.Errorf("account: reset two-factor: %w", err)
		}
		if n > 0 {
			wasOn = true
			detail += "; " + strconv.Itoa(n) + " passkeys removed"
			t.acc.record(ctx, m, EventPasskeyReset, OutcomeSuccess, userID, actorID, strconv.Itoa(n)+" passkeys removed")
		}
	}
	if actorID == 0 {
		detail += "; operator"
	}
	t.acc.record(ctx, m, EventTwoFactorReset, OutcomeSuccess, userID, actorID, detail)
	return wasOn, nil
}
