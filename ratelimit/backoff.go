package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidBackoff is wrapped by the errors of BackoffPolicy.Validate.
var ErrInvalidBackoff = errors.New("ratelimit: invalid backoff policy")

// BackoffPolicy describes the exponential delay imposed after consecutive
// failures on a key (such as failed sign-ins for an account): the first
// Free failures cost nothing, then failure Free+1 locks the key for Base,
// the next for 2×Base, then 4×Base, …, never more than Max. Failures are
// forgotten Forget after the last one, or at once on Reset (a successful
// sign-in, a password reset).
type BackoffPolicy struct {
	Free   int           // failures allowed without delay
	Base   time.Duration // first delay
	Max    time.Duration // longest delay
	Forget time.Duration // failures are forgotten this long after the last
}

// DefaultBackoff returns the policy for sign-in defence: 5 free failures,
// then 1s, 2s, 4s, … up to 15 minutes; forgotten after 24 hours.
func DefaultBackoff() BackoffPolicy {
	return BackoffPolicy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}
}

// Validate reports, with an error wrapping ErrInvalidBackoff, why p is not
// usable.
func (p BackoffPolicy) Validate() error {
	switch {
	case p.Free < 0 || p.Free > 1000:
		return fmt.Errorf("%w: free failures %d must be between 0 and 1000", ErrInvalidBackoff, p.Free)
	case p.Base < time.Millisecond:
		return fmt.Errorf("%w: base delay %v must be at least 1ms", ErrInvalidBackoff, p.Base)
	case p.Max < p.Base || p.Max > MaxPeriod:
		return fmt.Errorf("%w: max delay %v must be between the base %v and a year", ErrInvalidBackoff, p.Max, p.Base)
	case p.Forget < p.Max || p.Forget > MaxPeriod:
		return fmt.Errorf("%w: forget %v must be between the max delay %v and a year", ErrInvalidBackoff, p.Forget, p.Max)
	}
	return nil
}

// Delay returns the lock imposed after the given number of consecutive
// failures: 0 up to Free, then Base × 2^(failures-Free-1), capped at Max.
func (p BackoffPolicy) Delay(failures int) time.Duration {
	e := failures - p.Free - 1
	switch {
	case e < 0:
		return 0
	case e >= 62 || p.Base > p.Max>>e:
		return p.Max
	}
	return p.Base << e
}

// BackoffStatus is the state of a key under a BackoffPolicy.
type BackoffStatus struct {
	// Failures counts the consecutive failures not yet forgotten.
	Failures int
	// Locked reports whether attempts are refused now.
	Locked bool
	// Until is when the lock ends (the zero Time when not locked), by the
	// backend's clock.
	Until time.Time
	// RetryAfter is Until minus now: what a 429 answer puts in
	// Retry-After. Zero when not locked.
	RetryAfter time.Duration
}

// Backoff stores failures per key and answers whether a key is locked.
// The sign-in flow is: Check; if Locked, answer 429 with Retry-After
// without looking at the password; otherwise verify, then Fail or Reset.
// Attempts that pass Check at the same moment are not serialized, so pair
// Backoff with a Backend limit on the same key to bound them.
type Backoff interface {
	// Check reports the key's status without changing it.
	Check(ctx context.Context, key string, p BackoffPolicy) (BackoffStatus, error)
	// Fail records one failure, atomically, and returns the new status.
	Fail(ctx context.Context, key string, p BackoffPolicy) (BackoffStatus, error)
	// Reset forgets the key's failures.
	Reset(ctx context.Context, key string) error
}

// MemoryBackoff is an in-process Backoff with the same sharding and
// memory bound as Memory: an entry is fresh once it is unlocked and its
// failures are forgotten.
type MemoryBackoff struct {
	t   table
	now func() int64
}

var _ Backoff = (*MemoryBackoff)(nil)

// NewMemoryBackoff returns an empty in-memory Backoff.
func NewMemoryBackoff(opts ...MemoryOption) *MemoryBackoff {
	c := newConfig(opts)
	b := &MemoryBackoff{now: c.clock()}
	b.t.init(c.maxKeys)
	return b
}

// Check reports the key's status without changing it.
func (b *MemoryBackoff) Check(ctx context.Context, key string, p BackoffPolicy) (BackoffStatus, error) {
	return b.do(key, p, false)
}

// Fail records one failure and returns the new status.
func (b *MemoryBackoff) Fail(ctx context.Context, key string, p BackoffPolicy) (BackoffStatus, error) {
	return b.do(key, p, true)
}

// Reset forgets the key's failures.
func (b *MemoryBackoff) Reset(ctx context.Context, key string) error {
	b.t.delete(key)
	return nil
}

// Len returns the number of keys stored.
func (b *MemoryBackoff) Len() int { return b.t.len() }

func (b *MemoryBackoff) do(key string, p BackoffPolicy, fail bool) (BackoffStatus, error) {
	if err := p.Validate(); err != nil {
		return BackoffStatus{}, err
	}
	key = HashKey(key)
	now := b.now()
	s := b.t.shard(key)
	s.mu.Lock()
	v := s.m[key]
	if v.exp <= now {
		v = slot{}
	}
	if fail {
		v.failures++
		v.until = now + int64(p.Delay(int(min(v.failures, 1<<20))))
		v.exp = max(v.until, now+int64(p.Forget))
		s.put(key, v, now, b.t.perShard)
	}
	s.mu.Unlock()
	return NewBackoffStatus(int(v.failures), v.until, now), nil
}

// NewBackoffStatus builds a status from a failure count and the lock end
// and current time in nanoseconds since the Unix epoch. Backends use it.
func NewBackoffStatus(failures int, until, now int64) BackoffStatus {
	st := BackoffStatus{Failures: failures}
	if until > now {
		st.Locked = true
		st.Until = time.Unix(0, until)
		st.RetryAfter = time.Duration(until - now)
	}
	return st
}
