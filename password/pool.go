package password

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultMaxWait is how long a Pool caller waits for a free worker by
// default before getting ErrBusy.
const DefaultMaxWait = 2 * time.Second

// Pool runs a Hasher's work with bounded concurrency. At most Workers()
// hashes run at once, so at most that many argon2 memory buffers exist
// however many callers wait. A caller waits for a free worker until its
// context ends or the pool's maximum wait passes, then gets ErrBusy (a
// server typically answers 503 with Retry-After).
//
// Once started, a hash runs to completion even if the caller's context
// ends meanwhile; hashing cannot be interrupted. A Pool is safe for
// concurrent use and needs no Close.
type Pool struct {
	h       *Hasher
	sem     chan struct{}
	maxWait time.Duration
	observe func(waited time.Duration, admitted bool)
	waiting atomic.Int64
	// testEnter and testExit run when a worker slot is taken and given
	// back; tests only.
	testEnter, testExit func()
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithWorkers sets the number of concurrent hashes; n < 1 means
// runtime.NumCPU().
func WithWorkers(n int) PoolOption {
	return func(p *Pool) {
		if n < 1 {
			n = runtime.NumCPU()
		}
		p.sem = make(chan struct{}, n)
	}
}

// WithMaxWait sets the longest a caller waits for a worker; d <= 0 means
// DefaultMaxWait.
func WithMaxWait(d time.Duration) PoolOption { return func(p *Pool) { p.maxWait = d } }

// WithWaitObserver registers f, called once per request with the time it
// waited for a worker and whether it got one (false: it got ErrBusy). Use
// it to export queue-wait metrics. f must be fast and safe for concurrent
// use.
func WithWaitObserver(f func(waited time.Duration, admitted bool)) PoolOption {
	return func(p *Pool) { p.observe = f }
}

// NewPool returns a Pool running h's work, by default on runtime.NumCPU()
// workers with DefaultMaxWait.
func NewPool(h *Hasher, opts ...PoolOption) *Pool {
	p := &Pool{h: h}
	for _, o := range opts {
		o(p)
	}
	if p.sem == nil {
		p.sem = make(chan struct{}, runtime.NumCPU())
	}
	if p.maxWait <= 0 {
		p.maxWait = DefaultMaxWait
	}
	return p
}

// Hasher returns the Hasher the pool runs.
func (p *Pool) Hasher() *Hasher { return p.h }

// Workers returns the maximum number of concurrent hashes.
func (p *Pool) Workers() int { return cap(p.sem) }

// QueueLen returns the number of callers currently waiting for a worker.
func (p *Pool) QueueLen() int { return int(p.waiting.Load()) }

// Hash is Hasher.Hash run on a worker.
func (p *Pool) Hash(ctx context.Context, pw string) (string, error) {
	if pw == "" {
		return "", ErrEmptyPassword
	}
	if err := checkPasswordLen(pw); err != nil {
		return "", err
	}
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return p.h.Hash(pw)
}

// Verify is Hasher.Verify run on a worker. A malformed, unsupported or
// too expensive hash is rejected before queueing.
func (p *Pool) Verify(ctx context.Context, pw, encoded string) (needsRehash bool, err error) {
	if err := checkPasswordLen(pw); err != nil {
		return false, err
	}
	ph, err := p.h.parse(encoded)
	if err != nil {
		return false, err
	}
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.release()
	return p.h.verifyParsed(pw, ph)
}

// VerifyDummy is Hasher.VerifyDummy run on a worker: it waits and works
// like Verify, and returns ErrMismatch (or ErrBusy).
func (p *Pool) VerifyDummy(ctx context.Context, pw string) error {
	if err := checkPasswordLen(pw); err != nil {
		return err
	}
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	return p.h.VerifyDummy(pw)
}

func (p *Pool) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		p.report(0, false)
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	select {
	case p.sem <- struct{}{}:
		p.report(0, true)
		return p.entered()
	default:
	}
	start := time.Now()
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	timer := time.NewTimer(p.maxWait)
	defer timer.Stop()
	select {
	case p.sem <- struct{}{}:
		p.report(time.Since(start), true)
		return p.entered()
	case <-ctx.Done():
		p.report(time.Since(start), false)
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	case <-timer.C:
		p.report(time.Since(start), false)
		return fmt.Errorf("%w: no worker free within %v", ErrBusy, p.maxWait)
	}
}

func (p *Pool) entered() error {
	if p.testEnter != nil {
		p.testEnter()
	}
	return nil
}

func (p *Pool) release() {
	if p.testExit != nil {
		p.testExit()
	}
	<-p.sem
}

func (p *Pool) report(waited time.Duration, admitted bool) {
	if p.observe != nil {
		p.observe(waited, admitted)
	}
}
