// Package redislimit is the Redis backend of package ratelimit: a
// ratelimit.Backend (GCRA) and a ratelimit.Backoff shared by every process
// that uses the same Redis.
//
// Each decision is one Lua script run with EVALSHA: one round trip, atomic
// on the server (the script is loaded on first use; a NOSCRIPT answer
// costs one extra EVAL, once per server). Time comes from the Redis
// server's TIME command, so application servers need no synchronized
// clocks; WithNow makes the client's clock the source instead (tests use
// it with a fake clock; several processes then need roughly synchronized
// clocks, since a process whose clock runs ahead sees keys refill early).
// Times are kept in microseconds.
//
// Every key is stored as prefix + ratelimit.HashKey(key), with an expiry
// at the moment its state is fresh again, so Redis holds no idle keys.
package redislimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used unless WithPrefix says otherwise.
const DefaultPrefix = "gatehouse:rl:"

// An Option configures a Limiter or a Backoff.
type Option func(*config)

type config struct {
	prefix string
	now    func() time.Time
}

// WithPrefix sets the prefix of every key (DefaultPrefix by default), so
// that several applications or tests can share one Redis.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithNow makes the client's clock the time source instead of the Redis
// server's TIME. Instances then need roughly synchronized clocks.
func WithNow(now func() time.Time) Option { return func(c *config) { c.now = now } }

func newConfig(opts []Option) config {
	c := config{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// key returns the Redis key of a caller's key.
func (c config) key(k string) string { return c.prefix + ratelimit.HashKey(k) }

// nowArg returns the time argument of a script: the client's time in
// microseconds, or "" to let the script read Redis TIME.
func (c config) nowArg() string {
	if c.now == nil {
		return ""
	}
	return strconv.FormatInt(c.now().UnixMicro(), 10)
}

// The shared prologue: now, in microseconds, from ARGV[1] or Redis TIME.
const nowLua = `
local now
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local function int(x) return string.format("%.0f", x) end
`

// gcraScript: KEYS[1] the key; ARGV: now, interval (µs), burst, n (0 peeks
// at a cost of 1). Returns {allowed, remaining, retry after, reset after}
// with durations in µs. The same arithmetic as ratelimit.GCRA.
var gcraScript = redis.NewScript(nowLua + `
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local tat = tonumber(redis.call("GET", KEYS[1])) or now
if tat < now then tat = now end
local tau = burst * interval
local cost = n
if n == 0 then cost = 1 end
local nxt = tat + cost * interval
local allow_at = nxt - tau
if now < allow_at then
  return {0, math.floor((tau - (tat - now)) / interval), allow_at - now, tat - now}
end
if n == 0 then
  return {1, math.floor((tau - (tat - now)) / interval), 0, tat - now}
end
redis.call("SET", KEYS[1], int(nxt), "PX", int(math.ceil((nxt - now) / 1000) + 1))
return {1, math.floor((tau - (nxt - now)) / interval), 0, nxt - now}
`)

// backoffScript: KEYS[1] the key; ARGV: now, fail (1 records a failure),
// free, base, max, forget (µs). Returns {failures, locked until, now}.
var backoffScript = redis.NewScript(nowLua + `
local free, base, max, forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local v = redis.call("HMGET", KEYS[1], "f", "u", "e")
local f, u, e = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
if e <= now then f, u = 0, 0 end
if ARGV[2] == "1" then
  f = f + 1
  local k = f - free - 1
  local d = 0
  if k >= 62 then
    d = max
  elseif k >= 0 then
    d = math.min(base * 2 ^ k, max)
  end
  u = now + d
  e = math.max(u, now + forget)
  redis.call("HSET", KEYS[1], "f", f, "u", int(u), "e", int(e))
  redis.call("PEXPIRE", KEYS[1], int(math.ceil((e - now) / 1000) + 1))
end
return {f, int(u), int(now)}
`)

// Limiter is a ratelimit.Backend in Redis.
type Limiter struct {
	client redis.UniversalClient
	c      config
}

var _ ratelimit.Backend = (*Limiter)(nil)

// New returns a Limiter using client (a *redis.Client, *redis.ClusterClient
// or *redis.Ring).
func New(client redis.UniversalClient, opts ...Option) *Limiter {
	return &Limiter{client: client, c: newConfig(opts)}
}

// Allow consumes one event for key if limit allows it now.
func (l *Limiter) Allow(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error) {
	return l.decide(ctx, key, limit, 1, false)
}

// AllowN consumes n events for key at once, or none.
func (l *Limiter) AllowN(ctx context.Context, key string, limit ratelimit.Limit, n int) (ratelimit.Result, error) {
	return l.decide(ctx, key, limit, n, false)
}

// Peek reports what Allow would answer now, without consuming.
func (l *Limiter) Peek(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Result, error) {
	return l.decide(ctx, key, limit, 1, true)
}

// Reset forgets key.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	return reset(ctx, l.client, l.c.key(key))
}

// reset deletes a stored key.
func reset(ctx context.Context, client redis.UniversalClient, key string) error {
	if err := client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("redislimit: reset: %w", err)
	}
	return nil
}

