package password

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
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

const mib = 1 << 20

// TestPoolMemoryAdmission: hashes are admitted by the memory they need as
// well as by count, in arrival order. Each step acquires (or releases) in
// a pool of 4 workers with a 128 MiB budget; "queued" steps wait, and are
// admitted by a later release.
func TestPoolMemoryAdmission(t *testing.T) {
	type step struct {
		op   string // "take": acquire; "free": release a held one by index
		mem  int64
		idx  int
		want string // for take: "run" or "queued"; for free: ignored
	}
	tests := []struct {
		name  string
		steps []step
		// running: which takes (by step index) have been admitted at the end.
		running []int
	}{
		{"100 MiB fits an idle pool", []step{{op: "take", mem: 100 * mib, want: "run"}}, []int{0}},
		{"100 MiB waits for memory, not for a worker", []step{
			{op: "take", mem: 19 * mib, want: "run"},
			{op: "take", mem: 19 * mib, want: "run"},
			{op: "take", mem: 100 * mib, want: "queued"}, // 38 + 100 > 128
			{op: "free", idx: 0},                         // 19 + 100 <= 128: admitted
		}, []int{1, 2}},
		{"two 100 MiB hashes run one at a time", []step{
			{op: "take", mem: 100 * mib, want: "run"},
			{op: "take", mem: 100 * mib, want: "queued"},
			{op: "take", mem: 19 * mib, want: "queued"}, // fits, but waits its turn
			{op: "free", idx: 0},
		}, []int{1, 2}},
		{"a large waiter is not overtaken", []step{
			{op: "take", mem: 64 * mib, want: "run"},
			{op: "take", mem: 100 * mib, want: "queued"},
			{op: "take", mem: 19 * mib, want: "queued"},
			{op: "take", mem: 19 * mib, want: "queued"},
		}, []int{0}},
		{"count still caps small hashes", []step{
			{op: "take", mem: 4 << 10, want: "run"},
			{op: "take", mem: 4 << 10, want: "run"},
			{op: "take", mem: 4 << 10, want: "run"},
			{op: "take", mem: 4 << 10, want: "run"},
			{op: "take", mem: 4 << 10, want: "queued"},
			{op: "free", idx: 2},
		}, []int{0, 1, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustFastPool(t, WithWorkers(4), WithMemoryBudget(128*mib), WithMaxWait(time.Minute))
			type held struct {
				mem int64
				in  chan error
			}
			var takes []*held
			byStep := map[int]*held{}
			for i, s := range tt.steps {
				switch s.op {
				case "take":
					h := &held{mem: s.mem, in: make(chan error, 1)}
					takes = append(takes, h)
					byStep[i] = h
					queued := p.QueueLen()
					go func() { h.in <- p.acquire(context.Background(), h.mem) }()
					if s.want == "run" {
						if err := <-h.in; err != nil {
							t.Fatalf("step %d: acquire = %v", i, err)
						}
						h.in = nil
					} else {
						waitQueue(t, p, queued+1)
					}
				case "free":
					h := byStep[s.idx]
					if h.in != nil {
						t.Fatalf("step %d frees step %d, which is not running", i, s.idx)
					}
					p.release(h.mem)
					h.mem = -1
				}
			}
			var want int64
			for _, i := range tt.running {
				h := byStep[i]
				if h.in != nil {
					if err := <-h.in; err != nil {
						t.Fatalf("step %d: acquire = %v", i, err)
					}
					h.in = nil
				}
				want += h.mem
			}
			if got := p.MemoryInUse(); got != want {
				t.Fatalf("MemoryInUse = %d MiB, want %d MiB", got/mib, want/mib)
			}
			if got := p.MemoryInUse(); got > p.MemoryBudget() {
				t.Fatalf("MemoryInUse %d over budget %d", got, p.MemoryBudget())
			}
			var waiting int
			for _, h := range takes {
				if h.in != nil {
					waiting++
				}
			}
			if p.QueueLen() != waiting {
				t.Fatalf("QueueLen = %d, want %d", p.QueueLen(), waiting)
			}
			// Drain: release everything; every waiter gets in eventually.
			for _, h := range takes {
				if h.in == nil && h.mem >= 0 {
					p.release(h.mem)
					h.mem = -1
				}
			}
			for _, h := range takes {
				if h.in != nil {
					if err := <-h.in; err != nil {
						t.Fatal(err)
					}
					p.release(h.mem)
				}
			}
			if p.MemoryInUse() != 0 || p.QueueLen() != 0 {
				t.Fatalf("after drain: MemoryInUse = %d, QueueLen = %d", p.MemoryInUse(), p.QueueLen())
			}
		})
	}
}

