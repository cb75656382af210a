package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Refresh tokens of the JSON API.
//
// A refresh token is an opaque random string (RefreshTokenBytes of
// crypto/rand, base64url) that the client trades for a new access token.
// Only its SHA-256 hash is stored. Every token is replaced at every use
// (rotation): the presented token is marked spent and a new one of the same
// family is issued, where a family is every token descending from one
// sign-in. A spent token presented again means that two parties hold the
// same family (a stolen token), so the whole family is revoked and the event
// audited as refresh.reuse.

// Audit events of refresh tokens.
const (
	// EventRefreshReuse: a spent refresh token was presented again; its
	// family was revoked.
	EventRefreshReuse EventName = "refresh.reuse"
	// EventRefreshRevoke: a client revoked a refresh token (its family).
	EventRefreshRevoke EventName = "refresh.revoke"
)

// Refresh token errors. The app answers every one of them the same way, so
// a client learns nothing about why a token was refused.
var (
	// ErrRefreshInvalid means the refresh token is malformed, unknown,
	// expired, revoked, or belongs to a user who may no longer have
	// tokens (disabled, signed out everywhere or changed the password
	// since, or with an unverified address).
	ErrRefreshInvalid = errors.New("account: invalid refresh token")
	// ErrRefreshReused means the refresh token had already been used: its
	// whole family has been revoked.
	ErrRefreshReused = errors.New("account: refresh token reused")
)

// RefreshTokenBytes is the number of random bytes in a refresh token (256
// bits). Encoded, a token is RefreshTokenLength base64url characters.
const (
	RefreshTokenBytes  = 32
	RefreshTokenLength = 43
)

// DefaultRefreshTTL is the lifetime of a refresh token when
// RefreshConfig.TTL is 0.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// RefreshToken is a stored refresh token: its hash and what it grants, never
// the token itself.
type RefreshToken struct {
	// ID is assigned by the store.
	ID int64
	// Hash is the SHA-256 of the token string (see HashRefreshToken).
	Hash []byte
	// FamilyID is shared by every token descending from one sign-in.
	FamilyID string
	// UserID is the account the token acts for.
	UserID int64
	// AuthenticatedAt is when the user signed in (with the password) to
	// start the family; AMR lists the methods used then ("pwd", "otp").
	AuthenticatedAt time.Time
	AMR             []string
	// CreatedAt and ExpiresAt bound the token's life.
	CreatedAt, ExpiresAt time.Time
	// UsedAt is when the token was exchanged (zero: never); RevokedAt when
	// its family was revoked (zero: never).
	UsedAt, RevokedAt time.Time
}

// RefreshStore is the storage port for refresh tokens (internal/db
// implements it). Implementations must be safe for concurrent use and store
// times in UTC.
type RefreshStore interface {
	// InsertRefreshToken stores t (ID ignored) and returns its ID.
	InsertRefreshToken(ctx context.Context, t RefreshToken) (int64, error)
	// RefreshTokenByHash returns the token whose hash is hash, or
	// ErrNotFound.
	RefreshTokenByHash(ctx context.Context, hash []byte) (RefreshToken, error)
	// RotateRefreshToken atomically marks token id used at now, if it is
	// neither used nor revoked and expires after now, and then stores
	// next, in one transaction. It reports false, storing nothing, when
	// the token could not be marked (someone used or revoked it first).
	RotateRefreshToken(ctx context.Context, id int64, now time.Time, next RefreshToken) (bool, error)
	// RevokeRefreshFamily marks every unrevoked token of the family
	// revoked at now and returns how many it marked.
	RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int64, error)
	// RevokeUserRefreshTokens marks every unrevoked token of the user
	// revoked at now and returns how many it marked.
	RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) (int64, error)
	// DeleteExpiredRefreshTokens deletes the tokens that expired before
	// before and returns how many it deleted.
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int64, error)
}

