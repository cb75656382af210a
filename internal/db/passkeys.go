package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Passkeys is the repository of WebAuthn user handles, passkeys and
// ceremony state; it implements [account.PasskeyStore]. A signature
// counter moves forward and a challenge is taken through single
// statements, so that two concurrent uses cannot both succeed.
type Passkeys struct{ d *DB }

// Passkeys returns the passkey repository.
func (d *DB) Passkeys() *Passkeys { return &Passkeys{d} }

var _ account.PasskeyStore = (*Passkeys)(nil)

// passkeyQueries holds the SQL of this repository for one dialect.
type passkeyQueries struct {
	handleInsert, handleGet, handleUser, handleLock        string
	list, count, insert, use, rename, deleteOne, deleteAll string
	challengeInsert, challengeTake, challengePurge         string
}

const passkeyColumns = `id, user_id, credential_id, public_key, attestation_type, aaguid, sign_count,
user_verified, backup_eligible, backup_state, transports, name, created_at, last_used_at`

var passkeySQL = passkeyQueries{
	handleInsert: `INSERT INTO webauthn_users (user_id, handle, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
	handleGet:    `SELECT handle FROM webauthn_users WHERE user_id = ?`,
	handleUser:   `SELECT user_id FROM webauthn_users WHERE handle = ?`,
	// Locks the user's handle row (on PostgreSQL) so that concurrent
	// registrations count the user's passkeys one after the other.
	handleLock: `UPDATE webauthn_users SET created_at = created_at WHERE user_id = ?`,
	list:       `SELECT ` + passkeyColumns + ` FROM passkeys WHERE user_id = ? ORDER BY id`,
	count:      `SELECT count(*) FROM passkeys WHERE user_id = ?`,
	insert: `INSERT INTO passkeys (user_id, credential_id, public_key, attestation_type, aaguid, sign_count,
user_verified, backup_eligible, backup_state, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
	// The counter must move forward, unless the authenticator keeps none
	// (it stays 0).
	use: `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
WHERE id = ? AND user_id = ? AND (sign_count < ? OR (sign_count = 0 AND CAST(? AS BIGINT) = 0))`,
	rename:          `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`,
	deleteOne:       `DELETE FROM passkeys WHERE id = ? AND user_id = ? RETURNING ` + passkeyColumns,
	deleteAll:       `DELETE FROM passkeys WHERE user_id = ?`,
	challengeInsert: `INSERT INTO passkey_challenges (challenge_hash, binding_hash, kind, user_id, state, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
	challengeTake:   `DELETE FROM passkey_challenges WHERE challenge_hash = ? RETURNING challenge_hash, binding_hash, kind, user_id, state, expires_at`,
	challengePurge:  `DELETE FROM passkey_challenges WHERE expires_at < ?`,
}

var (
	sqlitePasskeySQL   = &passkeySQL
	postgresPasskeySQL = rebindPasskeys(passkeySQL)
)

func rebindPasskeys(q passkeyQueries) *passkeyQueries {
	for _, p := range []*string{&q.handleInsert, &q.handleGet, &q.handleUser, &q.handleLock,
		&q.list, &q.count, &q.insert, &q.use, &q.rename, &q.deleteOne, &q.deleteAll,
		&q.challengeInsert, &q.challengeTake, &q.challengePurge} {
		*p = rebind(*p)
	}
	return &q
}

func (r *Passkeys) q() *passkeyQueries {
	if r.d.dialect == Postgres {
		return postgresPasskeySQL
	}
	return sqlitePasskeySQL
}

// EnsureUserHandle stores handle as the user's WebAuthn user handle unless
// the user has one, and returns the stored handle.
func (r *Passkeys) EnsureUserHandle(ctx context.Context, userID int64, handle []byte, now time.Time) ([]byte, error) {
	if _, err := r.d.write.ExecContext(ctx, r.q().handleInsert, userID, handle, r.d.ts(now)); err != nil {
		return nil, fmt.Errorf("db: ensure webauthn handle: %w", err)
	}
	var stored []byte
	if err := r.d.write.QueryRowContext(ctx, r.q().handleGet, userID).Scan(&stored); err != nil {
		return nil, fmt.Errorf("db: ensure webauthn handle: %w", err)
	}
	return stored, nil
}

// UserHandle returns the user's WebAuthn user handle, or
// [account.ErrNotFound].
func (r *Passkeys) UserHandle(ctx context.Context, userID int64) ([]byte, error) {
	var h []byte
	err := r.d.read.QueryRowContext(ctx, r.q().handleGet, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("db: webauthn handle: %w", err)
	}
	return h, nil
}

// UserIDByHandle returns the user whose handle is handle, or
// [account.ErrNotFound].
func (r *Passkeys) UserIDByHandle(ctx context.Context, handle []byte) (int64, error) {
	var id int64
	err := r.d.read.QueryRowContext(ctx, r.q().handleUser, handle).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, account.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("db: user by webauthn handle: %w", err)
	}
	return id, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanPasskey(s rowScanner) (account.Passkey, error) {
	var (
		p          account.Passkey
		count      int64
		transports string
	)
	err := s.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.AttestationType, &p.AAGUID, &count,
		&p.UserVerified, &p.BackupEligible, &p.BackupState, &transports, &p.Name,
		timeScanner{&p.CreatedAt}, timeScanner{&p.LastUsedAt})
	if err != nil {
		return account.Passkey{}, err
	}
	p.SignCount = uint32(min(max(count, 0), 1<<32-1))
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	return p, nil
}

// Passkeys returns the user's passkeys, oldest first.
func (r *Passkeys) Passkeys(ctx context.Context, userID int64) ([]account.Passkey, error) {
	rows, err := r.d.read.QueryContext(ctx, r.q().list, userID)
	if err != nil {
		return nil, fmt.Errorf("db: passkeys: %w", err)
	}
	defer rows.Close()
	var ps []account.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("db: passkeys: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: passkeys: %w", err)
	}
	return ps, nil
}

// AddPasskey stores p unless the user has max passkeys
// ([account.ErrPasskeyLimit]) or the credential id is registered
// ([account.ErrPasskeyTaken]). The user must have a handle.
func (r *Passkeys) AddPasskey(ctx context.Context, p account.Passkey, max int) (account.Passkey, error) {
	d, q := r.d, r.q()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q.handleLock, p.UserID)
	if err != nil {
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	} else if n == 0 {
		return account.Passkey{}, fmt.Errorf("db: add passkey: user %d has no webauthn handle: %w", p.UserID, account.ErrNotFound)
	}
	var n int
	if err := tx.QueryRowContext(ctx, q.count, p.UserID).Scan(&n); err != nil {
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	}
	if n >= max {
		return account.Passkey{}, account.ErrPasskeyLimit
	}
	p.CreatedAt, p.LastUsedAt = truncate(p.CreatedAt), time.Time{}
	if p.AAGUID == nil {
		p.AAGUID = []byte{}
	}
	err = tx.QueryRowContext(ctx, q.insert, p.UserID, p.CredentialID, p.PublicKey, p.AttestationType, p.AAGUID,
		int64(p.SignCount), p.UserVerified, p.BackupEligible, p.BackupState, strings.Join(p.Transports, ","), p.Name,
		d.ts(p.CreatedAt)).Scan(&p.ID)
	if isUniqueViolation(err) {
		return account.Passkey{}, account.ErrPasskeyTaken
	}
	if err != nil {
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	}
	if err := tx.Commit(); err != nil {
		if isUniqueViolation(err) {
			return account.Passkey{}, account.ErrPasskeyTaken
		}
		return account.Passkey{}, fmt.Errorf("db: add passkey: %w", err)
	}
	return p, nil
}

// UsePasskey records a sign-in with the user's passkey id if signCount
// moves its counter forward (or both are 0), and reports whether it did.
func (r *Passkeys) UsePasskey(ctx context.Context, userID, id int64, signCount uint32, backupState bool, now time.Time) (bool, error) {
	c := int64(signCount)
	res, err := r.d.write.ExecContext(ctx, r.q().use, c, backupState, r.d.ts(now), id, userID, c, c)
	if err != nil {
		return false, fmt.Errorf("db: use passkey: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("db: use passkey: %w", err)
	}
	return n == 1, nil
}

// RenamePasskey renames the user's passkey id, or [account.ErrNotFound].
func (r *Passkeys) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	res, err := r.d.write.ExecContext(ctx, r.q().rename, name, id, userID)
	if err != nil {
		return fmt.Errorf("db: rename passkey: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("db: rename passkey: %w", err)
	} else if n == 0 {
		return account.ErrNotFound
	}
	return nil
}

// DeletePasskey removes the user's passkey id and returns it, or
// [account.ErrNotFound].
func (r *Passkeys) DeletePasskey(ctx context.Context, userID, id int64) (account.Passkey, error) {
	p, err := scanPasskey(r.d.write.QueryRowContext(ctx, r.q().deleteOne, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return account.Passkey{}, account.ErrNotFound
	}
	if err != nil {
		return account.Passkey{}, fmt.Errorf("db: delete passkey: %w", err)
	}
	return p, nil
}

// DeletePasskeys removes every passkey of the user and counts them.
func (r *Passkeys) DeletePasskeys(ctx context.Context, userID int64) (int, error) {
	res, err := r.d.write.ExecContext(ctx, r.q().deleteAll, userID)
	if err != nil {
		return 0, fmt.Errorf("db: delete passkeys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: delete passkeys: %w", err)
	}
	return int(n), nil
}

// SaveChallenge stores the state of a ceremony.
func (r *Passkeys) SaveChallenge(ctx context.Context, c account.PasskeyChallenge) error {
	_, err := r.d.write.ExecContext(ctx, r.q().challengeInsert, c.ChallengeHash, c.BindingHash, string(c.Kind),
		nullInt64(c.UserID), c.State, r.d.ts(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("db: save passkey challenge: %w", err)
	}
	return nil
}

// TakeChallenge removes the challenge with this hash and returns it, or
// [account.ErrNotFound].
func (r *Passkeys) TakeChallenge(ctx context.Context, challengeHash []byte) (account.PasskeyChallenge, error) {
	var (
		c    account.PasskeyChallenge
		kind string
		uid  sql.NullInt64
	)
	err := r.d.write.QueryRowContext(ctx, r.q().challengeTake, challengeHash).
		Scan(&c.ChallengeHash, &c.BindingHash, &kind, &uid, &c.State, timeScanner{&c.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return account.PasskeyChallenge{}, account.ErrNotFound
	}
	if err != nil {
		return account.PasskeyChallenge{}, fmt.Errorf("db: take passkey challenge: %w", err)
	}
	c.Kind, c.UserID = account.PasskeyCeremony(kind), uid.Int64
	return c, nil
}

// PurgeChallenges removes the challenges that expired before now.
func (r *Passkeys) PurgeChallenges(ctx context.Context, now time.Time) (int64, error) {
	res, err := r.d.write.ExecContext(ctx, r.q().challengePurge, r.d.ts(now))
	if err != nil {
		return 0, fmt.Errorf("db: purge passkey challenges: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: purge passkey challenges: %w", err)
	}
	return n, nil
}