// TestPoolVerifyLargeHashWaits: Verify of a Django-default argon2 hash
// (m=102400 KiB) queues while the budget is taken and gives up with
// ErrBusy on its context; one needing more than the whole budget is
// refused at once; a waiter that gives up lets those behind it in.
func TestPoolVerifyLargeHashWaits(t *testing.T) {
	const django = "argon2$argon2id$v=19$m=102400,t=2,p=8$Yr4ddMiraYIQ81sth6urFA$VxZK5NQq8lU6trkbuvE3vZRJGLoZd5gdxhXC2WmTNww"
	p := mustFastPool(t, WithWorkers(4), WithMemoryBudget(128*mib), WithMaxWait(time.Minute))
	if err := p.acquire(context.Background(), 64*mib); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := p.Verify(ctx, "pw", django); done <- err }()
	waitQueue(t, p, 1)
	small := make(chan error, 1)
	go func() { small <- p.acquire(context.Background(), 19*mib) }()
	waitQueue(t, p, 2) // behind the large one, though it would fit
	cancel()
	if err := <-done; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify(100 MiB hash) with 64 of 128 MiB taken = %v; want ErrBusy", err)
	}
	if err := <-small; err != nil {
		t.Fatalf("the waiter behind a cancelled one: %v", err)
	}
	p.release(19 * mib)
	p.release(64 * mib)

	tight := mustFastPool(t, WithWorkers(4), WithMemoryBudget(64*mib))
	if _, err := tight.Verify(context.Background(), "pw", django); !errors.Is(err, ErrTooExpensive) {
		t.Fatalf("Verify(100 MiB hash) with a 64 MiB budget = %v; want ErrTooExpensive", err)
	}
}

func TestPoolMemoryBudgetDefaults(t *testing.T) {
	h := mustHasher(t)
	want := 2*19456*1024 + 128*mib
	if got := NewPool(h, WithWorkers(2)).MemoryBudget(); got != int64(want) {
		t.Fatalf("default budget for 2 workers = %d, want %d", got, want)
	}
	// A budget below one new hash is raised to it.
	if got := NewPool(h, WithMemoryBudget(1)).MemoryBudget(); got != 19456*1024 {
		t.Fatalf("budget 1 -> %d", got)
	}
	for _, tt := range []struct {
		hash string
		mem  int64
	}{
		{"argon2$argon2id$v=19$m=102400,t=2,p=8$Yr4ddMiraYIQ81sth6urFA$VxZK5NQq8lU6trkbuvE3vZRJGLoZd5gdxhXC2WmTNww", 100 * mib},
		{"scrypt:32768:8:1$salt$" + strings.Repeat("ab", 64), 32*mib + 128*8*3},
		{"$2b$04$VFobyc2lvHZEBpfuo5P3ae2cOEdl/k0HX.QMJ8GFd7qTlbkJBBlCi", bcryptBytes},
		{"pbkdf2_sha256$1000$salt$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), 0},
	} {
		ph, err := h.parse(tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		if got := ph.memoryBytes(); got != tt.mem {
			t.Errorf("%.30s: memoryBytes = %d, want %d", tt.hash, got, tt.mem)
		}
	}
}
