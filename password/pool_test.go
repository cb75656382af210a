package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustFastPool(t *testing.T, opts ...PoolOption) *Pool {
	t.Helper()
	return NewPool(mustHasher(t, WithParams(fastParams)), opts...)
}

// blockWorkers makes every worker that takes a slot announce itself on
// entered and wait for gate to close. It records the peak concurrency.
type blocker struct {
	active, peak atomic.Int64
	entered      chan struct{}
	gate         chan struct{}
}

func block(p *Pool) *blocker {
	b := &blocker{entered: make(chan struct{}, 100), gate: make(chan struct{})}
	p.testEnter = func() {
		n := b.active.Add(1)
		for {
			old := b.peak.Load()
			if n <= old || b.peak.CompareAndSwap(old, n) {
				break
			}
		}
		b.entered <- struct{}{}
		<-b.gate
	}
	p.testExit = func() { b.active.Add(-1) }
	return b
}

func waitQueue(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.QueueLen() != n {
		if time.Now().After(deadline) {
			t.Fatalf("QueueLen = %d, want %d", p.QueueLen(), n)
		}
		runtime.Gosched()
	}
}

func TestPoolConcurrencyLimit(t *testing.T) {
	const workers, callers = 2, 8
	p := mustFastPool(t, WithWorkers(workers), WithMaxWait(time.Minute))
	b := block(p)
	enc, _ := p.Hasher().Hash("pw")
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = p.Hash(context.Background(), "pw")
			case 1:
				_, err = p.Verify(context.Background(), "pw", enc)
			case 2:
				if err = p.VerifyDummy(context.Background(), "pw"); errors.Is(err, ErrMismatch) {
					err = nil
				}
			}
			errs <- err
		}()
	}
	for range workers {
		<-b.entered
	}
	waitQueue(t, p, callers-workers)
	if got := b.active.Load(); got != workers {
		t.Fatalf("active = %d, want %d", got, workers)
	}
	close(b.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if peak := b.peak.Load(); peak != workers {
		t.Fatalf("peak concurrency = %d, want %d", peak, workers)
	}
	if p.QueueLen() != 0 {
		t.Fatalf("QueueLen = %d after all done", p.QueueLen())
	}
}

func TestPoolBusyAfterMaxWait(t *testing.T) {
	type obs struct {
		waited   time.Duration
		admitted bool
	}
	var mu sync.Mutex
	var seen []obs
	p := mustFastPool(t, WithWorkers(1), WithMaxWait(5*time.Millisecond),
		WithWaitObserver(func(d time.Duration, ok bool) {
			mu.Lock()
			seen = append(seen, obs{d, ok})
			mu.Unlock()
		}))
	b := block(p)
	done := make(chan error)
	go func() { _, err := p.Hash(context.Background(), "pw"); done <- err }()
	<-b.entered
	_, err := p.Hash(context.Background(), "pw")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with all workers busy = %v; want ErrBusy", err)
	}
	close(b.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !seen[0].admitted || seen[1].admitted || seen[1].waited < 5*time.Millisecond {
		t.Fatalf("observer saw %+v; want one admitted, then one refused after >= 5ms", seen)
	}
}

func TestPoolContext(t *testing.T) {
	p := mustFastPool(t, WithWorkers(1), WithMaxWait(time.Minute))
	// An ended context is refused even when a worker is free.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(cancelled ctx) = %v", err)
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if err := p.VerifyDummy(past, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyDummy(expired ctx) = %v", err)
	}

	b := block(p)
	done := make(chan error)
	go func() { _, err := p.Hash(context.Background(), "pw"); done <- err }()
	<-b.entered
	ctx3, cancel3 := context.WithCancel(context.Background())
	waiter := make(chan error)
	go func() {
		_, err := p.Verify(ctx3, "pw", "$2b$04$VFobyc2lvHZEBpfuo5P3ae2cOEdl/k0HX.QMJ8GFd7qTlbkJBBlCi")
		waiter <- err
	}()
	waitQueue(t, p, 1)
	cancel3()
	if err := <-waiter; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify cancelled while queued = %v", err)
	}
	// A bad hash is refused at once, without queueing.
	if _, err := p.Verify(context.Background(), "pw", "$2b$31$VFobyc2lvHZEBpfuo5P3ae2cOEdl/k0HX.QMJ8GFd7qTlbkJBBlCi"); !errors.Is(err, ErrTooExpensive) {
		t.Fatalf("Verify(over-limit hash) with busy pool = %v", err)
	}
	if _, err := p.Hash(context.Background(), ""); !errors.Is(err, ErrEmptyPassword) {
		t.Fatalf("Hash(\"\") = %v", err)
	}
	close(b.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.QueueLen() != 0 {
		t.Fatalf("QueueLen = %d", p.QueueLen())
	}
}

func TestPoolDefaults(t *testing.T) {
	p := NewPool(mustHasher(t))
	if p.Workers() != runtime.NumCPU() || p.maxWait != DefaultMaxWait {
		t.Fatalf("Workers = %d, maxWait = %v", p.Workers(), p.maxWait)
	}
	if p = NewPool(mustHasher(t), WithWorkers(-3), WithMaxWait(-1)); p.Workers() != runtime.NumCPU() || p.maxWait != DefaultMaxWait {
		t.Fatalf("Workers = %d, maxWait = %v", p.Workers(), p.maxWait)
	}
}

func TestPoolVerify(t *testing.T) {
	p := mustFastPool(t, WithWorkers(2))
	ctx := context.Background()
	enc, err := p.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if rehash, err := p.Verify(ctx, "a password", enc); err != nil || rehash {
		t.Fatalf("Verify = %v, %v", rehash, err)
	}
	if _, err := p.Verify(ctx, "another", enc); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong) = %v", err)
	}
}
