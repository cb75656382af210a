package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Users is the repository of accounts; it implements [account.UserStore].
type Users struct{ d *DB }

// Users returns the account repository.
func (d *DB) Users() *Users { return &Users{d} }

var _ account.UserStore = (*Users)(nil)

// SQLite's extended result code for a UNIQUE constraint failure, and
// PostgreSQL's SQLSTATE unique_violation.
const (
	sqliteConstraintUnique = 2067
	pgUniqueViolation      = "23505"
)

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintUnique
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return false
}

func encodeRoles(rs []account.Role) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, ",")
}

func decodeRoles(s string) []account.Role {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	rs := make([]account.Role, len(parts))
	for i, p := range parts {
		rs[i] = account.Role(p)
	}
	return rs
}

type scanner interface{ Scan(dest ...any) error }

// scanUser reads the userCols columns, then any further columns into extra
// (the password hash; the picture id and second-factor flag).
func scanUser(row scanner, extra ...any) (account.User, error) {
	var (
		u     account.User
		roles string
	)
	dest := []any{&u.ID, &u.Email, &u.DisplayName, &roles,
		timeScanner{&u.EmailVerifiedAt}, timeScanner{&u.DisabledAt}, timeScanner{&u.SessionsValidAfter},
		timeScanner{&u.CreatedAt}, timeScanner{&u.UpdatedAt}}
	dest = append(dest, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return account.User{}, account.ErrNotFound
		}
		return account.User{}, err
	}
	u.Roles = decodeRoles(roles)
	return u, nil
}

