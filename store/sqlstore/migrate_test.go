package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/store/sqlstore"
)

// TestMigrateConcurrently: several instances starting at once on a fresh
// database each migrate the session table; every one must succeed.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for round := range 5 {
				var url string
				var dbs []*sql.DB
				if b.dialect == sqlstore.Postgres {
					url = testenv.PostgresSchemaURL(t)
				}
				shared := b.open(t)
				for range 6 {
					if url == "" {
						dbs = append(dbs, shared) // one SQLite file per round
						continue
					}
					db, err := sql.Open("pgx", url) // one pool per instance
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					dbs = append(dbs, db)
				}
				var wg sync.WaitGroup
				errs := make(chan error, len(dbs))
				for _, db := range dbs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s, err := sqlstore.New(db, b.dialect)
						if err == nil {
							err = s.Migrate(context.Background())
						}
						errs <- err
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
			}
		})
	}
}
