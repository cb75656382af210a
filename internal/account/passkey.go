package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Passkeys (WebAuthn, through github.com/go-webauthn/webauthn): a
// passwordless first factor (discoverable credentials) and a
// phishing-resistant second factor. The ceremonies here take and return
// JSON bytes; the browser side and the HTTP handlers live elsewhere.

// The audit events of passkeys. Sign-ins are recorded as login.success or
// login.failure, and second-factor checks as 2fa.verify, with "passkey" in
// the detail.
const (
	EventPasskeyAdd    EventName = "passkey.add"    // a passkey was registered (or refused)
	EventPasskeyRename EventName = "passkey.rename" // a passkey was renamed
	EventPasskeyRemove EventName = "passkey.remove" // the owner removed a passkey
	EventPasskeyReset  EventName = "passkey.reset"  // an admin or the operator removed every passkey
	EventPasskeyClone  EventName = "passkey.clone"  // a signature counter went backwards: possible clone
)

// Errors of passkeys. Match them with errors.Is.
var (
	// ErrPasskeyRefused is the one answer to a ceremony that is not
	// accepted: a malformed or forged response, an unknown, expired,
	// replayed or foreign challenge, a wrong origin or relying party id, a
	// credential not registered (or another user's), a counter regression.
	// The reason goes to the audit trail (the error may wrap details for
	// tests and logs; never show them).
	ErrPasskeyRefused = errors.New("account: passkey not accepted")
	// ErrPasskeyClone is wrapped, with ErrPasskeyRefused, by a refusal
	// because the signature counter did not move forward.
	ErrPasskeyClone = errors.New("account: passkey counter regression (possible clone)")
	// ErrPasskeyTaken is returned by a [PasskeyStore] when a credential id
	// is already registered (to any user).
	ErrPasskeyTaken = errors.New("account: passkey credential already registered")
	// ErrPasskeyLimit means the user already has [MaxPasskeysPerUser].
	ErrPasskeyLimit = errors.New("account: too many passkeys")
	// ErrPasskeyNone means the user has no passkey.
	ErrPasskeyNone = errors.New("account: no passkey registered")
)

// Bounds of passkeys.
const (
	// MaxPasskeyResponseBytes bounds the JSON of a ceremony's response (a
	// credential with attestation "none" takes well under 4 KiB); longer
	// input is refused unread.
	MaxPasskeyResponseBytes = 32 << 10
	// MaxPasskeysPerUser bounds the passkeys of one account.
	MaxPasskeysPerUser = 20
	// MaxPasskeyName bounds a passkey's name, in characters.
	MaxPasskeyName = 64
	// PasskeyChallengeTTL is how long a ceremony may take between its
	// begin and finish steps.
	PasskeyChallengeTTL = 5 * time.Minute
	// PasskeyHandleBytes is the length of a WebAuthn user handle.
	PasskeyHandleBytes = 64
	// MaxPasskeyBindingBytes bounds the session binding of a ceremony.
	MaxPasskeyBindingBytes = 256
)

// Passkey is a registered WebAuthn credential.
type Passkey struct {
	ID     int64
	UserID int64
	// CredentialID is the authenticator's id of the credential, unique
	// across users; PublicKey its COSE public key.
	CredentialID []byte
	PublicKey    []byte
	// AttestationType is the library's attestation type ("none" here).
	AttestationType string
	// AAGUID names the authenticator model (zero bytes when not told).
	AAGUID []byte
	// SignCount is the last signature counter seen (0: the authenticator
	// keeps none).
	SignCount uint32
	// UserVerified, BackupEligible and BackupState are the authenticator
	// flags: a backup-eligible credential is a synced passkey, any other
	// is bound to its device.
	UserVerified, BackupEligible, BackupState bool
	// Transports are the hints the browser gave ("internal", "usb"...).
	Transports []string
	// Name is chosen by the user.
	Name string
	// CreatedAt is when it was registered; LastUsedAt when it last signed
	// in (zero: never).
	CreatedAt, LastUsedAt time.Time
}

