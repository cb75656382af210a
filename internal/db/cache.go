package db

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
)

// hotCache keeps, for a SQLite database, the rows that every signed-in
// request reads: users by id and session records by handle. A SQLite read
// through database/sql costs more than the rest of a page's handling put
// together, and these rows change rarely.
//
// It is coherent with the database:
//
//   - every write this process makes through the repositories forgets the
//     rows it touches once the write has returned (committed or not), so a
//     request that starts after a write returns reads the new row;
//   - a lookup that raced with a write cannot put the row it read back in:
//     an insert is refused when anything was forgotten since the lookup
//     began (the epoch moved);
//   - writes by other processes on the same file (the gatehouse CLI, the
//     sqlite3 shell) are noticed by polling PRAGMA data_version on the
//     writer connection, which changes only for other connections'
//     commits; a change empties the cache, and a failed poll empties and
//     turns it off until a poll succeeds again, so a broken database fails
//     closed instead of serving rows from memory.
//
// PostgreSQL never uses it: several instances share one database there,
// and only the database knows what another instance just revoked.
//
// While it is off (before the first poll, after a failed one) both maps
// are empty and nothing is put in them, so lookups need not check.
type hotCache struct {
	mu       sync.RWMutex
	on       bool   // false until the first poll succeeds, and after a failed one
	epoch    uint64 // moves on every forget
	users    map[int64]account.User
	sessions map[string]session.Record

	version int64 // last PRAGMA data_version seen
	stop    context.CancelFunc
	done    chan struct{}
}

const (
	// maxCached bounds each map; a full map is emptied and fills again.
	maxCached = 4096
	// maxCachedData keeps large session records out of the cache.
	maxCachedData = 1 << 10
	// cachePollEvery is how often the cache checks for other processes'
	// writes.
	cachePollEvery = ExternalChangeDelay
)

// ExternalChangeDelay is how long, at most, a change that another process
// writes to the same SQLite file (such as `gatehouse user disable` while the
// server runs) can take to show in this process's reads of users and
// session records, plus the time of one poll. Changes this process makes
// show at once.
const ExternalChangeDelay = 100 * time.Millisecond

func newHotCache() *hotCache {
	return &hotCache{users: map[int64]account.User{}, sessions: map[string]session.Record{}}
}

// begin returns the epoch to pass to the put that follows a lookup.
func (c *hotCache) begin() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// user returns a copy of the cached user with this id.
func (c *hotCache) user(id int64) (account.User, bool) {
	if c == nil {
		return account.User{}, false
	}
	c.mu.RLock()
	u, ok := c.users[id]
	c.mu.RUnlock()
	if !ok {
		return account.User{}, false
	}
	u.Roles = slices.Clone(u.Roles)
	return u, true
}

// putUser caches u, read in a lookup that began at epoch.
func (c *hotCache) putUser(epoch uint64, u account.User) {
	if c == nil {
		return
	}
	u.Roles = slices.Clone(u.Roles)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.epoch != epoch {
		return
	}
	if len(c.users) >= maxCached {
		clear(c.users)
	}
	c.users[u.ID] = u
}

// session returns a copy of the cached record with this handle, if it is
// still live at now.
func (c *hotCache) session(handle string, now time.Time) (session.Record, bool) {
	if c == nil {
		return session.Record{}, false
	}
	c.mu.RLock()
	rec, ok := c.sessions[handle]
	c.mu.RUnlock()
	if !ok || rec.Expiry.UnixMilli() <= now.UnixMilli() {
		return session.Record{}, false
	}
	rec.Data = slices.Clone(rec.Data)
	return rec, true
}

// putSession caches rec, read in a lookup that began at epoch.
func (c *hotCache) putSession(epoch uint64, handle string, rec session.Record) {
	if c == nil || len(rec.Data) > maxCachedData {
		return
	}
	rec.Data = slices.Clone(rec.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.epoch != epoch {
		return
	}
	if len(c.sessions) >= maxCached {
		clear(c.sessions)
	}
	c.sessions[handle] = rec
}

// forgetUser drops the user with this id.
func (c *hotCache) forgetUser(id int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.users, id)
}

// forgetSession drops the record with this handle.
func (c *hotCache) forgetSession(handle string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.sessions, handle)
}

// forgetAll empties the cache.
func (c *hotCache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetAllLocked()
}

func (c *hotCache) forgetAllLocked() {
	c.epoch++
	clear(c.users)
	clear(c.sessions)
}

// poll reads the writer connection's data_version and empties the cache if
// another connection committed since the last poll (or the read fails).
func (c *hotCache) poll(ctx context.Context, write *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var v int64
	err := write.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	c.mu.RLock()
	same := err == nil && c.on && v == c.version
	c.mu.RUnlock()
	if same {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetAllLocked()
	c.on, c.version = err == nil, v
	return err
}

// watch polls until stopped.
func (c *hotCache) watch(write *sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(cachePollEvery)
		defer t.Stop()
		for {
			_ = c.poll(ctx, write)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// close stops the poller and waits for it.
func (c *hotCache) close() {
	if c == nil || c.stop == nil {
		return
	}
	c.stop()
	<-c.done
}
