package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const (
	shardCount = 64
	// DefaultMaxKeys is the default bound on the keys a memory store holds:
	// about 45 MB measured in the worst case (keys of MaxKeyLen bytes or
	// more, all live).
	DefaultMaxKeys = 1 << 18
	// sweepGap is the least time between two full sweeps of one shard.
	sweepGap = int64(time.Second)
	// evictSample is how many entries a full shard looks at to choose the
	// one to evict.
	evictSample = 8
)

// MemoryOption configures a Memory or a MemoryBackoff.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	now     func() time.Time // nil: the monotonic clock
	maxKeys int
}

// clock returns the time in nanoseconds since the Unix epoch. Without an
// injected clock it reads only the monotonic clock (one clock read instead
// of the two of time.Now), offset by the wall time at construction.
func (c memoryConfig) clock() func() int64 {
	if c.now != nil {
		now := c.now
		return func() int64 { return now().UnixNano() }
	}
	base := time.Now()
	baseNS := base.UnixNano()
	return func() int64 { return baseNS + int64(time.Since(base)) }
}

// WithNow sets the clock. By default the store reads the monotonic clock
// (set against the wall clock once, at construction). Tests pass a fake
// clock.
func WithNow(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithMaxKeys bounds how many keys the store holds (DefaultMaxKeys by
// default; at least one per shard, 64). See Memory for what happens when
// the bound is reached.
func WithMaxKeys(n int) MemoryOption {
	return func(c *memoryConfig) { c.maxKeys = n }
}

func newConfig(opts []MemoryOption) memoryConfig {
	c := memoryConfig{maxKeys: DefaultMaxKeys}
	for _, o := range opts {
		o(&c)
	}
	if c.maxKeys < shardCount {
		c.maxKeys = shardCount
	}
	return c
}

// slot is the state of one key. exp is the time (ns) from which the entry
// is "fresh" again, indistinguishable from a missing key: the GCRA
// theoretical arrival time, or when a backoff record is forgotten.
type slot struct {
	exp      int64
	until    int64 // backoff: locked until
	failures int64 // backoff: consecutive failures
}

type shard struct {
	mu        sync.Mutex
	m         map[string]slot
	nextSweep int64
	_         [40]byte // keep shards on separate cache lines
}

// table is a sharded map of slots, bounded in size.
type table struct {
	seed     maphash.Seed
	perShard int
	shards   [shardCount]shard
}

func (t *table) init(maxKeys int) {
	t.seed = maphash.MakeSeed()
	t.perShard = maxKeys / shardCount
	for i := range t.shards {
		t.shards[i].m = make(map[string]slot)
	}
}

func (t *table) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)%shardCount]
}

// delete forgets key.
func (t *table) delete(key string) {
	key = HashKey(key)
	s := t.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// put stores v under key; s.mu must be held. When the shard is full it
// first drops every fresh entry (at most once per sweepGap), and if that
// is not enough, evicts the entry closest to fresh among a few.
func (s *shard) put(key string, v slot, now int64, max int) {
	if _, ok := s.m[key]; !ok && len(s.m) >= max {
		s.makeRoom(now, max)
	}
	s.m[key] = v
}

func (s *shard) makeRoom(now int64, max int) {
	if now >= s.nextSweep {
		s.nextSweep = now + sweepGap
		for k, v := range s.m {
			if v.exp <= now {
				delete(s.m, k)
			}
		}
		if len(s.m) < max {
			return
		}
	}
	var victim string
	best, seen := int64(0), 0
	for k, v := range s.m { // map iteration starts at a random entry
		if seen == 0 || v.exp < best {
			victim, best = k, v.exp
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(s.m, victim)
}

// Memory is an in-process Backend: 64 shards, each a map under its own
// mutex. It suits a single server process; several processes need a
// shared backend (redislimit).
//
// Memory stays bounded whatever keys an attacker sends. Keys longer than
// MaxKeyLen are stored as a fixed-size digest (HashKey), and each shard
// holds at most MaxKeys/64 keys. A refused request never stores anything,
// and neither does Peek. When a new key arrives at a full shard, the shard
// first drops every entry that is back to fresh (its state equals a
// missing key, so nothing is lost; at most once a second), and if none
// is, it evicts, among 8 entries sampled at random, the one closest to
// fresh.
//
// The trade-off: under a flood of distinct keys large enough to fill the
// store with live entries, evicted keys are forgotten early and get a new
// burst — the limiter fails open for them, rather than refusing new keys
// (which would let the attacker lock out every new client) or growing
// without bound (which would let it exhaust memory). Size MaxKeys to the
// number of distinct keys a legitimate peak produces within one window.
type Memory struct {
	t   table
	now func() int64
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory Backend.
func NewMemory(opts ...MemoryOption) *Memory {
	c := newConfig(opts)
	m := &Memory{now: c.clock()}
	m.t.init(c.maxKeys)
	return m
}

// Allow consumes one event for key if limit allows it now.
func (m *Memory) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	return m.decide(key, limit, 1, false)
}

// AllowN consumes n events for key at once, or none.
func (m *Memory) AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error) {
	return m.decide(key, limit, n, false)
}

// Peek reports what Allow would answer now, without consuming.
func (m *Memory) Peek(ctx context.Context, key string, limit Limit) (Result, error) {
	return m.decide(key, limit, 1, true)
}

// Reset forgets key.
func (m *Memory) Reset(ctx context.Context, key string) error {
	m.t.delete(key)
	return nil
}

// Len returns the number of keys stored, fresh ones included.
func (m *Memory) Len() int { return m.t.len() }

// decide makes one decision of cost n, or peeks at a cost of 1.
func (m *Memory) decide(key string, limit Limit, n int, peek bool) (Result, error) {
	interval, burst, err := checkArgs(limit, n)
	if err != nil {
		return Result{Limit: limit}, err
	}
	key = HashKey(key)
	now := m.now()
	s := m.t.shard(key)
	s.mu.Lock()
	old := s.m[key].exp
	if peek {
		n = 0
	}
	tat, ok, rem, retry, reset := GCRA(old, now, interval, burst, int64(n))
	if ok && !peek {
		s.put(key, slot{exp: tat}, now, m.t.perShard)
	}
	s.mu.Unlock()
	return Result{
		Allowed:    ok,
		Limit:      limit,
		Remaining:  int(rem),
		RetryAfter: time.Duration(retry),
		ResetAfter: time.Duration(reset),
	}, nil
}
