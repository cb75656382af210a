package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// TwoFactor is the repository of TOTP secrets and recovery codes; it
// implements [account.TwoFactorStore]. Accepting a code is a single
// compare-and-set statement, so two concurrent uses of one code (or one
// time step) cannot both succeed, on either engine.
type TwoFactor struct{ d *DB }

// TwoFactor returns the two-factor repository.
func (d *DB) TwoFactor() *TwoFactor { return &TwoFactor{d} }

var _ account.TwoFactorStore = (*TwoFactor)(nil)

// twoFactorQueries holds the SQL of this repository for one dialect.
type twoFactorQueries struct {
	totpGet, totpPending, totpEnable, totpUseStep, totpDelete, totpTouchOn string
	codesList, codeUse, codesDelete, codeInsert                            string
}

var twoFactorSQL = twoFactorQueries{
	totpGet: `SELECT user_id, secret, enabled_at, last_step, created_at, updated_at FROM user_totp WHERE user_id = ?`,
	// A pending secret replaces a pending one, never an enabled one.
	totpPending: `INSERT INTO user_totp (user_id, secret, enabled_at, last_step, created_at, updated_at) VALUES (?, ?, NULL, 0, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at, updated_at = excluded.updated_at
WHERE user_totp.enabled_at IS NULL`,
	totpEnable:  `UPDATE user_totp SET enabled_at = ?, last_step = ?, updated_at = ? WHERE user_id = ? AND enabled_at IS NULL AND secret = ?`,
	totpUseStep: `UPDATE user_totp SET last_step = ?, secret = ?, updated_at = ? WHERE user_id = ? AND enabled_at IS NOT NULL AND last_step < ? AND secret = ?`,
	totpDelete:  `DELETE FROM user_totp WHERE user_id = ? RETURNING enabled_at`,
	totpTouchOn: `UPDATE user_totp SET updated_at = ? WHERE user_id = ? AND enabled_at IS NOT NULL`,
	codesList:   `SELECT id, code_hash FROM user_recovery_codes WHERE user_id = ? AND used_at IS NULL ORDER BY id`,
	codeUse:     `UPDATE user_recovery_codes SET used_at = ? WHERE id = ? AND user_id = ? AND used_at IS NULL`,
	codesDelete: `DELETE FROM user_recovery_codes WHERE user_id = ?`,
	codeInsert:  `INSERT INTO user_recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`,
}

var (
	sqliteTwoFactorSQL   = &twoFactorSQL
	postgresTwoFactorSQL = rebindTwoFactor(twoFactorSQL)
)

func rebindTwoFactor(q twoFactorQueries) *twoFactorQueries {
	for _, p := range []*string{&q.totpGet, &q.totpPending, &q.totpEnable, &q.totpUseStep, &q.totpDelete, &q.totpTouchOn,
		&q.codesList, &q.codeUse, &q.codesDelete, &q.codeInsert} {
		*p = rebind(*p)
	}
	return &q
}

func (r *TwoFactor) q() *twoFactorQueries {
	if r.d.dialect == Postgres {
		return postgresTwoFactorSQL
	}
	return sqliteTwoFactorSQL
}

// TOTP returns the user's record or [account.ErrNotFound].
func (r *TwoFactor) TOTP(ctx context.Context, userID int64) (account.TOTPRecord, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var rec account.TOTPRecord
	st, err := r.d.readStmt(ctx, r.q().totpGet)
	if err != nil {
		return account.TOTPRecord{}, fmt.Errorf("db: totp: %w", err)
	}
	err = st.QueryRowContext(ctx, userID).Scan(&rec.UserID, &rec.Secret,
		timeScanner{&rec.EnabledAt}, &rec.LastStep, timeScanner{&rec.CreatedAt}, timeScanner{&rec.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return account.TOTPRecord{}, account.ErrNotFound
	}
	if err != nil {
		return account.TOTPRecord{}, fmt.Errorf("db: totp: %w", err)
	}
	return rec, nil
}

// SavePendingTOTP stores a secret that is not on yet, replacing a pending
// one; [account.ErrTwoFactorOn] if the user's secret is on.
func (r *TwoFactor) SavePendingTOTP(ctx context.Context, userID int64, sealed []byte, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	res, err := d.write.ExecContext(ctx, r.q().totpPending, userID, sealed, d.ts(now), d.ts(now))
	if err != nil {
		return fmt.Errorf("db: save pending totp: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("db: save pending totp: %w", err)
	}
	if n == 0 {
		return account.ErrTwoFactorOn
	}
	return nil
}

// inTx runs f in a transaction on the write pool (BEGIN IMMEDIATE on
// SQLite).
func (r *TwoFactor) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, err := r.d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: %s: %w", what, err)
	}
	return nil
}

