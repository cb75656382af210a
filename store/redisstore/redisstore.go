// Package redisstore is a session.Store on Redis (github.com/redis/go-redis/v9).
//
// Each session is a hash at PREFIX+"s:"+id with fields u (user id), d (data)
// and e (expiry, Unix milliseconds), expired by Redis through its TTL. Each
// signed-in user has a sorted set at PREFIX+"u:"+userID of session ids scored
// by expiry, pruned as it is used, so that a user's sessions can be listed
// and ended. Saves, deletes and per-user deletes are single Lua scripts, so
// they are atomic.
//
// The scripts touch a session's key and its user's index key together, which
// Redis Cluster does not allow across hash slots: use a single primary (with
// replicas or Sentinel if needed). No sweeper is needed.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/session"
)

// DefaultPrefix is the key prefix used unless Prefix is given.
const DefaultPrefix = "gatehouse:session:"

// MaxList caps how many sessions FindByUser returns for one user (those
// expiring last), so that a user with very many sessions never makes a
// listing unbounded.
const MaxList = 1000

// Store is a session store in Redis. It is safe for concurrent use.
type Store struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// Prefix sets the prefix of every key the store writes (default
// "gatehouse:session:").
func Prefix(p string) Option { return func(s *Store) { s.prefix = p } }

// Now sets the clock used to compute TTLs and decide expiry (default
// time.Now).
func Now(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store using client.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	s := &Store{c: client, prefix: DefaultPrefix, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, errors.New("redisstore: nil clock")
	}
	return s, nil
}

var (
	_ session.Store       = (*Store)(nil)
	_ session.UserLister  = (*Store)(nil)
	_ session.UserDeleter = (*Store)(nil)
)

func (s *Store) key(id string) string       { return s.prefix + "s:" + id }
func (s *Store) userKey(user string) string { return s.prefix + "u:" + user }

// saveScript: KEYS[1] session key; ARGV: user, data, expiry ms, ttl ms,
// now ms, user index prefix, id.
var saveScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'u')
if old and old ~= '' and old ~= ARGV[1] then
  redis.call('ZREM', ARGV[6] .. old, ARGV[7])
end
redis.call('DEL', KEYS[1])
local idx = ARGV[6] .. ARGV[1]
if tonumber(ARGV[4]) <= 0 then
  if ARGV[1] ~= '' then redis.call('ZREM', idx, ARGV[7]) end
  return 0
end
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'd', ARGV[2], 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[1] ~= '' then
  redis.call('ZADD', idx, ARGV[3], ARGV[7])
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[5])
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIRE', idx, math.max(1, tonumber(top[2]) - tonumber(ARGV[5])))
  end
end
return 1
`)

// deleteScript: KEYS[1] session key; ARGV: user index prefix, id.
var deleteScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
if old and old ~= '' then redis.call('ZREM', ARGV[1] .. old, ARGV[2]) end
return 0
`)

// listScript: KEYS[1] user index; ARGV: now ms, session key prefix, user,
// limit. Returns id, data, expiry triples.
var listScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', ARGV[2] .. id, 'u', 'd', 'e')
  if v[1] == ARGV[3] then
    if tonumber(v[3]) > tonumber(ARGV[1]) then
      table.insert(out, id)
      table.insert(out, v[2])
      table.insert(out, v[3])
    end
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

// deleteUserScript: KEYS[1] user index; ARGV: session key prefix, user,
// except id.
var deleteUserScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
for _, id in ipairs(ids) do
  if id ~= ARGV[3] then
    local key = ARGV[1] .. id
    if redis.call('HGET', key, 'u') == ARGV[2] then
      n = n + redis.call('DEL', key)
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return n
`)

// Find returns the live record with this id.
func (s *Store) Find(ctx context.Context, id string) (session.Record, bool, error) {
	v, err := s.c.HMGet(ctx, s.key(id), "u", "d", "e").Result()
	if err != nil {
		return session.Record{}, false, fmt.Errorf("redisstore: find: %w", err)
	}
	u, ok1 := v[0].(string)
	d, ok2 := v[1].(string)
	e, ok3 := v[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return session.Record{}, false, nil
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || exp <= s.now().UnixMilli() {
		return session.Record{}, false, nil
	}
	return session.Record{UserID: u, Data: []byte(d), Expiry: time.UnixMilli(exp)}, true, nil
}

// Save creates or replaces the record with this id; its TTL is the time
// left until rec.Expiry (a past expiry deletes it).
func (s *Store) Save(ctx context.Context, id string, rec session.Record) error {
	now := s.now()
	exp := rec.Expiry.UnixMilli()
	ttl := exp - now.UnixMilli()
	err := saveScript.Run(ctx, s.c, []string{s.key(id)},
		rec.UserID, rec.Data, exp, ttl, now.UnixMilli(), s.prefix+"u:", id).Err()
	if err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	return nil
}

// Delete removes the record with this id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := deleteScript.Run(ctx, s.c, []string{s.key(id)}, s.prefix+"u:", id).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// FindByUser returns the live records of userID (at most MaxList, those
// expiring last), pruning stale index entries.
func (s *Store) FindByUser(ctx context.Context, userID string) ([]session.Entry, error) {
	if userID == "" {
		return nil, nil
	}
	v, err := listScript.Run(ctx, s.c, []string{s.userKey(userID)},
		s.now().UnixMilli(), s.prefix+"s:", userID, MaxList).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: find by user: %w", err)
	}
	out := make([]session.Entry, 0, len(v)/3)
	for i := 0; i+2 < len(v); i += 3 {
		id, _ := v[i].(string)
		d, _ := v[i+1].(string)
		e, _ := v[i+2].(string)
		exp, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, session.Entry{ID: id, Record: session.Record{UserID: userID, Data: []byte(d), Expiry: time.UnixMilli(exp)}})
	}
	return out, nil
}

// DeleteByUser removes every record of userID except exceptID.
func (s *Store) DeleteByUser(ctx context.Context, userID, exceptID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	n, err := deleteUserScript.Run(ctx, s.c, []string{s.userKey(userID)}, s.prefix+"s:", userID, exceptID).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete by user: %w", err)
	}
	return n, nil
}
