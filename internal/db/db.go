// Package db stores Gatehouse's data in SQLite (through modernc.org/sqlite,
// no cgo) or PostgreSQL (through pgx), with the same repositories and the
// same embedded migrations for both.
//
// [Open] connects; [DB.Migrate] applies the migrations embedded in the
// binary; [DB.Users] and [DB.Audit] return repositories that implement the
// storage ports of internal/account. All SQL is parameterized and written
// once per dialect at package initialization.
//
// Times are stored in UTC, truncated to microseconds: as INTEGER unix
// nanoseconds in SQLite and as timestamptz in PostgreSQL.
//
// On a SQLite file, the rows every signed-in request reads (users by id,
// session records by handle) are cached in the process, coherently with
// every write; writes by other processes show within
// [ExternalChangeDelay]. PostgreSQL is never cached.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the database engine behind a [DB].
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrUnsupportedURL is returned by [Open] for a URL that is neither
// sqlite:PATH nor postgres://...
var ErrUnsupportedURL = errors.New("db: unsupported database URL (want sqlite:PATH or postgres://...)")

// DB is an open database: a pool for reads (and any use), a pool for the
// repositories' writes, and the dialect's queries. It is safe for
// concurrent use.
type DB struct {
	dialect Dialect
	read    *sql.DB // general pool: reads, and anything SQL() callers do
	write   *sql.DB // SQLite: one connection, so writes queue in Go, not in SQLITE_BUSY
	q       *queries
	stmts   sync.Map  // query text -> *sql.Stmt on the read pool
	cache   *hotCache // SQLite files only; nil otherwise
	timeout time.Duration
}

// readStmt returns a prepared statement for q on the read pool, preparing it
// once. Hot lookups use it so that SQLite does not parse the same SQL on
// every request.
func (d *DB) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := d.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := d.read.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Option configures [Open].
type Option func(*options)

type options struct {
	migrate   bool
	readConns int
	timeout   time.Duration
}

// WithTimeout bounds every repository call on PostgreSQL, waiting for a
// pooled connection included, to d: a stalled server or a black-holed
// network then fails the call with context.DeadlineExceeded instead of
// holding the request (and a pool slot) for minutes. A transaction cut off
// by it is rolled back, never half-written. Zero means no bound.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMigrate makes Open apply pending migrations before returning.
func WithMigrate() Option { return func(o *options) { o.migrate = true } }

// WithReadConns sets the size of the read pool (default: max(8, 4×NumCPU)
// for SQLite; for PostgreSQL 4 per CPU, from 8 to 20). SQLite readers on
// one file cost little; a pool smaller than the requests in flight makes
// them queue in database/sql, which costs more.
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// SQLite connection settings, applied by the driver to every new
// connection of both pools.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Open connects to the database named by url and checks that it answers:
//
//   - "sqlite:PATH" (or "sqlite://PATH"): a SQLite file, created 0600 if
//     missing, in WAL mode with foreign keys on, a 5 s busy timeout and
//     synchronous=NORMAL. Writes by the repositories go through a single
//     connection; reads use a pool.
//   - "sqlite::memory:": a private in-memory database on one connection
//     (tests only; it vanishes on Close).
//   - "postgres://..." or "postgresql://...": PostgreSQL through pgx.
//
// Open does not migrate unless given [WithMigrate].
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var (
		d   *DB
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		var path string
		if path, err = SQLitePath(url); err == nil {
			d, err = openSQLite(path, o)
		}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		d, err = openPostgres(url, o)
	default:
		return nil, ErrUnsupportedURL
	}
	if err != nil {
		return nil, err
	}
	d.timeout = o.timeout
	pctx, cancel := d.bound(ctx)
	defer cancel()
	if err := d.Ping(pctx); err != nil {
		d.Close()
		return nil, err
	}
	if o.migrate {
		if _, err := d.Migrate(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	// Only now: a poll opening the writer's connection while another
	// connection first sets WAL mode on a new file can fail with SQLITE_BUSY.
	if d.cache != nil {
		d.cache.watch(d.write)
	}
	return d, nil
}

// ErrSQLiteURL is returned for a sqlite: URL whose path cannot be used.
var ErrSQLiteURL = errors.New("db: invalid sqlite URL (want sqlite:PATH, sqlite:///ABSOLUTE/PATH or sqlite::memory:)")

// SQLitePath returns the file path of a sqlite: database URL, the one place
// that reads them: "sqlite:PATH" and "sqlite://PATH" name PATH (relative
// to the working directory, or absolute), "sqlite:///abs/x.db" names
// /abs/x.db, and "sqlite::memory:" is returned as ":memory:". A URL with a
// query or fragment, a file: URI, an empty path or one naming a directory
// is refused with [ErrSQLiteURL], rather than guessed at: the keys file is
// written beside the database, so a misread path puts secrets elsewhere.
func SQLitePath(url string) (string, error) {
	rest, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return "", ErrUnsupportedURL
	}
	if rest == ":memory:" {
		return rest, nil
	}
	path := strings.TrimPrefix(rest, "//")
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#\x00") || strings.HasPrefix(path, "file:") ||
		strings.HasSuffix(path, "/") || filepath.Base(path) == "." || filepath.Base(path) == ".." {
		return "", fmt.Errorf("%w: %q", ErrSQLiteURL, url)
	}
	return path, nil
}