// Synced reports whether the passkey may be copied to the owner's other
// devices (backup eligible), rather than bound to one authenticator.
func (p Passkey) Synced() bool { return p.BackupEligible }

// PasskeyCeremony names the kind of a ceremony.
type PasskeyCeremony string

// The ceremonies.
const (
	PasskeyRegister     PasskeyCeremony = "register"
	PasskeyLogin        PasskeyCeremony = "login"
	PasskeySecondFactor PasskeyCeremony = "2fa"
)

// PasskeyChallenge is the state of a ceremony between begin and finish.
type PasskeyChallenge struct {
	// ChallengeHash is the SHA-256 of the challenge as sent (base64url),
	// the lookup key; BindingHash the SHA-256 of the session binding.
	ChallengeHash, BindingHash []byte
	Kind                       PasskeyCeremony
	// UserID is the user of a registration or second-factor ceremony, 0
	// for a discoverable sign-in.
	UserID int64
	// State is the library's session data (JSON).
	State     []byte
	ExpiresAt time.Time
}

// PasskeyStore is the storage port of passkeys (internal/db implements
// it). Implementations must be safe for concurrent use.
type PasskeyStore interface {
	// EnsureUserHandle stores handle as the user's WebAuthn user handle
	// unless the user has one, and returns the stored one.
	EnsureUserHandle(ctx context.Context, userID int64, handle []byte, now time.Time) ([]byte, error)
	// UserHandle returns the user's handle, or ErrNotFound.
	UserHandle(ctx context.Context, userID int64) ([]byte, error)
	// UserIDByHandle returns the user with this handle, or ErrNotFound.
	UserIDByHandle(ctx context.Context, handle []byte) (int64, error)
	// Passkeys returns the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]Passkey, error)
	// AddPasskey stores p (ID and UserID set on return) unless the user
	// already has max passkeys (ErrPasskeyLimit) or the credential id is
	// registered (ErrPasskeyTaken, also under a race).
	AddPasskey(ctx context.Context, p Passkey, max int) (Passkey, error)
	// UsePasskey records a sign-in with the user's passkey id: the counter
	// becomes signCount if it moves forward (or both are 0), with the
	// backup state and the time; it reports whether it did.
	UsePasskey(ctx context.Context, userID, id int64, signCount uint32, backupState bool, now time.Time) (bool, error)
	// RenamePasskey renames the user's passkey id, or ErrNotFound.
	RenamePasskey(ctx context.Context, userID, id int64, name string) error
	// DeletePasskey removes the user's passkey id and returns it, or
	// ErrNotFound.
	DeletePasskey(ctx context.Context, userID, id int64) (Passkey, error)
	// DeletePasskeys removes every passkey of the user and counts them.
	DeletePasskeys(ctx context.Context, userID int64) (int, error)
	// SaveChallenge stores the state of a ceremony.
	SaveChallenge(ctx context.Context, c PasskeyChallenge) error
	// TakeChallenge removes the challenge with this hash and returns it,
	// or ErrNotFound: two takes of one challenge never both succeed.
	TakeChallenge(ctx context.Context, challengeHash []byte) (PasskeyChallenge, error)
	// PurgeChallenges removes the challenges that expired before now.
	PurgeChallenges(ctx context.Context, now time.Time) (int64, error)
}

