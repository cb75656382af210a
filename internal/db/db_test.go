package db_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
)

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"sqlite:" + filepath.Join(dir, "a.db"), false},
		{"sqlite://" + filepath.Join(dir, "b.db"), false},
		{"sqlite::memory:", false},
		{"sqlite:", true},
		{"sqlite:" + filepath.Join(dir, "c.db") + "?_pragma=foreign_keys(0)", true},
		{"sqlite:file:x.db", true},
		{"mysql://localhost/db", true},
		{"", true},
		{"gatehouse.db", true},
	}
	for _, tc := range tests {
		d, err := db.Open(ctx, tc.url)
		if (err != nil) != tc.wantErr {
			t.Errorf("Open(%q) error = %v, wantErr %v", tc.url, err, tc.wantErr)
		}
		if err == nil {
			if d.Dialect() != db.SQLite {
				t.Errorf("Open(%q).Dialect() = %v", tc.url, d.Dialect())
			}
			d.Close()
		}
	}
	if _, err := db.Open(ctx, "redis://x"); !errors.Is(err, db.ErrUnsupportedURL) {
		t.Errorf("Open(redis) = %v, want ErrUnsupportedURL", err)
	}
}

func TestSQLiteSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	d := mustOpen(t, "sqlite:"+path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %o, want 600", perm)
	}
	for _, pool := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"SQL", func(p string) (s string, err error) { err = d.SQL().QueryRow("PRAGMA " + p).Scan(&s); return }},
		{"Writer", func(p string) (s string, err error) { err = d.Writer().QueryRow("PRAGMA " + p).Scan(&s); return }},
	} {
		for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "synchronous": "1"} {
			got, err := pool.q(pragma)
			if err != nil || got != want {
				t.Errorf("%s: PRAGMA %s = %q, %v; want %q", pool.name, pragma, got, err, want)
			}
		}
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteMemory(t *testing.T) {
	d := mustOpen(t, "sqlite::memory:")
	u, err := d.Users().CreateUser(ctx, newUser("mem@example.com", t0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Users().UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
}

// The database survives a close and reopen, and reopening does not migrate
// twice.
func TestReopen(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := d.Migrate(ctx)
	if err != nil || len(applied) == 0 || !strings.HasPrefix(applied[0], "0001_") {
		t.Fatalf("first Migrate = %v, %v", applied, err)
	}
	if _, err := d.Users().CreateUser(ctx, newUser("keep@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2 := mustOpen(t, url)
	if _, err := d2.Users().CredentialsByEmailKey(ctx, "keep@example.com"); err != nil {
		t.Fatal(err)
	}
}

// Lookups done on every signed-in request.
//
//	go test ./internal/db -run '^$' -bench . -benchtime 2s
func BenchmarkUserByID(b *testing.B) {
	for _, e := range []struct {
		name string
		open opener
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		b.Run(e.name, func(b *testing.B) {
			d := e.open(b)
			ids := seedUsers(b, d, 1000)
			b.Run("serial", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := d.Users().UserByID(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if _, err := d.Users().UserByID(ctx, ids[int(i)%len(ids)]); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run("by-email", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					key := fmt.Sprintf("bench%d@example.com", i%len(ids))
					if _, err := d.Users().CredentialsByEmailKey(ctx, key); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("audit-insert", func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Audit().InsertAudit(ctx, account.Event{At: t0, UserID: ids[0], Name: account.EventLoginSuccess, Outcome: account.OutcomeSuccess}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func seedUsers(b *testing.B, d *db.DB, n int) []int64 {
	b.Helper()
	ids := make([]int64, n)
	for i := range n {
		u, err := d.Users().CreateUser(ctx, newUser(fmt.Sprintf("bench%d@example.com", i), t0))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}