// EnableTOTP turns the pending secret equal to sealed on, with step used,
// and replaces the recovery codes, in one transaction.
func (r *TwoFactor) EnableTOTP(ctx context.Context, userID int64, sealed []byte, step int64, hashes [][]byte, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d, q := r.d, r.q()
	defer d.cache.forgetUser(userID)
	return r.inTx(ctx, "enable totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q.totpEnable, d.ts(now), step, d.ts(now), userID, sealed)
		if err != nil {
			return fmt.Errorf("db: enable totp: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("db: enable totp: %w", err)
		} else if n == 0 {
			return account.ErrTwoFactorNoSetup
		}
		return r.replaceCodes(ctx, tx, userID, hashes, now)
	})
}

func (r *TwoFactor) replaceCodes(ctx context.Context, tx *sql.Tx, userID int64, hashes [][]byte, now time.Time) error {
	d, q := r.d, r.q()
	if _, err := tx.ExecContext(ctx, q.codesDelete, userID); err != nil {
		return fmt.Errorf("db: replace recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, q.codeInsert, userID, h, d.ts(now)); err != nil {
			return fmt.Errorf("db: replace recovery codes: %w", err)
		}
	}
	return nil
}

// UseTOTPStep moves the last used step forward to step, if step is after
// it and the secret is still sealed, storing resealed in its place, and
// reports whether it did.
func (r *TwoFactor) UseTOTPStep(ctx context.Context, userID, step int64, sealed, resealed []byte, now time.Time) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.execOne(ctx, "use totp step", r.q().totpUseStep, step, resealed, r.d.ts(now), userID, step, sealed)
}

func (r *TwoFactor) execOne(ctx context.Context, what, query string, args ...any) (bool, error) {
	res, err := r.d.write.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("db: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("db: %s: %w", what, err)
	}
	return n == 1, nil
}

// RecoveryCodes returns the user's unused recovery codes.
func (r *TwoFactor) RecoveryCodes(ctx context.Context, userID int64) ([]account.RecoveryCode, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	rows, err := r.d.read.QueryContext(ctx, r.q().codesList, userID)
	if err != nil {
		return nil, fmt.Errorf("db: recovery codes: %w", err)
	}
	defer rows.Close()
	var codes []account.RecoveryCode
	for rows.Next() {
		var c account.RecoveryCode
		if err := rows.Scan(&c.ID, &c.Hash); err != nil {
			return nil, fmt.Errorf("db: recovery codes: %w", err)
		}
		codes = append(codes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: recovery codes: %w", err)
	}
	return codes, nil
}

// UseRecoveryCode marks the code used if it is the user's and unused.
func (r *TwoFactor) UseRecoveryCode(ctx context.Context, userID, codeID int64, now time.Time) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.execOne(ctx, "use recovery code", r.q().codeUse, r.d.ts(now), codeID, userID)
}

// ReplaceRecoveryCodes replaces the user's recovery codes;
// [account.ErrTwoFactorOff] unless the user's secret is on.
func (r *TwoFactor) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.inTx(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		// Touching the enabled row first both checks it and, on
		// PostgreSQL, locks it against a concurrent disable.
		res, err := tx.ExecContext(ctx, r.q().totpTouchOn, r.d.ts(now), userID)
		if err != nil {
			return fmt.Errorf("db: replace recovery codes: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("db: replace recovery codes: %w", err)
		} else if n == 0 {
			return account.ErrTwoFactorOff
		}
		return r.replaceCodes(ctx, tx, userID, hashes, now)
	})
}

// DeleteTwoFactor removes the user's secret and recovery codes and reports
// whether the secret was on.
func (r *TwoFactor) DeleteTwoFactor(ctx context.Context, userID int64) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var wasOn bool
	defer r.d.cache.forgetUser(userID)
	err := r.inTx(ctx, "delete two-factor", func(tx *sql.Tx) error {
		var enabledAt time.Time
		err := tx.QueryRowContext(ctx, r.q().totpDelete, userID).Scan(timeScanner{&enabledAt})
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("db: delete two-factor: %w", err)
		default:
			wasOn = !enabledAt.IsZero()
		}
		if _, err := tx.ExecContext(ctx, r.q().codesDelete, userID); err != nil {
			return fmt.Errorf("db: delete two-factor: %w", err)
		}
		return nil
	})
	return wasOn, err
}
