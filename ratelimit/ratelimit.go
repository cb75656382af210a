// Package ratelimit limits how often a key (a client IP, an account, a
// route) may do something, with the generic cell rate algorithm (GCRA).
//
// A Backend makes each decision atomically: with a limit of 5, fifty
// concurrent attempts on one key allow exactly five. Two backends pass the
// same conformance suite (package ratelimittest): Memory, sharded and
// bounded in memory whatever keys an attacker sends, for a single process;
// and the Redis backend in package redislimit, for several processes.
//
// Backoff adds an exponential delay after failed sign-ins; Middleware
// applies a limit to HTTP requests and answers 429 with Retry-After and
// the RateLimit-Policy and RateLimit fields of the IETF draft
// draft-ietf-httpapi-ratelimit-headers.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidCost is returned by AllowN when n is below 1 or above the
// limit's burst: such a request could never be allowed.
var ErrInvalidCost = errors.New("ratelimit: n must be between 1 and the burst")

// A Backend stores rate limit state and makes decisions atomically.
//
// Implementations must be safe for concurrent use; every decision on a key
// is atomic with respect to every other decision on the same key.
type Backend interface {
	// Allow consumes one event for key if limit allows it now.
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
	// AllowN consumes n events at once, or none: the request is refused
	// as a whole when fewer than n remain. n must be in [1, burst],
	// otherwise the error wraps ErrInvalidCost.
	AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error)
	// Peek reports what Allow would answer now, without consuming.
	Peek(ctx context.Context, key string, limit Limit) (Result, error)
	// Reset forgets key: its next request sees a full burst.
	Reset(ctx context.Context, key string) error
}

// Result is the outcome of a decision.
type Result struct {
	// Allowed reports whether the request may proceed. For Peek: whether
	// one more request would be allowed now.
	Allowed bool
	// Limit is the limit the decision used.
	Limit Limit
	// Remaining is how many more events would be allowed right now.
	Remaining int
	// RetryAfter is how long until the refused request would be allowed;
	// zero when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is fresh again (a full burst).
	ResetAfter time.Duration
}

// MaxKeyLen is the longest key a backend stores as given. Longer keys are
// replaced by HashKey with a fixed-size digest, so that an attacker who
// controls part of a key cannot make the store hold long strings.
const MaxKeyLen = 64

// HashKey returns key when it is at most MaxKeyLen bytes long, and
// otherwise "sha256:" followed by the hex SHA-256 of key (71 bytes). The
// two forms cannot collide, because the digest form is longer than any key
// kept as is. Backends call it on every key.
func HashKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// GCRA computes one decision of the generic cell rate algorithm.
//
// tat is the key's stored theoretical arrival time (0 or any time in the
// past for a fresh key) and now the current time, both in the same unit
// (nanoseconds or microseconds since an epoch); interval is
// limit.Interval() and burst limit.BurstSize() in that unit, n the cost
// (0 to peek at a cost of 1 without consuming). It returns the new tat to
// store (unchanged when refused or peeking) and the decision, with
// durations expressed in the same unit. Backends that keep state
// themselves (Memory) use it; the Redis backend runs the same arithmetic
// in a Lua script.
func GCRA(tat, now, interval, burst, n int64) (newTAT int64, allowed bool, remaining, retryAfter, resetAfter int64) {
	if tat < now {
		tat = now
	}
	tau := burst * interval
	cost := n
	if n == 0 {
		cost = 1
	}
	next := tat + cost*interval
	allowAt := next - tau
	if now < allowAt {
		return tat, false, (tau - (tat - now)) / interval, allowAt - now, tat - now
	}
	if n == 0 {
		return tat, true, (tau - (tat - now)) / interval, 0, tat - now
	}
	return next, true, (tau - (next - now)) / interval, 0, next - now
}

// CheckArgs reports whether a decision with this limit and cost n can be
// made: the limit is valid and 1 ≤ n ≤ burst. Backends call it first.
func CheckArgs(limit Limit, n int) error {
	_, _, err := checkArgs(limit, n)
	return err
}

// checkArgs is CheckArgs returning the limit's interval and burst.
func checkArgs(limit Limit, n int) (interval, burst int64, err error) {
	iv, b, err := limit.params()
	if err != nil {
		return 0, 0, err
	}
	if n < 1 || n > b {
		return 0, 0, fmt.Errorf("%w: n = %d, burst = %d", ErrInvalidCost, n, b)
	}
	return int64(iv), int64(b), nil
}
