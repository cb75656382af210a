package password

import (
	"container/list"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxWait is how long a Pool caller waits for a free worker by
// default before getting ErrBusy.
const DefaultMaxWait = 2 * time.Second

// Pool runs a Hasher's work with bounded concurrency and bounded memory.
// At most Workers() hashes run at once, and the memory their key
// derivations need (argon2 m KiB, scrypt 128·N·r bytes; bcrypt and PBKDF2
// need next to none) never exceeds MemoryBudget() in total, however many
// callers wait. Waiting callers hold no buffer. A caller is admitted when
// both a worker and its memory are free, in arrival order: a large legacy
// hash at the head of the queue is not overtaken by smaller ones, so it
// cannot starve. A caller waits until its context ends or the pool's
// maximum wait passes, then gets ErrBusy (a server typically answers 503
// with Retry-After).
//
// Once started, a hash runs to completion even if the caller's context
// ends meanwhile; hashing cannot be interrupted. A Pool is safe for
// concurrent use and needs no Close.
type Pool struct {
	h       *Hasher
	workers int
	budget  int64 // bytes; 0 until NewPool derives it
	maxWait time.Duration
	observe func(waited time.Duration, admitted bool)
	waiting atomic.Int64

	mu      sync.Mutex
	running int        // hashes admitted and not yet released
	memUsed int64      // bytes held by running hashes
	queue   *list.List // of *poolWaiter, in arrival order

	// testEnter and testExit run when a worker slot is taken and given
	// back; tests only.
	testEnter, testExit func()
}

// poolWaiter is a queued caller; ready is closed once it is admitted.
type poolWaiter struct {
	mem   int64
	ready chan struct{}
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithWorkers sets the number of concurrent hashes; n < 1 means
// runtime.NumCPU().
func WithWorkers(n int) PoolOption { return func(p *Pool) { p.workers = n } }

// WithMaxWait sets the longest a caller waits for a worker; d <= 0 means
// DefaultMaxWait.
func WithMaxWait(d time.Duration) PoolOption { return func(p *Pool) { p.maxWait = d } }

// WithMemoryBudget sets the most memory, in bytes, that running hashes may
// need together; b <= 0 means DefaultMemoryBudget. A budget below the
// memory of one hash with the Hasher's own Params is raised to it. A stored
// hash that needs more than the budget on its own is refused with
// ErrTooExpensive without queueing.
func WithMemoryBudget(b int64) PoolOption { return func(p *Pool) { p.budget = b } }

// WithWaitObserver registers f, called once per request with the time it
// waited for a worker and whether it got one (false: it got ErrBusy). Use
// it to export queue-wait metrics. f must be fast and safe for concurrent
// use.
func WithWaitObserver(f func(waited time.Duration, admitted bool)) PoolOption {
	return func(p *Pool) { p.observe = f }
}

// DefaultMemoryBudget returns the memory budget a Pool of workers workers
// over h uses by default: every worker hashing with h's Params, plus room
// for one stored hash at h's Limits (the larger of MaxArgon2Memory and
// MaxScryptMemory). With the defaults (19 MiB per hash, 128 MiB caps) that
// is workers × 19 MiB + 128 MiB: new hashes never wait for memory, and
// hashes that need 100 MiB (Django's argon2 default) run one or two at a
// time instead of one per worker.
func DefaultMemoryBudget(h *Hasher, workers int) int64 {
	if workers < 1 {
		workers = runtime.NumCPU()
	}
	l := h.Limits()
	legacy := max(int64(l.MaxArgon2Memory)*1024, l.MaxScryptMemory)
	return int64(workers)*argon2Bytes(h.Params().Memory) + legacy
}

// NewPool returns a Pool running h's work, by default on runtime.NumCPU()
// workers with DefaultMaxWait and DefaultMemoryBudget.
func NewPool(h *Hasher, opts ...PoolOption) *Pool {
	p := &Pool{h: h, queue: list.New()}
	for _, o := range opts {
		o(p)
	}
	if p.workers < 1 {
		p.workers = runtime.NumCPU()
	}
	if p.maxWait <= 0 {
		p.maxWait = DefaultMaxWait
	}
	if p.budget <= 0 {
		p.budget = DefaultMemoryBudget(h, p.workers)
	}
	p.budget = max(p.budget, argon2Bytes(h.Params().Memory))
	return p
}

// Hasher returns the Hasher the pool runs.
func (p *Pool) Hasher() *Hasher { return p.h }

// Workers returns the maximum number of concurrent hashes.
func (p *Pool) Workers() int { return p.workers }

// MemoryBudget returns the most memory, in bytes, that running hashes may
// need together.
func (p *Pool) MemoryBudget() int64 { return p.budget }

// MemoryInUse returns the memory, in bytes, that the running hashes need.
func (p *Pool) MemoryInUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.memUsed
}

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
	mem := argon2Bytes(p.h.params.Memory)
	if err := p.acquire(ctx, mem); err != nil {
		return "", err
	}
	defer p.release(mem)
	return p.h.Hash(pw)
}

