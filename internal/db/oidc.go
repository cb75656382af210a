package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// The OpenID Connect provider's storage (migration 0070): clients, the
// protocol library's grants and tokens, consents and RS256 signing keys.
// internal/oidc adapts it to ory/fosite's storage interfaces; this file
// knows nothing of fosite.

// Errors of the OIDC repository.
var (
	// ErrOIDCNotFound means no row matched.
	ErrOIDCNotFound = errors.New("db: oidc: not found")
	// ErrOIDCConflict means a row with the same key already exists.
	ErrOIDCConflict = errors.New("db: oidc: already exists")
)

// OIDCClient is a registered relying party.
type OIDCClient struct {
	ID string
	// SecretHash is the SHA-256 of the secret; nil for a public client.
	SecretHash     []byte
	Name           string
	RedirectURIs   []string
	PostLogoutURIs []string
	Public         bool
	Scopes         []string
	Require2FA     bool
	Roles          []string
	SkipConsent    bool
	// PKCEOptional lets a confidential client that cannot send PKCE sign
	// users in without it.
	PKCEOptional bool
	DisabledAt   time.Time
	CreatedAt    time.Time
}

// Disabled reports whether the client was disabled.
func (c OIDCClient) Disabled() bool { return !c.DisabledAt.IsZero() }

// OIDCToken is one stored grant of the protocol library. Kind is one of
// "code", "pkce", "oidc", "access", "refresh"; Signature is the SHA-256 of
// the library's signature; Data is the serialized request.
type OIDCToken struct {
	Kind        string
	Signature   []byte
	RequestID   string
	ClientID    string
	UserID      int64 // 0: none
	Active      bool
	RequestedAt time.Time
	ExpiresAt   time.Time
	Data        string
}

// OIDCConsent records the scopes a user granted a client.
type OIDCConsent struct {
	UserID    int64
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OIDCSigningKey is a sealed RS256 private key.
type OIDCSigningKey struct {
	KID       string
	Sealed    []byte
	CreatedAt time.Time
}

// OIDC is the repository of the OpenID Connect provider. Its methods run
// inside the transaction of ctx when one was started with
// [OIDC.BeginTx].
type OIDC struct{ d *DB }

// OIDC returns the OpenID Connect repository.
func (d *DB) OIDC() *OIDC { return &OIDC{d} }

type oidcTxKey struct{}

type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// BeginTx starts a transaction and returns a context carrying it: the
// repository's methods called with that context run in it until
// [OIDC.Commit] or [OIDC.Rollback].
func (o *OIDC) BeginTx(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(oidcTxKey{}).(*sql.Tx); ok {
		return ctx, errors.New("db: oidc: transaction already started")
	}
	tx, err := o.d.write.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("db: oidc: begin: %w", err)
	}
	return context.WithValue(ctx, oidcTxKey{}, tx), nil
}

// Commit commits the transaction of ctx.
func (o *OIDC) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(oidcTxKey{}).(*sql.Tx)
	if !ok {
		return errors.New("db: oidc: no transaction")
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: oidc: commit: %w", err)
	}
	return nil
}

// Rollback aborts the transaction of ctx.
func (o *OIDC) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(oidcTxKey{}).(*sql.Tx)
	if !ok {
		return errors.New("db: oidc: no transaction")
	}
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("db: oidc: rollback: %w", err)
	}
	return nil
}

// w returns the connection for writes: the transaction of ctx or the
// writer pool; r the one for reads.
func (o *OIDC) w(ctx context.Context) conn {
	if tx, ok := ctx.Value(oidcTxKey{}).(*sql.Tx); ok {
		return tx
	}
	return o.d.write
}

func (o *OIDC) r(ctx context.Context) conn {
	if tx, ok := ctx.Value(oidcTxKey{}).(*sql.Tx); ok {
		return tx
	}
	return o.d.read
}

