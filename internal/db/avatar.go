package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Avatars is the repository of profile pictures; it implements
// [account.AvatarStore]. A user has at most one row: storing a new picture
// replaces the old row, id included, in a single statement, so the old URL
// stops working at the moment the new one starts.
type Avatars struct{ d *DB }

// Avatars returns the profile picture repository.
func (d *DB) Avatars() *Avatars { return &Avatars{d} }

var _ account.AvatarStore = (*Avatars)(nil)

// avatarQueries holds the SQL of this repository for one dialect.
type avatarQueries struct{ put, byID, idForUser, del string }

var avatarSQL = avatarQueries{
	put: `INSERT INTO avatars (id, user_id, content_type, sha256, data, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, content_type = excluded.content_type,
sha256 = excluded.sha256, data = excluded.data, created_at = excluded.created_at`,
	byID:      `SELECT id, user_id, content_type, sha256, data, created_at FROM avatars WHERE id = ?`,
	idForUser: `SELECT id FROM avatars WHERE user_id = ?`,
	del:       `DELETE FROM avatars WHERE user_id = ?`,
}

var (
	sqliteAvatarSQL   = &avatarSQL
	postgresAvatarSQL = func(q avatarQueries) *avatarQueries {
		for _, p := range []*string{&q.put, &q.byID, &q.idForUser, &q.del} {
			*p = rebind(*p)
		}
		return &q
	}(avatarSQL)
)

func (r *Avatars) q() *avatarQueries {
	if r.d.dialect == Postgres {
		return postgresAvatarSQL
	}
	return sqliteAvatarSQL
}

// PutAvatar stores a as the picture of a.UserID, replacing any earlier one.
// The id must be new: reusing another user's id fails.
func (r *Avatars) PutAvatar(ctx context.Context, a account.Avatar) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	defer d.cache.forgetUser(a.UserID)
	if _, err := d.write.ExecContext(ctx, r.q().put, a.ID, a.UserID, a.ContentType, a.SHA256, a.Data, d.ts(a.CreatedAt)); err != nil {
		return fmt.Errorf("db: put avatar: %w", err)
	}
	return nil
}

// AvatarByID returns the picture with that id, or [account.ErrNotFound].
func (r *Avatars) AvatarByID(ctx context.Context, id string) (account.Avatar, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var a account.Avatar
	err := r.d.read.QueryRowContext(ctx, r.q().byID, id).
		Scan(&a.ID, &a.UserID, &a.ContentType, &a.SHA256, &a.Data, timeScanner{&a.CreatedAt})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return account.Avatar{}, account.ErrNotFound
	case err != nil:
		return account.Avatar{}, fmt.Errorf("db: avatar by id: %w", err)
	}
	return a, nil
}

// AvatarIDForUser returns the id of the user's picture, or
// [account.ErrNotFound]. It is one lookup on a unique index: pages call it
// on every render.
func (r *Avatars) AvatarIDForUser(ctx context.Context, userID int64) (string, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var id string
	st, err := r.d.readStmt(ctx, r.q().idForUser)
	if err == nil {
		err = st.QueryRowContext(ctx, userID).Scan(&id)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", account.ErrNotFound
	case err != nil:
		return "", fmt.Errorf("db: avatar of user: %w", err)
	}
	return id, nil
}

// DeleteAvatar deletes the user's picture and reports whether there was one.
func (r *Avatars) DeleteAvatar(ctx context.Context, userID int64) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	defer r.d.cache.forgetUser(userID)
	res, err := r.d.write.ExecContext(ctx, r.q().del, userID)
	if err != nil {
		return false, fmt.Errorf("db: delete avatar: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("db: delete avatar: %w", err)
	}
	return n > 0, nil
}