// Verify is Hasher.Verify run on a worker. A malformed, unsupported or
// too expensive hash (over the Hasher's Limits, or needing more memory than
// the whole budget) is rejected before queueing.
func (p *Pool) Verify(ctx context.Context, pw, encoded string) (needsRehash bool, err error) {
	if err := checkPasswordLen(pw); err != nil {
		return false, err
	}
	ph, err := p.h.parse(encoded)
	if err != nil {
		return false, err
	}
	mem := ph.memoryBytes()
	if mem > p.budget {
		return false, tooExpensive("hash needs %d bytes, over the pool's memory budget %d", mem, p.budget)
	}
	if err := p.acquire(ctx, mem); err != nil {
		return false, err
	}
	defer p.release(mem)
	return p.h.verifyParsed(pw, ph)
}

// VerifyDummy is Hasher.VerifyDummy run on a worker: it waits and works
// like Verify, and returns ErrMismatch (or ErrBusy).
func (p *Pool) VerifyDummy(ctx context.Context, pw string) error {
	if err := checkPasswordLen(pw); err != nil {
		return err
	}
	mem := argon2Bytes(p.h.params.Memory)
	if err := p.acquire(ctx, mem); err != nil {
		return err
	}
	defer p.release(mem)
	return p.h.VerifyDummy(pw)
}

// fits reports whether a hash needing mem bytes may start now; p.mu held.
func (p *Pool) fits(mem int64) bool {
	return p.running < p.workers && p.memUsed+mem <= p.budget
}

// acquire takes a worker and mem bytes of the budget, waiting in arrival
// order. mem never exceeds the budget (callers check).
func (p *Pool) acquire(ctx context.Context, mem int64) error {
	if err := ctx.Err(); err != nil {
		p.report(0, false)
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	p.mu.Lock()
	if p.queue.Len() == 0 && p.fits(mem) {
		p.running++
		p.memUsed += mem
		p.mu.Unlock()
		p.report(0, true)
		return p.entered()
	}
	w := &poolWaiter{mem: mem, ready: make(chan struct{})}
	elem := p.queue.PushBack(w)
	p.waiting.Add(1)
	p.mu.Unlock()

	start := time.Now()
	timer := time.NewTimer(p.maxWait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		p.report(time.Since(start), true)
		return p.entered()
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("%w: no worker free within %v", ErrBusy, p.maxWait)
	}
	p.mu.Lock()
	select {
	case <-w.ready:
		// Admitted while giving up: hand the worker and memory on.
		p.running--
		p.memUsed -= mem
	default:
		p.queue.Remove(elem)
		p.waiting.Add(-1)
	}
	// Either way, callers behind this one may fit now.
	p.admit()
	p.mu.Unlock()
	p.report(time.Since(start), false)
	return err
}

// admit starts queued callers from the head while they fit; p.mu held. It
// stops at the first that does not fit, so nobody overtakes a large hash.
func (p *Pool) admit() {
	for e := p.queue.Front(); e != nil; e = p.queue.Front() {
		w := e.Value.(*poolWaiter)
		if !p.fits(w.mem) {
			return
		}
		p.running++
		p.memUsed += w.mem
		p.queue.Remove(e)
		p.waiting.Add(-1)
		close(w.ready)
	}
}

func (p *Pool) entered() error {
	if p.testEnter != nil {
		p.testEnter()
	}
	return nil
}

func (p *Pool) release(mem int64) {
	if p.testExit != nil {
		p.testExit()
	}
	p.mu.Lock()
	p.running--
	p.memUsed -= mem
	p.admit()
	p.mu.Unlock()
}

func (p *Pool) report(waited time.Duration, admitted bool) {
	if p.observe != nil {
		p.observe(waited, admitted)
	}
}

// argon2Bytes is the memory argon2 needs for m KiB.
func argon2Bytes(m uint32) int64 { return int64(m) * 1024 }

// bcryptBytes is about what one bcrypt computation holds (its S-boxes and
// key schedule).
const bcryptBytes = 4 << 10

// memoryBytes is the memory verifying p needs, in bytes.
func (p *parsed) memoryBytes() int64 {
	switch p.kdf {
	case kdfArgon2id, kdfArgon2i:
		return argon2Bytes(p.memory)
	case kdfScrypt:
		// V is 128·r·N bytes; B and the working buffers add 128·r·(p+2).
		return 128*int64(p.r)*int64(p.n) + 128*int64(p.r)*int64(p.p+2)
	case kdfBcrypt:
		return bcryptBytes
	}
	return 0 // PBKDF2: a few hash states
}