// q returns query for the dialect, rebinding it for PostgreSQL once per
// query text (constant texts only, never request data).
func (o *OIDC) q(query string) string {
	if o.d.dialect != Postgres {
		return query
	}
	if v, ok := pgOIDCQueries.Load(query); ok {
		return v.(string)
	}
	v := rebind(query)
	pgOIDCQueries.Store(query, v)
	return v
}

var pgOIDCQueries sync.Map

func (o *OIDC) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := o.w(ctx).ExecContext(ctx, o.q(query), args...)
	if err != nil {
		return 0, fmt.Errorf("db: oidc: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: oidc: %s: %w", what, err)
	}
	return n, nil
}

// sqliteConstraintPrimaryKey is SQLite's extended result code for a
// PRIMARY KEY constraint failure.
const sqliteConstraintPrimaryKey = 1555

// isDuplicateKey reports a UNIQUE or PRIMARY KEY violation.
func isDuplicateKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqliteConstraintPrimaryKey {
		return true
	}
	return isUniqueViolation(err)
}

func joinList(ss []string) string { return strings.Join(ss, " ") }

// Clients.

const clientCols = `id, secret_hash, name, redirect_uris, post_logout_uris, public, scopes, require_2fa, roles, skip_consent, pkce_optional, disabled_at, created_at`

// InsertClient stores a new client; [ErrOIDCConflict] if the id is taken.
func (o *OIDC) InsertClient(ctx context.Context, c OIDCClient) error {
	_, err := o.exec(ctx, "insert client", `INSERT INTO oidc_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.SecretHash, c.Name, joinList(c.RedirectURIs), joinList(c.PostLogoutURIs), c.Public,
		joinList(c.Scopes), c.Require2FA, joinList(c.Roles), c.SkipConsent, c.PKCEOptional, o.d.nullTS(c.DisabledAt), o.d.ts(c.CreatedAt))
	if err != nil && isDuplicateKey(err) {
		return ErrOIDCConflict
	}
	return err
}

func scanClient(sc interface{ Scan(...any) error }) (OIDCClient, error) {
	var (
		c                              OIDCClient
		redirects, logouts, sc2, roles string
	)
	err := sc.Scan(&c.ID, &c.SecretHash, &c.Name, &redirects, &logouts, &c.Public, &sc2, &c.Require2FA, &roles,
		&c.SkipConsent, &c.PKCEOptional, timeScanner{&c.DisabledAt}, timeScanner{&c.CreatedAt})
	c.RedirectURIs, c.PostLogoutURIs = strings.Fields(redirects), strings.Fields(logouts)
	c.Scopes, c.Roles = strings.Fields(sc2), strings.Fields(roles)
	return c, err
}

// Client returns the client with this id, or [ErrOIDCNotFound].
func (o *OIDC) Client(ctx context.Context, id string) (OIDCClient, error) {
	c, err := scanClient(o.r(ctx).QueryRowContext(ctx, o.q(`SELECT `+clientCols+` FROM oidc_clients WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCClient{}, ErrOIDCNotFound
	}
	if err != nil {
		return OIDCClient{}, fmt.Errorf("db: oidc: client: %w", err)
	}
	return c, nil
}

// Clients lists every client, oldest first.
func (o *OIDC) Clients(ctx context.Context) ([]OIDCClient, error) {
	rows, err := o.r(ctx).QueryContext(ctx, `SELECT `+clientCols+` FROM oidc_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("db: oidc: clients: %w", err)
	}
	defer rows.Close()
	var cs []OIDCClient
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("db: oidc: clients: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: oidc: clients: %w", err)
	}
	return cs, nil
}

func found(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrOIDCNotFound
	}
	return nil
}

// SetClientSecret replaces a confidential client's secret hash.
func (o *OIDC) SetClientSecret(ctx context.Context, id string, hash []byte) error {
	return found(o.exec(ctx, "set client secret", `UPDATE oidc_clients SET secret_hash = ? WHERE id = ? AND public = ?`, hash, id, false))
}

// DisableClient marks the client disabled at now (kept if already
// disabled) and deactivates its tokens.
func (o *OIDC) DisableClient(ctx context.Context, id string, now time.Time) error {
	if err := found(o.exec(ctx, "disable client", `UPDATE oidc_clients SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, o.d.ts(now), id)); err != nil {
		return err
	}
	_, err := o.exec(ctx, "disable client", `UPDATE oidc_tokens SET active = ? WHERE client_id = ? AND active = ?`, false, id, true)
	return err
}

