package app

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/store/sqlstore"
)

// watchActiveSessions exports the gatehouse_active_sessions gauge. Only the
// database session store can count its signed-in sessions cheaply (one
// indexed query a minute); the others report -1: Redis would need a scan of
// every key, and encrypted cookies live only in the browsers.
func (d *deps) watchActiveSessions() {
	if d.cfg.SessionStore != "db" || d.db == nil {
		d.metrics.WatchSessions(func() (int, bool) { return 0, false })
		return
	}
	q := `SELECT COUNT(*) FROM ` + sqlstore.Table + ` WHERE user_id <> '' AND expiry > ?`
	if d.db.Dialect() == db.Postgres {
		q = `SELECT COUNT(*) FROM ` + sqlstore.Table + ` WHERE user_id <> '' AND expiry > $1`
	}
	d.metrics.WatchSessions(func() (int, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var n int
		if err := d.db.SQL().QueryRowContext(ctx, q, time.Now().UnixMilli()).Scan(&n); err != nil {
			d.metrics.StoreError("session")
			return 0, false
		}
		return n, true
	})
}