// PasskeyConfig holds the dependencies of [Passkeys].
type PasskeyConfig struct {
	// Accounts looks users up and records audit events.
	Accounts *Service
	// Store keeps handles, passkeys and ceremony state.
	Store PasskeyStore
	// BaseURL is the server's public URL: its host is the relying party
	// id and its scheme and host the only accepted origin.
	BaseURL *url.URL
	// Name names the service in the browser's dialogs (default
	// "Gatehouse").
	Name string
	// Notify, if not nil, is called after a passkey was added
	// ("passkey_added") or removed by its owner ("passkey_removed"), so
	// that the owner gets a notice by mail.
	Notify func(ctx context.Context, u User, kind string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Passkeys applies the rules of passkeys. It is safe for concurrent use.
// It does not limit attempts: the caller rate-limits the finish steps per
// IP and per credential (see [PasskeyCredentialKey]).
type Passkeys struct {
	acc    *Service
	store  PasskeyStore
	wa     *webauthn.WebAuthn
	notify func(ctx context.Context, u User, kind string)
	now    func() time.Time
}

// NewPasskeys returns a Passkeys. Accounts, Store and BaseURL are
// required; it panics without them, since that is a wiring bug. A base URL
// whose host cannot be a relying party id (an IP address) is an error.
func NewPasskeys(c PasskeyConfig) (*Passkeys, error) {
	if c.Accounts == nil || c.Store == nil || c.BaseURL == nil {
		panic("account: NewPasskeys needs Accounts, Store and BaseURL")
	}
	if c.Name == "" {
		c.Name = "Gatehouse"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	origin := c.BaseURL.Scheme + "://" + c.BaseURL.Host
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.BaseURL.Hostname(),
		RPDisplayName:         c.Name,
		RPOrigins:             []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		// Expiry is checked here, with the injected clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: PasskeyChallengeTTL, TimeoutUVD: PasskeyChallengeTTL},
			Registration: webauthn.TimeoutConfig{Timeout: PasskeyChallengeTTL, TimeoutUVD: PasskeyChallengeTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("account: passkeys for %s: %w", origin, err)
	}
	return &Passkeys{acc: c.Accounts, store: c.Store, wa: wa, notify: c.Notify, now: c.Now}, nil
}

// RPID returns the relying party id (the base URL's host).
func (k *Passkeys) RPID() string { return k.wa.Config.RPID }

// waUser is a user as the library sees it.
type waUser struct {
	u      User
	handle []byte
	creds  []webauthn.Credential
	keys   []Passkey
}

func (w *waUser) WebAuthnID() []byte   { return w.handle }
func (w *waUser) WebAuthnName() string { return w.u.Email }
func (w *waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.Email
}
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// passkey returns the stored passkey with this credential id.
func (w *waUser) passkey(credID []byte) (Passkey, bool) {
	for _, p := range w.keys {
		if subtle.ConstantTimeCompare(p.CredentialID, credID) == 1 {
			return p, true
		}
	}
	return Passkey{}, false
}

func toCredential(p Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType, Transport: ts,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified,
			BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
}

// loadUser returns the user with their handle (made if create and
// missing) and passkeys.
func (k *Passkeys) loadUser(ctx context.Context, userID int64, create bool) (*waUser, error) {
	u, err := k.acc.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	handle, err := k.store.UserHandle(ctx, userID)
	if errors.Is(err, ErrNotFound) && create {
		fresh := make([]byte, PasskeyHandleBytes)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		handle, err = k.store.EnsureUserHandle(ctx, userID, fresh, k.now().UTC())
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	keys, err := k.store.Passkeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	w := &waUser{u: u, handle: handle, keys: keys, creds: make([]webauthn.Credential, len(keys))}
	for i, p := range keys {
		w.creds[i] = toCredential(p)
	}
	return w, nil
}

func hash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// save stores the state of a ceremony and returns the options for the
// browser (JSON).
func (k *Passkeys) save(ctx context.Context, kind PasskeyCeremony, userID int64, binding []byte, options any, sd *webauthn.SessionData) ([]byte, error) {
	if len(binding) == 0 || len(binding) > MaxPasskeyBindingBytes {
		return nil, errors.New("account: passkey ceremony: missing or over-long session binding")
	}
	now := k.now().UTC()
	// Expired ceremonies go first; this keeps the table small.
	if _, err := k.store.PurgeChallenges(ctx, now); err != nil {
		return nil, err
	}
	state, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	err = k.store.SaveChallenge(ctx, PasskeyChallenge{
		ChallengeHash: hash([]byte(sd.Challenge)), BindingHash: hash(binding),
		Kind: kind, UserID: userID, State: state, ExpiresAt: now.Add(PasskeyChallengeTTL),
	})
	if err != nil {
		return nil, err
	}
	return opts, nil
}

// refusal is a ceremony refused for reason, with the library's error.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string {
	if r.err != nil {
		return ErrPasskeyRefused.Error() + ": " + r.reason + ": " + r.err.Error()
	}
	return ErrPasskeyRefused.Error() + ": " + r.reason
}

func (r *refusal) Unwrap() []error {
	if r.err != nil {
		return []error{ErrPasskeyRefused, r.err}
	}
	return []error{ErrPasskeyRefused}
}

func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }

// reasonOf returns the audit reason of a refusal.
func reasonOf(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		if pe := (*protocol.Error)(nil); errors.As(r.err, &pe) && pe.Details != "" {
			return r.reason + ": " + pe.Details
		}
		return r.reason
	}
	return "error"
}

// take consumes the ceremony state that the response answers: the
// challenge is gone whatever happens next, so it is never used twice. It
// checks the kind, the session binding, the expiry and, for userID != 0,
// the user.
func (k *Passkeys) take(ctx context.Context, kind PasskeyCeremony, userID int64, binding []byte, challenge string) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if challenge == "" || len(challenge) > 1024 {
		return sd, refuse("missing or over-long challenge", nil)
	}
	c, err := k.store.TakeChallenge(ctx, hash([]byte(challenge)))
	switch {
	case errors.Is(err, ErrNotFound):
		return sd, refuse("unknown, used or expired challenge", nil)
	case err != nil:
		return sd, err
	}
	switch {
	case subtle.ConstantTimeCompare(c.BindingHash, hash(binding)) != 1:
		return sd, refuse("challenge of another session", nil)
	case c.Kind != kind:
		return sd, refuse("challenge of another ceremony", nil)
	case c.UserID != userID:
		return sd, refuse("challenge of another user", nil)
	case !k.now().Before(c.ExpiresAt):
		return sd, refuse("expired challenge", nil)
	}
	if err := json.Unmarshal(c.State, &sd); err != nil {
		return sd, fmt.Errorf("account: passkey ceremony state: %w", err)
	}
	return sd, nil
}

