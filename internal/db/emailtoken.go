package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// EmailTokens is the repository of the email flows' one-time tokens; it
// implements [account.EmailTokenStore]. The table (migration 0050) holds
// selectors and purpose hashes, never a token.
type EmailTokens struct{ d *DB }

// EmailTokens returns the email token repository.
func (d *DB) EmailTokens() *EmailTokens { return &EmailTokens{d} }

var _ account.EmailTokenStore = (*EmailTokens)(nil)

type emailTokenQueries struct {
	deleteFor, deleteUnused, insert, bySelector, use, useFor, setEmail, purge string
}

const emailTokenCols = `selector, purpose, user_id, email, email_key, hash, created_at, expires_at, used_at`

var emailTokenSQLite = emailTokenQueries{
	deleteFor:    `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?`,
	deleteUnused: `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL`,
	insert:       `INSERT INTO email_tokens (` + emailTokenCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
	bySelector:   `SELECT ` + emailTokenCols + ` FROM email_tokens WHERE selector = ?`,
	// Single use: of concurrent updates exactly one sees used_at IS NULL.
	use:      `UPDATE email_tokens SET used_at = ? WHERE selector = ? AND used_at IS NULL AND expires_at > ?`,
	useFor:   `UPDATE email_tokens SET used_at = ? WHERE selector = ? AND user_id = ? AND purpose = 'change' AND used_at IS NULL AND expires_at > ?`,
	setEmail: `UPDATE users SET email = ?, email_key = ?, email_verified_at = ?, updated_at = ? WHERE id = ?`,
	purge:    `DELETE FROM email_tokens WHERE expires_at < ?`,
}

var emailTokenPostgres = emailTokenQueries{
	deleteFor:    rebind(emailTokenSQLite.deleteFor),
	deleteUnused: rebind(emailTokenSQLite.deleteUnused),
	insert:       rebind(emailTokenSQLite.insert),
	bySelector:   rebind(emailTokenSQLite.bySelector),
	use:          rebind(emailTokenSQLite.use),
	useFor:       rebind(emailTokenSQLite.useFor),
	setEmail:     rebind(emailTokenSQLite.setEmail),
	purge:        rebind(emailTokenSQLite.purge),
}

func (r *EmailTokens) q() *emailTokenQueries {
	if r.d.dialect == Postgres {
		return &emailTokenPostgres
	}
	return &emailTokenSQLite
}

// lockUserPostgres serializes the token issues of one user, so that two
// concurrent ones cannot both delete nothing and then meet on the unique
// index. (SQLite writes are serialized already: BEGIN IMMEDIATE.)
const lockUserPostgres = `SELECT id FROM users WHERE id = $1 FOR UPDATE`

// SaveToken replaces the user's tokens of t.Purpose by t; with commit
// false, it runs the same statements and rolls them back.
func (r *EmailTokens) SaveToken(ctx context.Context, t account.EmailToken, commit bool) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	if err := r.save(ctx, t, commit); err != nil {
		return fmt.Errorf("db: save email token: %w", err)
	}
	return nil
}

func (r *EmailTokens) save(ctx context.Context, t account.EmailToken, commit bool) error {
	d, q := r.d, r.q()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.dialect == Postgres {
		var id int64
		if err := tx.QueryRowContext(ctx, lockUserPostgres, t.UserID).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, q.deleteFor, t.UserID, string(t.Purpose)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q.insert, t.Selector, string(t.Purpose), t.UserID, t.Email, t.EmailKey, t.Hash,
		d.ts(t.CreatedAt), d.ts(t.ExpiresAt)); err != nil {
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}

// TokenBySelector returns the token or [account.ErrNotFound].
func (r *EmailTokens) TokenBySelector(ctx context.Context, selector string) (account.EmailToken, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var (
		t       account.EmailToken
		purpose string
	)
	err := r.d.read.QueryRowContext(ctx, r.q().bySelector, selector).Scan(&t.Selector, &purpose, &t.UserID,
		&t.Email, &t.EmailKey, &t.Hash, timeScanner{&t.CreatedAt}, timeScanner{&t.ExpiresAt}, timeScanner{&t.UsedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return account.EmailToken{}, account.ErrNotFound
	}
	if err != nil {
		return account.EmailToken{}, fmt.Errorf("db: email token: %w", err)
	}
	t.Purpose = account.TokenPurpose(purpose)
	return t, nil
}

// UseToken marks the token used if it is unused and not expired at now.
func (r *EmailTokens) UseToken(ctx context.Context, selector string, now time.Time) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	res, err := r.d.write.ExecContext(ctx, r.q().use, r.d.ts(now), selector, r.d.ts(now))
	if err != nil {
		return false, fmt.Errorf("db: use email token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("db: use email token: %w", err)
	}
	return n == 1, nil
}

// ChangeEmail uses the change token of userID and gives the user the new
// address, verified, in one transaction.
func (r *EmailTokens) ChangeEmail(ctx context.Context, selector string, userID int64, email, key string, now time.Time) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d, q := r.d, r.q()
	defer d.cache.forgetUser(userID)
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("db: change email: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q.useFor, d.ts(now), selector, userID, d.ts(now))
	if err != nil {
		return false, fmt.Errorf("db: change email: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	res, err = tx.ExecContext(ctx, q.setEmail, email, key, d.ts(now), d.ts(now), userID)
	if err != nil {
		if isUniqueViolation(err) {
			return false, account.ErrEmailTaken
		}
		return false, fmt.Errorf("db: change email: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, errors.Join(account.ErrNotFound, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("db: change email: %w", err)
	}
	return true, nil
}

// DeleteTokens deletes the user's unused tokens of the given purposes
// (used ones stay until they expire, so that a replay is reported as such).
func (r *EmailTokens) DeleteTokens(ctx context.Context, userID int64, purposes ...account.TokenPurpose) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	for _, p := range purposes {
		if _, err := r.d.write.ExecContext(ctx, r.q().deleteUnused, userID, string(p)); err != nil {
			return fmt.Errorf("db: delete email tokens: %w", err)
		}
	}
	return nil
}

// PurgeTokens deletes the tokens that expired before the given time.
func (r *EmailTokens) PurgeTokens(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	res, err := r.d.write.ExecContext(ctx, r.q().purge, r.d.ts(before))
	if err != nil {
		return 0, fmt.Errorf("db: purge email tokens: %w", err)
	}
	return res.RowsAffected()
}
