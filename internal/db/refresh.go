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

// RefreshTokens is the repository of API refresh tokens; it implements
// [account.RefreshStore]. Only token hashes are stored.
type RefreshTokens struct {
	d *DB
	q *refreshQueries
}

// RefreshTokens returns the refresh token repository.
func (d *DB) RefreshTokens() *RefreshTokens {
	q := sqliteRefreshQueries
	if d.dialect == Postgres {
		q = postgresRefreshQueries
	}
	return &RefreshTokens{d: d, q: q}
}

var _ account.RefreshStore = (*RefreshTokens)(nil)

// refreshQueries holds the SQL of the repository, written once with ?
// placeholders and rebound for PostgreSQL at initialization.
type refreshQueries struct {
	insert, byHash, markUsed, revokeFamily, revokeUser, deleteExpired string
}

const refreshCols = `id, token_hash, family_id, user_id, authenticated_at, amr, created_at, expires_at, used_at, revoked_at`

var (
	sqliteRefreshQueries = &refreshQueries{
		insert: `INSERT INTO refresh_tokens (token_hash, family_id, user_id, authenticated_at, amr, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		byHash: `SELECT ` + refreshCols + ` FROM refresh_tokens WHERE token_hash = ?`,
		// The single statement that spends a token: of two concurrent
		// uses, exactly one changes a row.
		markUsed:      `UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
		revokeFamily:  `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		revokeUser:    `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
		deleteExpired: `DELETE FROM refresh_tokens WHERE expires_at < ?`,
	}
	postgresRefreshQueries = &refreshQueries{
		insert:        rebind(sqliteRefreshQueries.insert),
		byHash:        rebind(sqliteRefreshQueries.byHash),
		markUsed:      rebind(sqliteRefreshQueries.markUsed),
		revokeFamily:  rebind(sqliteRefreshQueries.revokeFamily),
		revokeUser:    rebind(sqliteRefreshQueries.revokeUser),
		deleteExpired: rebind(sqliteRefreshQueries.deleteExpired),
	}
)

// InsertRefreshToken stores t and returns its ID.
func (r *RefreshTokens) InsertRefreshToken(ctx context.Context, t account.RefreshToken) (int64, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	id, err := r.insert(ctx, r.d.write, t)
	if err != nil {
		return 0, fmt.Errorf("db: insert refresh token: %w", err)
	}
	return id, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (r *RefreshTokens) insert(ctx context.Context, q queryRower, t account.RefreshToken) (int64, error) {
	d := r.d
	var id int64
	err := q.QueryRowContext(ctx, r.q.insert, t.Hash, t.FamilyID, t.UserID, d.ts(t.AuthenticatedAt),
		strings.Join(t.AMR, " "), d.ts(t.CreatedAt), d.ts(t.ExpiresAt)).Scan(&id)
	return id, err
}

// RefreshTokenByHash returns the token with this hash or
// [account.ErrNotFound].
func (r *RefreshTokens) RefreshTokenByHash(ctx context.Context, hash []byte) (account.RefreshToken, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var (
		t   account.RefreshToken
		amr string
	)
	err := r.d.read.QueryRowContext(ctx, r.q.byHash, hash).Scan(&t.ID, &t.Hash, &t.FamilyID, &t.UserID,
		timeScanner{&t.AuthenticatedAt}, &amr, timeScanner{&t.CreatedAt}, timeScanner{&t.ExpiresAt},
		timeScanner{&t.UsedAt}, timeScanner{&t.RevokedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return account.RefreshToken{}, account.ErrNotFound
	}
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("db: refresh token: %w", err)
	}
	t.AMR = strings.Fields(amr)
	return t, nil
}

// RotateRefreshToken marks token id used (if it is unused, unrevoked and
// unexpired at now) and stores next, in one transaction. It reports false,
// storing nothing, when the token could not be marked.
func (r *RefreshTokens) RotateRefreshToken(ctx context.Context, id int64, now time.Time, next account.RefreshToken) (ok bool, err error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("db: rotate refresh token: %w", err)
	}
	defer func() {
		if !ok || err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, r.q.markUsed, d.ts(now), id, d.ts(now))
	if err != nil {
		return false, fmt.Errorf("db: rotate refresh token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if _, err := r.insert(ctx, tx, next); err != nil {
		return false, fmt.Errorf("db: rotate refresh token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("db: rotate refresh token: %w", err)
	}
	return true, nil
}

// RevokeRefreshFamily marks every unrevoked token of the family revoked.
func (r *RefreshTokens) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int64, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.exec(ctx, "revoke refresh family", r.q.revokeFamily, r.d.ts(now), familyID)
}

// RevokeUserRefreshTokens marks every unrevoked token of the user revoked.
func (r *RefreshTokens) RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) (int64, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.exec(ctx, "revoke user refresh tokens", r.q.revokeUser, r.d.ts(now), userID)
}

// DeleteExpiredRefreshTokens deletes the tokens that expired before before.
func (r *RefreshTokens) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.exec(ctx, "delete expired refresh tokens", r.q.deleteExpired, r.d.ts(before))
}

func (r *RefreshTokens) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := r.d.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("db: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: %s: %w", what, err)
	}
	return n, nil
}
