// Package sqlstore is a session.Store on database/sql, for SQLite and
// PostgreSQL. It imports no driver: open the *sql.DB with the driver of your
// choice (such as modernc.org/sqlite or github.com/jackc/pgx/v5/stdlib) and
// pass the matching Dialect.
//
// Records live in the table gatehouse_sessions, which Migrate creates:
//
//	id      TEXT PRIMARY KEY  -- the session handle (SHA-256 of the token)
//	user_id TEXT NOT NULL     -- "" for anonymous sessions
//	data    BLOB / BYTEA
//	expiry  BIGINT            -- Unix milliseconds
//
// with indexes on user_id (signed-in sessions only) and expiry. The store
// implements session.UserLister, session.UserDeleter and session.Sweeper;
// run Manager.RunSweeper to delete expired rows.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/session"
)

// Table is the name of the table the store uses.
const Table = "gatehouse_sessions"

// Dialect selects the SQL flavour.
type Dialect int

// Supported dialects.
const (
	// SQLite uses ? placeholders and BLOB data.
	SQLite Dialect = iota + 1
	// Postgres uses $n placeholders and BYTEA data.
	Postgres
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Store is a session store in an SQL table. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	reader  *sql.DB // for lookups; db unless Reader was given
	findSt  atomic.Pointer[sql.Stmt]
	dialect Dialect
	now     func() time.Time
	q       queries
}

type queries struct {
	find, save, del, byUser, delUser, delExpired string
	migrate                                      []string
}

// Option configures a Store.
type Option func(*Store)

// Reader sends lookups (Find, FindByUser) to another pool, such as a
// many-connection read pool beside a one-connection SQLite writer, so that
// reads never queue behind writes.
func Reader(db *sql.DB) Option { return func(s *Store) { s.reader = db } }

// findStmt prepares the lookup once (on first use, after Migrate), so that
// SQLite does not parse it on every request.
func (s *Store) findStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := s.findSt.Load(); st != nil {
		return st, nil
	}
	st, err := s.reader.PrepareContext(ctx, s.q.find)
	if err != nil {
		return nil, err
	}
	if !s.findSt.CompareAndSwap(nil, st) {
		st.Close()
		return s.findSt.Load(), nil
	}
	return st, nil
}

// Now sets the clock used to decide expiry (default time.Now).
func Now(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store on db. Call Migrate once before use (or create the
// table yourself).
func New(db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil db")
	}
	if d != SQLite && d != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %v", d)
	}
	s := &Store{db: db, dialect: d, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, errors.New("sqlstore: nil clock")
	}
	if s.reader == nil {
		s.reader = db
	}
	blob := "BLOB"
	if d == Postgres {
		blob = "BYTEA"
	}
	s.q = queries{
		find:       s.rebind(`SELECT user_id, data, expiry FROM ` + Table + ` WHERE id = ? AND expiry > ?`),
		save:       s.rebind(`INSERT INTO ` + Table + ` (id, user_id, data, expiry) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expiry = excluded.expiry`),
		del:        s.rebind(`DELETE FROM ` + Table + ` WHERE id = ?`),
		byUser:     s.rebind(`SELECT id, data, expiry FROM ` + Table + ` WHERE user_id = ? AND expiry > ?`),
		delUser:    s.rebind(`DELETE FROM ` + Table + ` WHERE user_id = ? AND id <> ?`),
		delExpired: s.rebind(`DELETE FROM ` + Table + ` WHERE expiry <= ?`),
		migrate: []string{
			`CREATE TABLE IF NOT EXISTS ` + Table + ` (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL DEFAULT '',
	data ` + blob + ` NOT NULL,
	expiry BIGINT NOT NULL
)`,
			`CREATE INDEX IF NOT EXISTS ` + Table + `_user_idx ON ` + Table + ` (user_id) WHERE user_id <> ''`,
			`CREATE INDEX IF NOT EXISTS ` + Table + `_expiry_idx ON ` + Table + ` (expiry)`,
		},
	}
	return s, nil
}

var (
	_ session.Store       = (*Store)(nil)
	_ session.UserLister  = (*Store)(nil)
	_ session.UserDeleter = (*Store)(nil)
	_ session.Sweeper     = (*Store)(nil)
)

// rebind turns ? placeholders into $n for Postgres.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Migrate creates the table and its indexes if they do not exist. It is
// idempotent.
//
// On PostgreSQL it runs in one transaction under an advisory lock for the
// current schema, so that several instances starting at once on a fresh
// database do not race: concurrent CREATE TABLE IF NOT EXISTS statements
// may otherwise fail on PostgreSQL's catalog constraints.
func (s *Store) Migrate(ctx context.Context) error {
	if s.dialect != Postgres {
		for _, q := range s.q.migrate {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("sqlstore: migrate: %w", err)
			}
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, postgresMigrateLock); err != nil {
		return fmt.Errorf("sqlstore: migrate: lock: %w", err)
	}
	for _, q := range s.q.migrate {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// postgresMigrateLock serializes Migrate per schema until the transaction
// ends.
const postgresMigrateLock = `SELECT pg_advisory_xact_lock(hashtext('gatehouse.sqlstore.migrate:' || coalesce(current_schema(), '')))`

func ms(t time.Time) int64 { return t.UnixMilli() }

// Find returns the live record with this id.
func (s *Store) Find(ctx context.Context, id string) (session.Record, bool, error) {
	var (
		rec session.Record
		exp int64
	)
	st, err := s.findStmt(ctx)
	if err != nil {
		return session.Record{}, false, fmt.Errorf("sqlstore: find: %w", err)
	}
	err = st.QueryRowContext(ctx, id, ms(s.now())).Scan(&rec.UserID, &rec.Data, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Record{}, false, nil
	}
	if err != nil {
		return session.Record{}, false, fmt.Errorf("sqlstore: find: %w", err)
	}
	rec.Expiry = time.UnixMilli(exp)
	return rec, true, nil
}

// Save creates or replaces the record with this id.
func (s *Store) Save(ctx context.Context, id string, rec session.Record) error {
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	if _, err := s.db.ExecContext(ctx, s.q.save, id, rec.UserID, data, ms(rec.Expiry)); err != nil {
		return fmt.Errorf("sqlstore: save: %w", err)
	}
	return nil
}

// Delete removes the record with this id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.q.del, id); err != nil {
		return fmt.Errorf("sqlstore: delete: %w", err)
	}
	return nil
}

// FindByUser returns the live records of userID.
func (s *Store) FindByUser(ctx context.Context, userID string) ([]session.Entry, error) {
	if userID == "" {
		return nil, nil
	}
	rows, err := s.reader.QueryContext(ctx, s.q.byUser, userID, ms(s.now()))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: find by user: %w", err)
	}
	defer rows.Close()
	var out []session.Entry
	for rows.Next() {
		e := session.Entry{Record: session.Record{UserID: userID}}
		var exp int64
		if err := rows.Scan(&e.ID, &e.Record.Data, &exp); err != nil {
			return nil, fmt.Errorf("sqlstore: find by user: %w", err)
		}
		e.Record.Expiry = time.UnixMilli(exp)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: find by user: %w", err)
	}
	return out, nil
}

// DeleteByUser removes every record of userID except exceptID.
func (s *Store) DeleteByUser(ctx context.Context, userID, exceptID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	return s.exec(ctx, "delete by user", s.q.delUser, userID, exceptID)
}

// DeleteExpired removes every expired record.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	return s.exec(ctx, "delete expired", s.q.delExpired, ms(s.now()))
}

func (s *Store) exec(ctx context.Context, what, q string, args ...any) (int, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return int(n), nil
}
