package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Migrations live in migrations/<dialect>/NNNN_name.sql and are applied in
// order of their number, each once, each in its own transaction.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Migration is one embedded schema change.
type Migration struct {
	// Version is the NNNN number; Name the file name.
	Version int
	Name    string
	sql     string
}

// Migrations returns the migrations embedded for dialect d, in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("db: migrations for %s: %w", d, err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("db: migration file %s/%s: name must be NNNN_name.sql", dir, e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("db: migrations %s and %s share number %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

const (
	sqliteMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`
	postgresMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)`
	// One lock per schema, held until the transaction ends, so that two
	// processes starting together apply each migration once.
	postgresMigrationLock = `SELECT pg_advisory_xact_lock(hashtext('gatehouse.migrate:' || coalesce(current_schema(), '')))`
)

// Migrate applies, in order, every embedded migration not yet recorded in
// the schema_migrations table, each in its own transaction together with
// its record. It is idempotent and safe to run from several processes at
// once. It returns the names of the migrations it applied.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	defer d.cache.forgetAll()
	ms, err := Migrations(d.dialect)
	if err != nil {
		return nil, err
	}
	create := sqliteMigrationsTable
	if d.dialect == Postgres {
		create = postgresMigrationsTable
	}
	if err := d.inMigrationTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, create)
		return err
	}); err != nil {
		return nil, fmt.Errorf("db: create schema_migrations: %w", err)
	}
	var applied []string
	for _, m := range ms {
		did := false
		err := d.inMigrationTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, d.q.migrationApplied, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q.migrationRecord, m.Version, m.Name, d.ts(time.Now())); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("db: migration %s: %w", m.Name, err)
		}
		if did {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

func (d *DB) inMigrationTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE on SQLite
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, postgresMigrationLock); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
