package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	_ "modernc.org/sqlite"             // "sqlite" driver

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
	"github.com/gatehouse/gatehouse/store/sqlstore"
)

func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "s.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// One connection makes the file and switches it to WAL before any
	// concurrent use: connections that race to switch a new file can get
	// SQLITE_BUSY at once, without the busy timeout (db.Open pings first
	// for the same reason).
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

func openPostgres(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", testenv.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var backends = []struct {
	name    string
	dialect sqlstore.Dialect
	open    func(testing.TB) *sql.DB
}{
	{"SQLite", sqlstore.SQLite, openSQLite},
	{"Postgres", sqlstore.Postgres, openPostgres},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clock := sessiontest.NewClock(time.Now())
			sessiontest.Run(t, func(t *testing.T) session.Store {
				return mustStore(t, b.open(t), b.dialect, sqlstore.Now(clock.Now))
			}, sessiontest.WithClock(clock))
		})
	}
}

func TestConformanceRealClock(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store { return mustStore(t, openSQLite(t), sqlstore.SQLite) })
}

func TestNewRejects(t *testing.T) {
	db := openSQLite(t)
	cases := []struct {
		name string
		db   *sql.DB
		d    sqlstore.Dialect
		opts []sqlstore.Option
	}{
		{"nil db", nil, sqlstore.SQLite, nil},
		{"zero dialect", db, 0, nil},
		{"unknown dialect", db, 9, nil},
		{"nil clock", db, sqlstore.SQLite, []sqlstore.Option{sqlstore.Now(nil)}},
	}
	for _, c := range cases {
		if _, err := sqlstore.New(c.db, c.d, c.opts...); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestDialectString(t *testing.T) {
	for d, want := range map[sqlstore.Dialect]string{sqlstore.SQLite: "sqlite", sqlstore.Postgres: "postgres", 7: "Dialect(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d: %q", d, got)
		}
	}
}

func TestManagerOnSQLite(t *testing.T) {
	s := mustStore(t, openSQLite(t), sqlstore.SQLite)
	m, err := session.NewManager(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Sign in through the handler, then list and revoke.
	h := m.Handler(loginHandler("alice"))
	for range 2 {
		h.ServeHTTP(newRecorder(), newRequest())
	}
	infos, err := m.List(ctx, "alice")
	if err != nil || len(infos) != 2 {
		t.Fatalf("List = %d, %v", len(infos), err)
	}
	if n, err := m.RevokeAll(ctx, "alice", infos[0].Handle); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	if err := m.RevokeOne(ctx, "bob", infos[0].Handle); err == nil {
		t.Fatal("bob revoked alice's session")
	}
}

func benchmarkStore(b *testing.B, open func(testing.TB) *sql.DB, d sqlstore.Dialect) {
	s := mustStore(b, open(b), d)
	ctx := context.Background()
	rec := session.Record{UserID: "u1", Data: make([]byte, 200), Expiry: time.Now().Add(time.Hour)}
	id := sessiontest.NewID()
	b.Run("Save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Save(ctx, id, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Find", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := s.Find(ctx, id); !ok || err != nil {
				b.Fatal("not found", err)
			}
		}
	})
}

func BenchmarkSQLite(b *testing.B)   { benchmarkStore(b, openSQLite, sqlstore.SQLite) }
func BenchmarkPostgres(b *testing.B) { benchmarkStore(b, openPostgres, sqlstore.Postgres) }

func Example() {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(os.TempDir(), "gatehouse-example.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		panic(err)
	}
	defer os.Remove(filepath.Join(os.TempDir(), "gatehouse-example.db"))
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(context.Background()); err != nil {
		panic(err)
	}
	m, err := session.NewManager(store)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.RunSweeper(ctx, 10*time.Minute) // delete expired rows
	fmt.Println("ready")
	// Output: ready
}