// BeginRegistration starts adding a passkey to user userID (who is signed
// in and has just confirmed it is them): it returns the options for
// navigator.credentials.create (JSON) and keeps the ceremony's state,
// bound to binding (a secret kept in the user's session), for
// [PasskeyCeremony] TTL. ErrPasskeyLimit if the user has the maximum.
func (k *Passkeys) BeginRegistration(ctx context.Context, userID int64, binding []byte) ([]byte, error) {
	w, err := k.loadUser(ctx, userID, true)
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey registration: %w", err)
	}
	if len(w.keys) >= MaxPasskeysPerUser {
		return nil, ErrPasskeyLimit
	}
	excl := make([]protocol.CredentialDescriptor, len(w.creds))
	for i, c := range w.creds {
		excl[i] = c.Descriptor()
	}
	creation, sd, err := k.wa.BeginRegistration(w, webauthn.WithExclusions(excl))
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey registration: %w", err)
	}
	out, err := k.save(ctx, PasskeyRegister, userID, binding, creation, sd)
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey registration: %w", err)
	}
	return out, nil
}

// NormalizePasskeyName trims name and bounds it to [MaxPasskeyName]
// characters; an empty name becomes def.
func NormalizePasskeyName(name, def string) string {
	if len(name) > 16*MaxPasskeyName {
		name = name[:16*MaxPasskeyName]
	}
	name = Sanitize(strings.Join(strings.Fields(name), " "), 8*MaxPasskeyName)
	if utf8.RuneCountInString(name) > MaxPasskeyName {
		name = string([]rune(name)[:MaxPasskeyName])
	}
	if name == "" {
		return def
	}
	return name
}