// DeleteClient deletes the client with its tokens and consents.
func (o *OIDC) DeleteClient(ctx context.Context, id string) error {
	return found(o.exec(ctx, "delete client", `DELETE FROM oidc_clients WHERE id = ?`, id))
}

// Tokens.

const tokenCols = `kind, signature, request_id, client_id, user_id, active, requested_at, expires_at, data`

// InsertToken stores a grant.
func (o *OIDC) InsertToken(ctx context.Context, t OIDCToken) error {
	_, err := o.exec(ctx, "insert token", `INSERT INTO oidc_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Kind, t.Signature, t.RequestID, t.ClientID, nullInt64(t.UserID), t.Active, o.d.ts(t.RequestedAt), o.d.ts(t.ExpiresAt), t.Data)
	if err != nil && isDuplicateKey(err) {
		return ErrOIDCConflict
	}
	return err
}

// Token returns the grant of this kind and signature hash, active or not,
// or [ErrOIDCNotFound].
func (o *OIDC) Token(ctx context.Context, kind string, sig []byte) (OIDCToken, error) {
	var (
		t   OIDCToken
		uid sql.NullInt64
	)
	err := o.r(ctx).QueryRowContext(ctx, o.q(`SELECT `+tokenCols+` FROM oidc_tokens WHERE kind = ? AND signature = ?`), kind, sig).
		Scan(&t.Kind, &t.Signature, &t.RequestID, &t.ClientID, &uid, &t.Active, timeScanner{&t.RequestedAt}, timeScanner{&t.ExpiresAt}, &t.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCToken{}, ErrOIDCNotFound
	}
	if err != nil {
		return OIDCToken{}, fmt.Errorf("db: oidc: token: %w", err)
	}
	t.UserID = uid.Int64
	return t, nil
}

// DeactivateToken marks one active grant inactive. It reports whether it
// did: of two concurrent calls, exactly one does.
func (o *OIDC) DeactivateToken(ctx context.Context, kind string, sig []byte) (bool, error) {
	n, err := o.exec(ctx, "deactivate token", `UPDATE oidc_tokens SET active = ? WHERE kind = ? AND signature = ? AND active = ?`, false, kind, sig, true)
	return n == 1, err
}

// DeleteToken deletes one grant.
func (o *OIDC) DeleteToken(ctx context.Context, kind string, sig []byte) error {
	_, err := o.exec(ctx, "delete token", `DELETE FROM oidc_tokens WHERE kind = ? AND signature = ?`, kind, sig)
	return err
}

// DeactivateRequest marks every grant of this kind issued for the request
// (the token family) inactive, and returns how many it changed.
func (o *OIDC) DeactivateRequest(ctx context.Context, kind, requestID string) (int64, error) {
	return o.exec(ctx, "deactivate request", `UPDATE oidc_tokens SET active = ? WHERE kind = ? AND request_id = ? AND active = ?`, false, kind, requestID, true)
}

// DeactivateUser marks every access and refresh token of the user
// inactive; with a client id, only those of that client.
func (o *OIDC) DeactivateUser(ctx context.Context, userID int64, clientID string) (int64, error) {
	if clientID == "" {
		return o.exec(ctx, "deactivate user", `UPDATE oidc_tokens SET active = ? WHERE user_id = ? AND active = ?`, false, userID, true)
	}
	return o.exec(ctx, "deactivate user", `UPDATE oidc_tokens SET active = ? WHERE user_id = ? AND client_id = ? AND active = ?`, false, userID, clientID, true)
}

// DeleteExpiredTokens deletes grants that expired before before.
func (o *OIDC) DeleteExpiredTokens(ctx context.Context, before time.Time) (int64, error) {
	return o.exec(ctx, "delete expired tokens", `DELETE FROM oidc_tokens WHERE expires_at < ?`, o.d.ts(before))
}

// Consents.

// SaveConsent records (or replaces) the scopes the user granted the client.
func (o *OIDC) SaveConsent(ctx context.Context, c OIDCConsent) error {
	_, err := o.exec(ctx, "save consent", `INSERT INTO oidc_consents (user_id, client_id, scopes, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		c.UserID, c.ClientID, joinList(c.Scopes), o.d.ts(c.CreatedAt), o.d.ts(c.UpdatedAt))
	return err
}

const consentCols = `user_id, client_id, scopes, created_at, updated_at`

func scanConsent(sc interface{ Scan(...any) error }) (OIDCConsent, error) {
	var (
		c      OIDCConsent
		scopes string
	)
	err := sc.Scan(&c.UserID, &c.ClientID, &scopes, timeScanner{&c.CreatedAt}, timeScanner{&c.UpdatedAt})
	c.Scopes = strings.Fields(scopes)
	return c, err
}

// Consent returns the user's consent for the client, or [ErrOIDCNotFound].
func (o *OIDC) Consent(ctx context.Context, userID int64, clientID string) (OIDCConsent, error) {
	c, err := scanConsent(o.r(ctx).QueryRowContext(ctx, o.q(`SELECT `+consentCols+` FROM oidc_consents WHERE user_id = ? AND client_id = ?`), userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCConsent{}, ErrOIDCNotFound
	}
	if err != nil {
		return OIDCConsent{}, fmt.Errorf("db: oidc: consent: %w", err)
	}
	return c, nil
}

// Consents lists the user's consents, most recent first.
func (o *OIDC) Consents(ctx context.Context, userID int64) ([]OIDCConsent, error) {
	rows, err := o.r(ctx).QueryContext(ctx, o.q(`SELECT `+consentCols+` FROM oidc_consents WHERE user_id = ? ORDER BY updated_at DESC, client_id`), userID)
	if err != nil {
		return nil, fmt.Errorf("db: oidc: consents: %w", err)
	}
	defer rows.Close()
	var cs []OIDCConsent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("db: oidc: consents: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: oidc: consents: %w", err)
	}
	return cs, nil
}

// RevokeConsent deletes the user's consent for the client and deactivates
// every token the client holds for the user, in one transaction.
func (o *OIDC) RevokeConsent(ctx context.Context, userID int64, clientID string) error {
	tctx, err := o.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer o.Rollback(tctx)
	if _, err := o.exec(tctx, "revoke consent", `DELETE FROM oidc_consents WHERE user_id = ? AND client_id = ?`, userID, clientID); err != nil {
		return err
	}
	if _, err := o.DeactivateUser(tctx, userID, clientID); err != nil {
		return err
	}
	return o.Commit(tctx)
}

// Signing keys.

// InsertSigningKey stores a sealed key unless one with the same kid exists;
// it reports whether it stored it.
func (o *OIDC) InsertSigningKey(ctx context.Context, k OIDCSigningKey) (bool, error) {
	n, err := o.exec(ctx, "insert signing key", `INSERT INTO oidc_signing_keys (kid, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (kid) DO NOTHING`,
		k.KID, k.Sealed, o.d.ts(k.CreatedAt))
	return n == 1, err
}

// SigningKeys lists every stored signing key, oldest first.
func (o *OIDC) SigningKeys(ctx context.Context) ([]OIDCSigningKey, error) {
	rows, err := o.r(ctx).QueryContext(ctx, `SELECT kid, sealed, created_at FROM oidc_signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("db: oidc: signing keys: %w", err)
	}
	defer rows.Close()
	var ks []OIDCSigningKey
	for rows.Next() {
		var k OIDCSigningKey
		if err := rows.Scan(&k.KID, &k.Sealed, timeScanner{&k.CreatedAt}); err != nil {
			return nil, fmt.Errorf("db: oidc: signing keys: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: oidc: signing keys: %w", err)
	}
	return ks, nil
}
