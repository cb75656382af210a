package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/store/sqlstore"
)

// SessionStore is the session store on the database's own session table
// (the table of store/sqlstore, which it embeds), whose Find also reads the
// session's user in the same query and hands it to a callback, and whose
// writing methods keep the SQLite hot-row cache coherent.
//
// Every signed-in request needs both rows; one query instead of two took
// about a quarter off a signed-in page's time on SQLite, and saves a
// network round trip on PostgreSQL. Both rows come from one snapshot, so
// nothing is read staler than with two queries.
type SessionStore struct {
	*sqlstore.Store
	d      *DB
	now    func() time.Time
	onUser func(ctx context.Context, u account.User)
}

var (
	_ session.Store       = (*SessionStore)(nil)
	_ session.UserLister  = (*SessionStore)(nil)
	_ session.UserDeleter = (*SessionStore)(nil)
	_ session.Sweeper     = (*SessionStore)(nil)
)

// SessionStore returns the session store on this database's session table,
// creating the table if needed. Its clock is now; Find calls onUser with the
// user of every signed-in record it finds (not when the record is anonymous
// or its user no longer exists), on the goroutine that called Find.
func (d *DB) SessionStore(ctx context.Context, now func() time.Time, onUser func(ctx context.Context, u account.User)) (*SessionStore, error) {
	dialect := sqlstore.SQLite
	if d.dialect == Postgres {
		dialect = sqlstore.Postgres
	}
	st, err := sqlstore.New(d.write, dialect, sqlstore.Reader(d.read), sqlstore.Now(now))
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("db: session table: %w", err)
	}
	return &SessionStore{Store: st, d: d, now: now, onUser: onUser}, nil
}

// Find returns the live record with this id, like sqlstore's Find, and
// passes its user to the callback.
//
// On SQLite both rows may come from the database's cache of hot rows (see
// hotCache): only when both are there, so that the user is as fresh as the
// record.
func (s *SessionStore) Find(ctx context.Context, id string) (session.Record, bool, error) {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	now := s.now()
	if rec, ok := s.d.cache.session(id, now); ok {
		if rec.UserID == "" {
			return rec, true, nil
		}
		if uid, err := strconv.ParseInt(rec.UserID, 10, 64); err == nil {
			if u, ok := s.d.cache.user(uid); ok {
				if s.onUser != nil {
					s.onUser(ctx, u)
				}
				return rec, true, nil
			}
		}
	}
	epoch := s.d.cache.begin()
	st, err := s.d.readStmt(ctx, s.d.q.sessionUser)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("db: find session: %w", err)
	}
	var (
		rec    session.Record
		exp    int64
		avatar string
		twoFA  bool
	)
	u, err := scanUser(st.QueryRowContext(s.d.hot(ctx), id, now.UnixMilli()), &avatar, &twoFA, &rec.UserID, &rec.Data, &exp)
	if errors.Is(err, account.ErrNotFound) {
		return session.Record{}, false, nil
	}
	if err != nil {
		return session.Record{}, false, fmt.Errorf("db: find session: %w", err)
	}
	rec.Expiry = time.UnixMilli(exp)
	if u.ID != 0 {
		u.AvatarID, u.TwoFactorEnabled = avatar, twoFA
		s.d.cache.putUser(epoch, u)
		if s.onUser != nil {
			s.onUser(ctx, u)
		}
	}
	// A signed-in record whose user is gone is not cached: every lookup
	// of it must find out again.
	if rec.UserID == "" || u.ID != 0 {
		s.d.cache.putSession(epoch, id, rec)
	}
	return rec, true, nil
}

// Save creates or replaces the record, then forgets any cached copy.
func (s *SessionStore) Save(ctx context.Context, id string, rec session.Record) error {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	defer s.d.cache.forgetSession(id)
	return s.Store.Save(ctx, id, rec)
}

// Delete removes the record, then forgets any cached copy.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	defer s.d.cache.forgetSession(id)
	return s.Store.Delete(ctx, id)
}

// FindByUser lists a user's live sessions, like sqlstore's, within the
// database deadline.
func (s *SessionStore) FindByUser(ctx context.Context, userID string) ([]session.Entry, error) {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	return s.Store.FindByUser(ctx, userID)
}

// DeleteByUser removes userID's records but exceptID, then empties the
// cache (it keeps no index by user).
func (s *SessionStore) DeleteByUser(ctx context.Context, userID, exceptID string) (int, error) {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	defer s.d.cache.forgetAll()
	return s.Store.DeleteByUser(ctx, userID, exceptID)
}

// DeleteExpired removes expired records, then empties the cache.
func (s *SessionStore) DeleteExpired(ctx context.Context) (int, error) {
	ctx, cancel := s.d.bound(ctx)
	defer cancel()
	defer s.d.cache.forgetAll()
	return s.Store.DeleteExpired(ctx)
}

// sessionUserQuery reads a live session record and, through a LEFT JOIN,
// its user: the user columns of userByID (zero values when there is none),
// then the record's columns. userID is the dialect's expression turning the
// record's text user_id into a users.id.
func sessionUserQuery(userID string) string {
	cols := strings.Split(userCols, ", ")
	for i, c := range cols {
		switch c {
		case "id":
			cols[i] = "COALESCE(u.id, 0)"
		case "email", "display_name", "roles":
			cols[i] = "COALESCE(u." + c + ", '')"
		default: // times: NULL reads as the zero time
			cols[i] = "u." + c
		}
	}
	return `SELECT ` + strings.Join(cols, ", ") +
		`, COALESCE((SELECT a.id FROM avatars a WHERE a.user_id = u.id), '')` +
		`, EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL)` +
		`, s.user_id, s.data, s.expiry FROM ` + sqlstore.Table + ` s LEFT JOIN users u ON u.id = ` + userID +
		` WHERE s.id = ? AND s.expiry > ?`
}

// hot returns the context for a lookup on the path of every request. On
// SQLite it drops cancellation: both database/sql and the driver start a
// goroutine per query to watch a cancellable context, which costs more than
// the local read itself, and the busy timeout already bounds its waits.
// PostgreSQL keeps the request's context, since a network peer can hang.
func (d *DB) hot(ctx context.Context) context.Context {
	if d.dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}