// FinishRegistration checks the browser's answer (the JSON of the
// PublicKeyCredential) to [Passkeys.BeginRegistration] and stores the new
// passkey under name (or a default name). Any refusal is
// ErrPasskeyRefused (a credential already registered, to anyone,
// included); ErrPasskeyLimit if the user reached the maximum meanwhile.
// Audited as passkey.add; the owner is notified.
func (k *Passkeys) FinishRegistration(ctx context.Context, userID int64, binding []byte, name string, response []byte, m Meta) (Passkey, error) {
	fail := func(err error) (Passkey, error) {
		if errors.Is(err, ErrPasskeyRefused) {
			k.acc.record(ctx, m, EventPasskeyAdd, OutcomeFailure, userID, 0, reasonOf(err))
			return Passkey{}, err
		}
		return Passkey{}, fmt.Errorf("account: finish passkey registration: %w", err)
	}
	if len(response) > MaxPasskeyResponseBytes {
		return fail(refuse("response too long", nil))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return fail(refuse("malformed response", err))
	}
	sd, err := k.take(ctx, PasskeyRegister, userID, binding, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return fail(err)
	}
	w, err := k.loadUser(ctx, userID, false)
	if err != nil {
		return fail(err)
	}
	if w.u.Disabled() {
		return fail(refuse("account disabled", nil))
	}
	cred, err := k.wa.CreateCredential(w, sd, parsed)
	if err != nil {
		return fail(refuse("verification failed", err))
	}
	if !cred.Flags.UserVerified {
		return fail(refuse("user not verified", nil))
	}
	p := Passkey{
		UserID: userID, CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount,
		UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Name: NormalizePasskeyName(name, "Passkey "+strconv.Itoa(len(w.keys)+1)), CreatedAt: k.now().UTC(),
	}
	for _, t := range cred.Transport {
		if s := string(t); s != "" && len(s) <= 32 && len(p.Transports) < 8 && !strings.ContainsRune(s, ',') {
			p.Transports = append(p.Transports, s)
		}
	}
	p, err = k.store.AddPasskey(ctx, p, MaxPasskeysPerUser)
	switch {
	case errors.Is(err, ErrPasskeyTaken):
		return fail(refuse("credential already registered", err))
	case errors.Is(err, ErrPasskeyLimit):
		return Passkey{}, ErrPasskeyLimit
	case err != nil:
		return fail(err)
	}
	k.acc.record(ctx, m, EventPasskeyAdd, OutcomeSuccess, userID, 0, passkeyDetail(p))
	if k.notify != nil {
		k.notify(context.WithoutCancel(ctx), w.u, "passkey_added")
	}
	return p, nil
}

func passkeyDetail(p Passkey) string {
	kind := "device-bound"
	if p.Synced() {
		kind = "synced"
	}
	return fmt.Sprintf("passkey %d %q, %s", p.ID, p.Name, kind)
}

// BeginLogin starts a discoverable sign-in (no user named: the
// authenticator offers the passkeys it holds for this site): it returns the
// options for navigator.credentials.get (JSON), for the button and for
// the browser's autofill alike, and keeps the state bound to binding.
func (k *Passkeys) BeginLogin(ctx context.Context, binding []byte) ([]byte, error) {
	assertion, sd, err := k.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey sign-in: %w", err)
	}
	out, err := k.save(ctx, PasskeyLogin, 0, binding, assertion, sd)
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey sign-in: %w", err)
	}
	return out, nil
}