// RefreshConfig holds the dependencies of a RefreshService.
type RefreshConfig struct {
	// Store keeps the tokens; Users reads the accounts they act for.
	Store RefreshStore
	Users UserStore
	// Record appends an audit event (Service.Record); nil records nothing.
	Record func(ctx context.Context, e Event) error
	// TTL is the lifetime of every token, counted from its issue; 0 means
	// DefaultRefreshTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RefreshService issues, rotates and revokes refresh tokens. It is safe for
// concurrent use.
type RefreshService struct {
	store  RefreshStore
	users  UserStore
	record func(ctx context.Context, e Event) error
	ttl    time.Duration
	now    func() time.Time
}

// NewRefreshService returns a RefreshService. Store and Users are required;
// it panics without them, since that is a wiring bug.
func NewRefreshService(c RefreshConfig) *RefreshService {
	if c.Store == nil || c.Users == nil {
		panic("account: NewRefreshService needs Store and Users")
	}
	s := &RefreshService{store: c.Store, users: c.Users, record: c.Record, ttl: c.TTL, now: c.Now}
	if s.ttl <= 0 {
		s.ttl = DefaultRefreshTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.record == nil {
		s.record = func(context.Context, Event) error { return nil }
	}
	return s
}

// TTL returns the lifetime of the tokens the service issues.
func (s *RefreshService) TTL() time.Duration { return s.ttl }

// HashRefreshToken returns the hash under which token is stored, and false
// if token does not have the shape of a refresh token (RefreshTokenLength
// base64url characters), in which case it cannot be one and no lookup is
// needed.
func HashRefreshToken(token string) ([]byte, bool) {
	if len(token) != RefreshTokenLength {
		return nil, false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	h := sha256.Sum256([]byte(token))
	return h[:], true
}

// newToken returns a fresh token string and its record.
func (s *RefreshService) newToken(family string, userID int64, authAt time.Time, amr []string, now time.Time) (string, RefreshToken) {
	var b [RefreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h, _ := HashRefreshToken(tok)
	return tok, RefreshToken{
		Hash: h, FamilyID: family, UserID: userID, AuthenticatedAt: authAt.UTC(), AMR: amr,
		CreatedAt: now.UTC(), ExpiresAt: now.Add(s.ttl).UTC(),
	}
}

func newFamilyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Issue starts a new token family for u, who has just signed in at authAt
// with the methods amr (such as "pwd" and "otp"), and returns its first
// token. The caller has checked that u may have tokens.
func (s *RefreshService) Issue(ctx context.Context, u User, authAt time.Time, amr []string) (string, RefreshToken, error) {
	if u.ID <= 0 {
		return "", RefreshToken{}, fmt.Errorf("account: issue refresh token: no user")
	}
	if len(strings.Join(amr, " ")) > 128 {
		return "", RefreshToken{}, fmt.Errorf("account: issue refresh token: amr too long")
	}
	tok, rec := s.newToken(newFamilyID(), u.ID, authAt, amr, s.now())
	id, err := s.store.InsertRefreshToken(ctx, rec)
	if err != nil {
		return "", RefreshToken{}, fmt.Errorf("account: issue refresh token: %w", err)
	}
	rec.ID = id
	return tok, rec, nil
}

// Rotate exchanges token for a new token of the same family and returns it,
// its record and the user it acts for.
//
// It returns ErrRefreshInvalid for a token that is malformed, unknown,
// expired or revoked, or whose user is gone, disabled, unverified, or has
// moved the sessions cut-off (password change, sign-out everywhere) since
// the family's sign-in; in the last cases the family is revoked too. A token
// that was already used, including by a concurrent call, gives
// ErrRefreshReused after the whole family was revoked and the event audited.
func (s *RefreshService) Rotate(ctx context.Context, token string, m Meta) (User, string, RefreshToken, error) {
	hash, ok := HashRefreshToken(token)
	if !ok {
		return User{}, "", RefreshToken{}, ErrRefreshInvalid
	}
	rec, err := s.store.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return User{}, "", RefreshToken{}, ErrRefreshInvalid
	}
	if err != nil {
		return User{}, "", RefreshToken{}, fmt.Errorf("account: refresh: %w", err)
	}
	now := s.now()
	switch {
	case !rec.RevokedAt.IsZero():
		return User{}, "", RefreshToken{}, ErrRefreshInvalid
	case !rec.UsedAt.IsZero():
		return User{}, "", RefreshToken{}, s.reused(ctx, rec, now, m)
	case !now.Before(rec.ExpiresAt):
		return User{}, "", RefreshToken{}, ErrRefreshInvalid
	}
	u, err := s.users.UserByID(ctx, rec.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return User{}, "", RefreshToken{}, s.refuse(ctx, rec, now)
	case err != nil:
		return User{}, "", RefreshToken{}, fmt.Errorf("account: refresh: %w", err)
	case !u.SessionValid(rec.AuthenticatedAt), !u.EmailVerified():
		// Disabled, or signed in before the cut-off: precise to the
		// microsecond here, since both times are stored.
		return User{}, "", RefreshToken{}, s.refuse(ctx, rec, now)
	}
	tok, next := s.newToken(rec.FamilyID, u.ID, rec.AuthenticatedAt, rec.AMR, now)
	ok, err = s.store.RotateRefreshToken(ctx, rec.ID, now, next)
	if err != nil {
		return User{}, "", RefreshToken{}, fmt.Errorf("account: refresh: %w", err)
	}
	if !ok {
		// Someone used or revoked it between the read and the update.
		again, err := s.store.RefreshTokenByHash(ctx, hash)
		if err != nil || !again.RevokedAt.IsZero() || again.UsedAt.IsZero() {
			return User{}, "", RefreshToken{}, ErrRefreshInvalid
		}
		return User{}, "", RefreshToken{}, s.reused(ctx, again, now, m)
	}
	return u, tok, next, nil
}

// refuse revokes the family of a token that can no longer be used.
func (s *RefreshService) refuse(ctx context.Context, rec RefreshToken, now time.Time) error {
	if _, err := s.store.RevokeRefreshFamily(context.WithoutCancel(ctx), rec.FamilyID, now); err != nil {
		return fmt.Errorf("account: refresh: %w", err)
	}
	return ErrRefreshInvalid
}

// reused revokes the family of a spent token presented again and audits it.
func (s *RefreshService) reused(ctx context.Context, rec RefreshToken, now time.Time, m Meta) error {
	ctx = context.WithoutCancel(ctx) // the revocation must happen even if the client left
	n, err := s.store.RevokeRefreshFamily(ctx, rec.FamilyID, now)
	if err != nil {
		return fmt.Errorf("account: refresh: %w", err)
	}
	_ = s.record(ctx, Event{Name: EventRefreshReuse, Outcome: OutcomeDenied, UserID: rec.UserID,
		IP: m.IP, UserAgent: m.UserAgent,
		Detail: fmt.Sprintf("spent refresh token presented again; family %s revoked (%d tokens)", rec.FamilyID, n)})
	return ErrRefreshReused
}

// Revoke revokes the family of token, if token is a known refresh token that
// is not already revoked, and audits it. It returns nil whether or not the
// token existed; only a storage failure is an error.
func (s *RefreshService) Revoke(ctx context.Context, token string, m Meta) error {
	hash, ok := HashRefreshToken(token)
	if !ok {
		return nil
	}
	rec, err := s.store.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("account: revoke refresh token: %w", err)
	}
	if !rec.RevokedAt.IsZero() {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	n, err := s.store.RevokeRefreshFamily(ctx, rec.FamilyID, s.now())
	if err != nil {
		return fmt.Errorf("account: revoke refresh token: %w", err)
	}
	_ = s.record(ctx, Event{Name: EventRefreshRevoke, Outcome: OutcomeSuccess, UserID: rec.UserID,
		IP: m.IP, UserAgent: m.UserAgent, Detail: fmt.Sprintf("family %s revoked (%d tokens)", rec.FamilyID, n)})
	return nil
}

// RevokeUser revokes every refresh token of the user, for example when the
// account is disabled. (The sessions cut-off already makes them unusable;
// this also marks them.)
func (s *RefreshService) RevokeUser(ctx context.Context, userID int64) (int64, error) {
	n, err := s.store.RevokeUserRefreshTokens(ctx, userID, s.now())
	if err != nil {
		return 0, fmt.Errorf("account: revoke refresh tokens: %w", err)
	}
	return n, nil
}

// Purge deletes the tokens that have expired, and returns how many.
// Expired tokens are refused anyway; this keeps the table small.
func (s *RefreshService) Purge(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteExpiredRefreshTokens(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("account: purge refresh tokens: %w", err)
	}
	return n, nil
}