// CreateUser inserts u; [account.ErrEmailTaken] if its EmailKey is used.
func (r *Users) CreateUser(ctx context.Context, u account.NewUser) (account.User, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	roles, ok := account.NormalizeRoles(u.Roles)
	if !ok {
		return account.User{}, fmt.Errorf("db: create user: unknown role in %v", u.Roles)
	}
	var id int64
	err := d.write.QueryRowContext(ctx, d.q.userInsert,
		u.Email, u.EmailKey, u.DisplayName, u.PasswordHash, encodeRoles(roles),
		d.nullTS(u.EmailVerifiedAt), d.ts(u.Now), d.ts(u.Now), d.ts(u.Now)).Scan(&id)
	if err != nil {
		if isUniqueViolation(err) {
			return account.User{}, account.ErrEmailTaken
		}
		return account.User{}, fmt.Errorf("db: create user: %w", err)
	}
	now := truncate(u.Now)
	return account.User{
		ID: id, Email: u.Email, DisplayName: u.DisplayName, Roles: roles,
		EmailVerifiedAt: truncate(u.EmailVerifiedAt), SessionsValidAfter: now, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// UserByID returns the user or [account.ErrNotFound].
func (r *Users) UserByID(ctx context.Context, id int64) (account.User, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	if u, ok := r.d.cache.user(id); ok {
		return u, nil
	}
	epoch := r.d.cache.begin()
	st, err := r.d.readStmt(ctx, r.d.q.userByID)
	if err != nil {
		return account.User{}, fmt.Errorf("db: user by id: %w", err)
	}
	var (
		avatar string
		twoFA  bool
	)
	u, err := scanUser(st.QueryRowContext(r.d.hot(ctx), id), &avatar, &twoFA)
	u.AvatarID, u.TwoFactorEnabled = avatar, twoFA
	if err == nil {
		r.d.cache.putUser(epoch, u)
	}
	return u, err
}

// CredentialsByID returns the user and hash or [account.ErrNotFound].
func (r *Users) CredentialsByID(ctx context.Context, id int64) (account.Credentials, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var c account.Credentials
	u, err := scanUser(r.d.read.QueryRowContext(ctx, r.d.q.credsByID, id), &c.PasswordHash)
	c.User = u
	return c, err
}

// CredentialsByEmailKey returns the user and hash or [account.ErrNotFound].
func (r *Users) CredentialsByEmailKey(ctx context.Context, key string) (account.Credentials, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	var c account.Credentials
	u, err := scanUser(r.d.read.QueryRowContext(ctx, r.d.q.credsByEmailKey, key), &c.PasswordHash)
	c.User = u
	return c, err
}

// exec runs a single-row update of user id and maps "no row" to
// ErrNotFound. Whatever the outcome, the cached copy of the user is
// forgotten once the statement has returned.
func (r *Users) exec(ctx context.Context, id int64, what, q string, args ...any) error {
	defer r.d.cache.forgetUser(id)
	res, err := r.d.write.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("db: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("db: %s: %w", what, err)
	}
	if n == 0 {
		return account.ErrNotFound
	}
	return nil
}

// SetPasswordHash stores hash; with revokeSessions, SessionsValidAfter = now.
func (r *Users) SetPasswordHash(ctx context.Context, id int64, hash string, now time.Time, revokeSessions bool) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	if revokeSessions {
		return r.exec(ctx, id, "set password hash", d.q.userSetHashRevoke, hash, d.ts(now), d.ts(now), id)
	}
	return r.exec(ctx, id, "set password hash", d.q.userSetHash, hash, d.ts(now), id)
}

// ReplacePasswordHash swaps oldHash for newHash if oldHash is still stored.
func (r *Users) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string, now time.Time) (bool, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	err := r.exec(ctx, id, "replace password hash", r.d.q.userReplaceHash, newHash, r.d.ts(now), id, oldHash)
	if errors.Is(err, account.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SetDisabled disables (and revokes sessions) or enables the user.
func (r *Users) SetDisabled(ctx context.Context, id int64, disabled bool, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	if disabled {
		return r.exec(ctx, id, "disable user", d.q.userDisable, d.ts(now), d.ts(now), d.ts(now), id)
	}
	return r.exec(ctx, id, "enable user", d.q.userEnable, d.ts(now), id)
}

// SetRoles replaces the user's roles (normalized: sorted, with "user").
func (r *Users) SetRoles(ctx context.Context, id int64, roles []account.Role, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	rs, ok := account.NormalizeRoles(roles)
	if !ok {
		return fmt.Errorf("db: set roles: unknown role in %v", roles)
	}
	return r.exec(ctx, id, "set roles", r.d.q.userSetRoles, encodeRoles(rs), r.d.ts(now), id)
}

// SetEmailVerified sets (or, with a zero at, clears) EmailVerifiedAt.
func (r *Users) SetEmailVerified(ctx context.Context, id int64, at, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.exec(ctx, id, "set email verified", r.d.q.userSetVerified, r.d.nullTS(at), r.d.ts(now), id)
}

// RevokeSessions sets SessionsValidAfter to now.
func (r *Users) RevokeSessions(ctx context.Context, id int64, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	return r.exec(ctx, id, "revoke sessions", r.d.q.userRevoke, r.d.ts(now), r.d.ts(now), id)
}

// likeEscaper makes a search string match literally in LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListUsers returns a page of users ordered by ID and the matching total.
func (r *Users) ListUsers(ctx context.Context, q account.UserQuery) ([]account.User, int, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d := r.d
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Offset = max(q.Offset, 0)
	var (
		total int
		rows  *sql.Rows
		err   error
	)
	if q.Search == "" {
		err = d.read.QueryRowContext(ctx, d.q.userCount).Scan(&total)
		if err == nil {
			rows, err = d.read.QueryContext(ctx, d.q.userList, q.Limit, q.Offset)
		}
	} else {
		pat := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
		err = d.read.QueryRowContext(ctx, d.q.userCountSearch, pat, pat).Scan(&total)
		if err == nil {
			rows, err = d.read.QueryContext(ctx, d.q.userListSearch, pat, pat, q.Limit, q.Offset)
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("db: list users: %w", err)
	}
	defer rows.Close()
	users := make([]account.User, 0, q.Limit)
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("db: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("db: list users: %w", err)
	}
	return users, total, nil
}