// FinishLogin checks the answer to [Passkeys.BeginLogin] and returns the
// user and the passkey that signed in. A passkey sign-in stands for two
// factors (something the user has, unlocked by something they know or
// are: user verification is required). Any refusal, a disabled account
// included, is ErrPasskeyRefused; a counter regression also wraps
// ErrPasskeyClone and is audited as passkey.clone. Audited as
// login.success or login.failure with "passkey" in the detail.
func (k *Passkeys) FinishLogin(ctx context.Context, binding, response []byte, m Meta) (User, Passkey, error) {
	var found *waUser
	fail := func(err error) (User, Passkey, error) {
		if errors.Is(err, ErrPasskeyRefused) {
			var uid int64
			if found != nil {
				uid = found.u.ID
			}
			k.acc.record(ctx, m, EventLoginFailure, OutcomeFailure, uid, 0, "passkey: "+reasonOf(err))
			return User{}, Passkey{}, err
		}
		return User{}, Passkey{}, fmt.Errorf("account: finish passkey sign-in: %w", err)
	}
	parsed, err := parseAssertion(response)
	if err != nil {
		return fail(err)
	}
	sd, err := k.take(ctx, PasskeyLogin, 0, binding, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return fail(err)
	}
	var lookupErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		if len(userHandle) != PasskeyHandleBytes {
			return nil, errors.New("malformed user handle")
		}
		uid, err := k.store.UserIDByHandle(ctx, userHandle)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		w, err := k.loadUser(ctx, uid, false)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		found = w
		return w, nil
	}
	cred, err := k.wa.ValidateDiscoverableLogin(handler, sd, parsed)
	if err != nil {
		if lookupErr != nil && !errors.Is(lookupErr, ErrNotFound) {
			return fail(lookupErr)
		}
		return fail(refuse("verification failed", err))
	}
	p, err := k.use(ctx, found, cred, m)
	if err != nil {
		return fail(err)
	}
	if found.u.Disabled() {
		return fail(refuse("account disabled", nil))
	}
	k.acc.record(ctx, m, EventLoginSuccess, OutcomeSuccess, found.u.ID, 0, "passkey "+strconv.FormatInt(p.ID, 10))
	return found.u, p, nil
}

func parseAssertion(response []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(response) > MaxPasskeyResponseBytes {
		return nil, refuse("response too long", nil)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, refuse("malformed response", err)
	}
	return parsed, nil
}

// use checks what the library made of an assertion by w's passkey and
// records it: user verification, the counter (a regression is refused and
// audited as a possible clone), the time.
func (k *Passkeys) use(ctx context.Context, w *waUser, cred *webauthn.Credential, m Meta) (Passkey, error) {
	p, ok := w.passkey(cred.ID)
	if !ok {
		return Passkey{}, refuse("credential not the user's", nil)
	}
	if !cred.Flags.UserVerified {
		return p, refuse("user not verified", nil)
	}
	clone := func(got uint32) (Passkey, error) {
		k.acc.record(ctx, m, EventPasskeyClone, OutcomeDenied, w.u.ID, 0,
			fmt.Sprintf("passkey %d %q: counter %d after %d", p.ID, p.Name, got, p.SignCount))
		return p, fmt.Errorf("%w: %w", refuse("counter regression", nil), ErrPasskeyClone)
	}
	if cred.Authenticator.CloneWarning {
		return clone(cred.Authenticator.SignCount)
	}
	used, err := k.store.UsePasskey(ctx, w.u.ID, p.ID, cred.Authenticator.SignCount, cred.Flags.BackupState, k.now().UTC())
	if err != nil {
		return p, err
	}
	if !used {
		// Another sign-in with this counter value (or a later one) came
		// first, or the passkey was removed meanwhile.
		return clone(cred.Authenticator.SignCount)
	}
	p.SignCount, p.BackupState, p.LastUsedAt = cred.Authenticator.SignCount, cred.Flags.BackupState, k.now().UTC()
	return p, nil
}

// BeginSecondFactor starts the check of a passkey as the second factor of
// user userID (who gave their password): the options (JSON) name the
// user's passkeys. ErrPasskeyNone if the user has none.
func (k *Passkeys) BeginSecondFactor(ctx context.Context, userID int64, binding []byte) ([]byte, error) {
	w, err := k.loadUser(ctx, userID, false)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrPasskeyNone
	}
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey check: %w", err)
	}
	if len(w.creds) == 0 {
		return nil, ErrPasskeyNone
	}
	assertion, sd, err := k.wa.BeginLogin(w, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey check: %w", err)
	}
	out, err := k.save(ctx, PasskeySecondFactor, userID, binding, assertion, sd)
	if err != nil {
		return nil, fmt.Errorf("account: begin passkey check: %w", err)
	}
	return out, nil
}