func (l *Limiter) decide(ctx context.Context, key string, limit ratelimit.Limit, n int, peek bool) (ratelimit.Result, error) {
	res := ratelimit.Result{Limit: limit}
	if err := ratelimit.CheckArgs(limit, n); err != nil {
		return res, err
	}
	if peek {
		n = 0
	}
	interval := max(limit.Interval()/time.Microsecond, 1)
	v, err := gcraScript.Run(ctx, l.client, []string{l.c.key(key)},
		l.c.nowArg(), int64(interval), limit.BurstSize(), n).Int64Slice()
	if err != nil {
		return res, fmt.Errorf("redislimit: %w", err)
	}
	if len(v) != 4 {
		return res, fmt.Errorf("redislimit: unexpected script answer %v", v)
	}
	res.Allowed = v[0] == 1
	res.Remaining = int(v[1])
	res.RetryAfter = time.Duration(v[2]) * time.Microsecond
	res.ResetAfter = time.Duration(v[3]) * time.Microsecond
	return res, nil
}

// Backoff is a ratelimit.Backoff in Redis.
type Backoff struct {
	client redis.UniversalClient
	c      config
}

var _ ratelimit.Backoff = (*Backoff)(nil)

// NewBackoff returns a Backoff using client. Give it a prefix distinct
// from a Limiter's, or distinct keys.
func NewBackoff(client redis.UniversalClient, opts ...Option) *Backoff {
	return &Backoff{client: client, c: newConfig(opts)}
}

// Check reports the key's status without changing it.
func (b *Backoff) Check(ctx context.Context, key string, p ratelimit.BackoffPolicy) (ratelimit.BackoffStatus, error) {
	return b.run(ctx, key, p, "0")
}

// Fail records one failure, atomically, and returns the new status.
func (b *Backoff) Fail(ctx context.Context, key string, p ratelimit.BackoffPolicy) (ratelimit.BackoffStatus, error) {
	return b.run(ctx, key, p, "1")
}

// Reset forgets the key's failures.
func (b *Backoff) Reset(ctx context.Context, key string) error {
	return reset(ctx, b.client, b.c.key(key))
}

func (b *Backoff) run(ctx context.Context, key string, p ratelimit.BackoffPolicy, fail string) (ratelimit.BackoffStatus, error) {
	if err := p.Validate(); err != nil {
		return ratelimit.BackoffStatus{}, err
	}
	us := func(d time.Duration) int64 { return int64(d / time.Microsecond) }
	v, err := backoffScript.Run(ctx, b.client, []string{b.c.key(key)},
		b.c.nowArg(), fail, p.Free, us(p.Base), us(p.Max), us(p.Forget)).Int64Slice()
	if err != nil {
		return ratelimit.BackoffStatus{}, fmt.Errorf("redislimit: %w", err)
	}
	if len(v) != 3 {
		return ratelimit.BackoffStatus{}, fmt.Errorf("redislimit: unexpected script answer %v", v)
	}
	return ratelimit.NewBackoffStatus(int(v[0]), v[1]*1000, v[2]*1000), nil
}
