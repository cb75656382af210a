// Package memstore is an in-memory session.Store for tests, development and
// single-process deployments. Sessions are lost when the process exits.
//
// It implements session.UserLister, session.UserDeleter and session.Sweeper;
// run Manager.RunSweeper (or call DeleteExpired) to free expired records.
package memstore

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/session"
)

const shardCount = 32

// Store is an in-memory session store, sharded to keep lock contention low.
// The zero value is not usable; call New.
type Store struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu     sync.RWMutex
	recs   map[string]session.Record
	byUser map[string]map[string]struct{} // user id -> ids in this shard
}

// Option configures a Store.
type Option func(*Store)

// Now sets the clock used to decide expiry (default time.Now).
func Now(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].recs = make(map[string]session.Record)
		s.shards[i].byUser = make(map[string]map[string]struct{})
	}
	return s
}

var (
	_ session.Store       = (*Store)(nil)
	_ session.UserLister  = (*Store)(nil)
	_ session.UserDeleter = (*Store)(nil)
	_ session.Sweeper     = (*Store)(nil)
)

func (s *Store) shard(id string) *shard {
	return &s.shards[maphash.String(s.seed, id)%shardCount]
}

func copyRecord(r session.Record) session.Record {
	r.Data = slices.Clone(r.Data)
	return r
}

// Find returns the live record with this id.
func (s *Store) Find(_ context.Context, id string) (session.Record, bool, error) {
	sh := s.shard(id)
	sh.mu.RLock()
	rec, ok := sh.recs[id]
	sh.mu.RUnlock()
	if !ok || !rec.Expiry.After(s.now()) {
		return session.Record{}, false, nil
	}
	return copyRecord(rec), true, nil
}

// Save creates or replaces the record with this id.
func (s *Store) Save(_ context.Context, id string, rec session.Record) error {
	rec = copyRecord(rec)
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.recs[id]; ok {
		sh.unindex(old.UserID, id)
	}
	sh.recs[id] = rec
	if rec.UserID != "" {
		ids := sh.byUser[rec.UserID]
		if ids == nil {
			ids = make(map[string]struct{})
			sh.byUser[rec.UserID] = ids
		}
		ids[id] = struct{}{}
	}
	return nil
}

// unindex removes id from user's index; sh.mu must be held.
func (sh *shard) unindex(user, id string) {
	if ids := sh.byUser[user]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(sh.byUser, user)
		}
	}
}

// removeLocked deletes id; sh.mu must be held.
func (sh *shard) removeLocked(id string) {
	if old, ok := sh.recs[id]; ok {
		sh.unindex(old.UserID, id)
		delete(sh.recs, id)
	}
}

// Delete removes the record with this id.
func (s *Store) Delete(_ context.Context, id string) error {
	sh := s.shard(id)
	sh.mu.Lock()
	sh.removeLocked(id)
	sh.mu.Unlock()
	return nil
}

// FindByUser returns the live records of userID.
func (s *Store) FindByUser(_ context.Context, userID string) ([]session.Entry, error) {
	if userID == "" {
		return nil, nil
	}
	now := s.now()
	var out []session.Entry
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for id := range sh.byUser[userID] {
			if rec := sh.recs[id]; rec.Expiry.After(now) {
				out = append(out, session.Entry{ID: id, Record: copyRecord(rec)})
			}
		}
		sh.mu.RUnlock()
	}
	return out, nil
}

// DeleteByUser removes every record of userID except exceptID.
func (s *Store) DeleteByUser(_ context.Context, userID, exceptID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for id := range sh.byUser[userID] {
			if id != exceptID {
				sh.removeLocked(id)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// DeleteExpired removes every expired record.
func (s *Store) DeleteExpired(_ context.Context) (int, error) {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for id, rec := range sh.recs {
			if !rec.Expiry.After(now) {
				sh.removeLocked(id)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// Len returns the number of records held, expired ones included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.recs)
		sh.mu.RUnlock()
	}
	return n
}