// FinishSecondFactor checks the answer to [Passkeys.BeginSecondFactor]:
// it must come from one of user userID's passkeys. Any refusal is
// ErrPasskeyRefused (and ErrPasskeyClone for a counter regression).
// Audited as 2fa.verify with "passkey" in the detail.
func (k *Passkeys) FinishSecondFactor(ctx context.Context, userID int64, binding, response []byte, m Meta) (Passkey, error) {
	fail := func(err error) (Passkey, error) {
		if errors.Is(err, ErrPasskeyRefused) {
			k.acc.record(ctx, m, EventTwoFactorVerify, OutcomeFailure, userID, 0, "passkey: "+reasonOf(err))
			return Passkey{}, err
		}
		return Passkey{}, fmt.Errorf("account: finish passkey check: %w", err)
	}
	parsed, err := parseAssertion(response)
	if err != nil {
		return fail(err)
	}
	sd, err := k.take(ctx, PasskeySecondFactor, userID, binding, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return fail(err)
	}
	w, err := k.loadUser(ctx, userID, false)
	if err != nil {
		return fail(err)
	}
	cred, err := k.wa.ValidateLogin(w, sd, parsed)
	if err != nil {
		return fail(refuse("verification failed", err))
	}
	p, err := k.use(ctx, w, cred, m)
	if err != nil {
		return fail(err)
	}
	k.acc.record(ctx, m, EventTwoFactorVerify, OutcomeSuccess, userID, 0, "passkey "+strconv.FormatInt(p.ID, 10))
	return p, nil
}

// List returns the user's passkeys, oldest first.
func (k *Passkeys) List(ctx context.Context, userID int64) ([]Passkey, error) {
	ps, err := k.store.Passkeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: list passkeys: %w", err)
	}
	return ps, nil
}

// Has reports whether the user has at least one passkey.
func (k *Passkeys) Has(ctx context.Context, userID int64) (bool, error) {
	ps, err := k.List(ctx, userID)
	return len(ps) > 0, err
}

// Rename renames the user's passkey id (see [NormalizePasskeyName]; an
// empty name keeps the old one). ErrNotFound if the user has no such
// passkey. Audited as passkey.rename.
func (k *Passkeys) Rename(ctx context.Context, userID, id int64, name string, m Meta) error {
	name = NormalizePasskeyName(name, "")
	if name == "" {
		return nil
	}
	if err := k.store.RenamePasskey(ctx, userID, id, name); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("account: rename passkey: %w", err)
	}
	k.acc.record(ctx, m, EventPasskeyRename, OutcomeSuccess, userID, 0, fmt.Sprintf("passkey %d %q", id, name))
	return nil
}

// Remove removes the user's passkey id. ErrNotFound if the user has no
// such passkey. Audited as passkey.remove; the owner is notified.
func (k *Passkeys) Remove(ctx context.Context, userID, id int64, m Meta) error {
	p, err := k.store.DeletePasskey(ctx, userID, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("account: remove passkey: %w", err)
	}
	k.acc.record(ctx, m, EventPasskeyRemove, OutcomeSuccess, userID, 0, passkeyDetail(p))
	if k.notify != nil {
		if u, err := k.acc.UserByID(ctx, userID); err == nil {
			k.notify(context.WithoutCancel(ctx), u, "passkey_removed")
		}
	}
	return nil
}

// PasskeyCredentialKey returns the credential id (base64url, as sent) of a
// ceremony's response, for rate limits per credential, or "" if the
// response has none that could be a credential id. It does not verify
// anything.
func PasskeyCredentialKey(response []byte) string {
	if len(response) > MaxPasskeyResponseBytes {
		return ""
	}
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(response, &v) != nil || v.ID == "" || len(v.ID) > 1400 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v.ID, "=")); err != nil {
		return ""
	}
	return v.ID
}