func openSQLite(path string, o options) (*DB, error) {
	if path == ":memory:" {
		pool, err := sql.Open("sqlite", ":memory:?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("db: open sqlite: %w", err)
		}
		// One connection that is never closed: it is the database.
		pool.SetMaxOpenConns(1)
		pool.SetMaxIdleConns(1)
		pool.SetConnMaxLifetime(0)
		pool.SetConnMaxIdleTime(0)
		return &DB{dialect: SQLite, read: pool, write: pool, q: sqliteQueries}, nil
	}
	// Create the file owner-only: it holds password hashes. SQLite gives
	// its -wal and -shm files the same permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("db: create sqlite file: %w", err)
	}
	dsn := path + "?" + sqlitePragmas
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("db: open sqlite: %w", err)
	}
	n := o.readConns
	if n <= 0 {
		n = max(8, 4*runtime.NumCPU())
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{dialect: SQLite, read: read, write: write, q: sqliteQueries, cache: newHotCache()}, nil
}

func openPostgres(url string, o options) (*DB, error) {
	pool, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	n := o.readConns
	if n <= 0 {
		// Enough to keep this process's CPUs busy; more only adds server
		// processes that compete for the same CPUs (with 20 on two cores,
		// a signed-in page served about 15% fewer requests than with 8).
		n = min(20, max(8, 4*runtime.GOMAXPROCS(0)))
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{dialect: Postgres, read: pool, write: pool, q: postgresQueries}, nil
}

// Dialect reports which engine this DB talks to.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the general connection pool, for packages that keep their own
// tables in the same database (such as store/sqlstore). It is safe for
// reads and writes; on SQLite its writes wait for the write lock up to the
// busy timeout, with transactions started as BEGIN IMMEDIATE.
func (d *DB) SQL() *sql.DB { return d.read }

// Writer returns the pool the repositories write through: on SQLite a
// single connection (so writers queue instead of contending for the lock),
// on PostgreSQL the same pool as [DB.SQL].
func (d *DB) Writer() *sql.DB { return d.write }

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.read.PingContext(ctx); err != nil {
		return fmt.Errorf("db: ping: %w", err)
	}
	if d.write != d.read {
		if err := d.write.PingContext(ctx); err != nil {
			return fmt.Errorf("db: ping: %w", err)
		}
	}
	return nil
}

// Close closes every pool.
func (d *DB) Close() error {
	d.cache.close()
	d.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	err := d.read.Close()
	if d.write != d.read {
		err = errors.Join(err, d.write.Close())
	}
	return err
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. It runs at
// package initialization on constant query texts (which hold no ? inside
// string literals), never on request data.
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Time handling.

// ts converts t to the dialect's column value: UTC truncated to
// microseconds; unix nanoseconds (clamped to the int64 range) on SQLite.
func (d *DB) ts(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.dialect == Postgres {
		return t
	}
	switch {
	case t.Year() >= 2262:
		return int64(math.MaxInt64)
	case t.Year() <= 1677:
		return int64(math.MinInt64)
	}
	return t.UnixNano()
}

// nullTS is ts, with the zero time stored as NULL.
func (d *DB) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

// truncate is what a time reads back as after a round trip.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeScanner reads a time column of either dialect; NULL reads as the
// zero time.
type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.t = time.Time{}
	case int64:
		*s.t = time.Unix(0, v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("db: cannot scan %T into a time", v)
	}
	return nil
}

// nullInt64 maps 0 to NULL for optional foreign keys.
func nullInt64(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// noCancel is the cancel func of a context bound does not wrap.
func noCancel() {}

// bound gives ctx the database deadline (see [WithTimeout]) for one
// repository call, pool acquisition included. On SQLite it returns ctx as it
// is: a local file cannot stall like a network peer, its lock waits are
// bounded by the busy timeout, and a cancellable context costs every hot
// lookup a goroutine in database/sql.
func (d *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout <= 0 || d.dialect != Postgres {
		return ctx, noCancel
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d.timeout {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, d.timeout)
}
