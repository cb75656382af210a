package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Imports is the repository behind `gatehouse user import`; it implements
// [account.ImportStore].
type Imports struct{ d *DB }

// Imports returns the import repository.
func (d *DB) Imports() *Imports { return &Imports{d} }

var _ account.ImportStore = (*Imports)(nil)

// existingChunk is how many keys one ExistingEmailKeys query looks up; a
// shorter chunk repeats its first key in the unused placeholders, so the
// query text stays constant.
const existingChunk = 100

// importQueries are the import's SQL texts of one dialect, written once
// with ? placeholders and rebound for PostgreSQL at initialization.
type importQueries struct {
	// insert creates a user unless the email key is taken; it returns the
	// new id, or no row when the account already exists.
	insert string
	// existing returns which of existingChunk email keys are taken.
	existing string
}

var baseImportQueries = importQueries{
	insert: `INSERT INTO users (email, email_key, display_name, password_hash, roles, email_verified_at, sessions_valid_after, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING RETURNING id`,
	existing: `SELECT email_key FROM users WHERE email_key IN (?` + strings.Repeat(`, ?`, existingChunk-1) + `)`,
}

var (
	sqliteImportQueries   = baseImportQueries
	postgresImportQueries = importQueries{insert: rebind(baseImportQueries.insert), existing: rebind(baseImportQueries.existing)}
)

func (d *DB) importQ() *importQueries {
	if d.dialect == Postgres {
		return &postgresImportQueries
	}
	return &sqliteImportQueries
}

// ExistingEmailKeys reports which of keys belong to an account. It only
// reads.
func (r *Imports) ExistingEmailKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	found := make(map[string]bool)
	args := make([]any, existingChunk)
	for start := 0; start < len(keys); start += existingChunk {
		chunk := keys[start:min(start+existingChunk, len(keys))]
		for i := range args {
			if i < len(chunk) {
				args[i] = chunk[i]
			} else {
				args[i] = chunk[0]
			}
		}
		if err := func() error {
			rows, err := d.read.QueryContext(ctx, d.importQ().existing, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				found[k] = true
			}
			return rows.Err()
		}(); err != nil {
			return nil, fmt.Errorf("db: existing email keys: %w", err)
		}
	}
	return found, nil
}

// ImportUsers creates the users in one transaction, skipping (and leaving
// unchanged) every one whose email key is taken, also by an earlier user of
// the same batch. Each created user's audit event is inserted in the same
// transaction with its new ID. It returns the IDs in order, 0 for a skipped
// user; on error the transaction is rolled back and nothing is written.
func (r *Imports) ImportUsers(ctx context.Context, users []account.ImportInsert) (_ []int64, err error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	if len(users) == 0 {
		return nil, nil
	}
	defer d.cache.forgetAll()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: import users: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	insert, err := tx.PrepareContext(ctx, d.importQ().insert)
	if err != nil {
		return nil, fmt.Errorf("db: import users: %w", err)
	}
	defer insert.Close()
	audit, err := tx.PrepareContext(ctx, d.q.auditInsert)
	if err != nil {
		return nil, fmt.Errorf("db: import users: %w", err)
	}
	defer audit.Close()

	ids := make([]int64, len(users))
	for i, in := range users {
		u := in.User
		roles, ok := account.NormalizeRoles(u.Roles)
		if !ok {
			return nil, fmt.Errorf("db: import users: unknown role in %v", u.Roles)
		}
		var id int64
		err := insert.QueryRowContext(ctx, u.Email, u.EmailKey, u.DisplayName, u.PasswordHash, encodeRoles(roles),
			d.nullTS(u.EmailVerifiedAt), d.ts(u.Now), d.ts(in.CreatedAt), d.ts(u.Now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the address already has an account
		}
		if err != nil {
			return nil, fmt.Errorf("db: import users: %w", err)
		}
		ids[i] = id
		e := in.Event
		var aid int64
		if err := audit.QueryRowContext(ctx, d.ts(e.At), id, nullInt64(e.ActorID), string(e.Name), string(e.Outcome),
			e.IP, e.UserAgent, e.Detail).Scan(&aid); err != nil {
			return nil, fmt.Errorf("db: import users: audit: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("db: import users: commit: %w", err)
	}
	return ids, nil
}
