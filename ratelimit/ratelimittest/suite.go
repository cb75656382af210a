// Package ratelimittest is the conformance suite every ratelimit.Backend
// and ratelimit.Backoff must pass. A backend's own test calls Run (and
// RunBackoff) with a constructor that reads time from the clock it is
// given, so that the suite never sleeps:
//
//	func TestConformance(t *testing.T) {
//		ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Backend {
//			return ratelimit.NewMemory(ratelimit.WithNow(now))
//		})
//	}
package ratelimittest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

// Clock is a fake clock, safe for concurrent use, that only moves when
// told to.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock showing start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// NewBackend returns a new, empty backend that reads the time from now.
// Backends sharing storage between calls (Redis) must use a fresh key
// prefix each time.
type NewBackend func(t *testing.T, now func() time.Time) ratelimit.Backend

// NewBackoff returns a new, empty Backoff that reads the time from now.
type NewBackoff func(t *testing.T, now func() time.Time) ratelimit.Backoff

// start is a whole second, so that backends counting in microseconds
// see exactly the times the suite expects.
var start = time.Unix(1_700_000_000, 0)

// tolerance absorbs backends that count time in microseconds.
const tolerance = time.Millisecond

// Run runs the Backend conformance suite against backends made by newBackend.
func Run(t *testing.T, newBackend NewBackend) {
	setup := func(t *testing.T) (ratelimit.Backend, *Clock, context.Context) {
		c := NewClock(start)
		return newBackend(t, c.Now), c, t.Context()
	}
	perMin5 := ratelimit.PerMinute(5) // interval 12s, burst 5

	t.Run("BurstThenRefusal", func(t *testing.T) {
		b, _, ctx := setup(t)
		for i := range 5 {
			res := mustAllow(t, b, ctx, "k", perMin5)
			if !res.Allowed || res.Remaining != 4-i {
				t.Fatalf("attempt %d: %+v, want allowed with %d remaining", i+1, res, 4-i)
			}
			if want := time.Duration(i+1) * 12 * time.Second; !near(res.ResetAfter, want) {
				t.Fatalf("attempt %d: ResetAfter = %v, want %v", i+1, res.ResetAfter, want)
			}
		}
		res := mustAllow(t, b, ctx, "k", perMin5)
		if res.Allowed || res.Remaining != 0 || !near(res.RetryAfter, 12*time.Second) {
			t.Fatalf("6th attempt: %+v, want refused, 0 remaining, retry after 12s", res)
		}
	})

	t.Run("RefillOverTime", func(t *testing.T) {
		b, c, ctx := setup(t)
		spend(t, b, ctx, "k", perMin5, 5)
		c.Advance(12 * time.Second)
		if res := mustAllow(t, b, ctx, "k", perMin5); !res.Allowed {
			t.Fatalf("after one interval: %+v, want allowed", res)
		}
		if res := mustAllow(t, b, ctx, "k", perMin5); res.Allowed {
			t.Fatalf("second after one interval: %+v, want refused", res)
		}
		c.Advance(time.Hour)
		spend(t, b, ctx, "k", perMin5, 5)
		if res := mustAllow(t, b, ctx, "k", perMin5); res.Allowed {
			t.Fatalf("after a full refill, 6th: %+v, want refused", res)
		}
	})

	t.Run("RetryAfterIsExact", func(t *testing.T) {
		b, c, ctx := setup(t)
		l := ratelimit.Limit{Rate: 3, Period: 7 * time.Second, Burst: 2}
		spend(t, b, ctx, "k", l, 2)
		res := mustAllow(t, b, ctx, "k", l)
		if res.Allowed || res.RetryAfter <= 0 {
			t.Fatalf("refusal: %+v", res)
		}
		c.Advance(res.RetryAfter - 2*tolerance)
		if res := mustAllow(t, b, ctx, "k", l); res.Allowed {
			t.Fatalf("just before Retry-After: allowed, want refused")
		}
		c.Advance(2 * tolerance)
		if res := mustAllow(t, b, ctx, "k", l); !res.Allowed {
			t.Fatalf("at Retry-After: %+v, want allowed", res)
		}
	})

	t.Run("Burst", func(t *testing.T) {
		b, c, ctx := setup(t)
		l := ratelimit.PerMinute(1).WithBurst(3)
		spend(t, b, ctx, "k", l, 3)
		if res := mustAllow(t, b, ctx, "k", l); res.Allowed || !near(res.RetryAfter, time.Minute) {
			t.Fatalf("after burst: %+v, want refused for 1m", res)
		}
		c.Advance(time.Minute)
		spend(t, b, ctx, "k", l, 1)
	})

	t.Run("IndependentKeys", func(t *testing.T) {
		b, _, ctx := setup(t)
		spend(t, b, ctx, "a", perMin5, 5)
		if res := mustAllow(t, b, ctx, "a", perMin5); res.Allowed {
			t.Fatal("a: allowed after its burst")
		}
		spend(t, b, ctx, "b", perMin5, 5)
		spend(t, b, ctx, "A", perMin5, 5)
	})

	t.Run("AllowN", func(t *testing.T) {
		b, _, ctx := setup(t)
		res, err := b.AllowN(ctx, "k", perMin5, 3)
		if err != nil || !res.Allowed || res.Remaining != 2 {
			t.Fatalf("AllowN 3: %+v, %v; want allowed, 2 remaining", res, err)
		}
		res, err = b.AllowN(ctx, "k", perMin5, 3)
		if err != nil || res.Allowed || res.Remaining != 2 || !near(res.RetryAfter, 12*time.Second) {
			t.Fatalf("AllowN 3 with 2 left: %+v, %v; want refused, 2 remaining, retry 12s", res, err)
		}
		if res, err = b.AllowN(ctx, "k", perMin5, 2); err != nil || !res.Allowed || res.Remaining != 0 {
			t.Fatalf("AllowN 2 with 2 left: %+v, %v; want allowed", res, err)
		}
		for _, n := range []int{0, -1, 6, 1 << 40} {
			if _, err := b.AllowN(ctx, "k", perMin5, n); !errors.Is(err, ratelimit.ErrInvalidCost) {
				t.Errorf("AllowN %d: err = %v, want ErrInvalidCost", n, err)
			}
		}
	})

	t.Run("PeekDoesNotConsume", func(t *testing.T) {
		b, _, ctx := setup(t)
		for range 10 {
			res, err := b.Peek(ctx, "k", perMin5)
			if err != nil || !res.Allowed || res.Remaining != 5 || res.ResetAfter != 0 {
				t.Fatalf("Peek on a fresh key: %+v, %v", res, err)
			}
		}
		spend(t, b, ctx, "k", perMin5, 2)
		if res, err := b.Peek(ctx, "k", perMin5); err != nil || !res.Allowed || res.Remaining != 3 {
			t.Fatalf("Peek after 2: %+v, %v; want 3 remaining", res, err)
		}
		spend(t, b, ctx, "k", perMin5, 3)
		res, err := b.Peek(ctx, "k", perMin5)
		if err != nil || res.Allowed || res.Remaining != 0 || !near(res.RetryAfter, 12*time.Second) {
			t.Fatalf("Peek on a spent key: %+v, %v; want refused, retry 12s", res, err)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		b, _, ctx := setup(t)
		spend(t, b, ctx, "k", perMin5, 5)
		spend(t, b, ctx, "other", perMin5, 5)
		if err := b.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		spend(t, b, ctx, "k", perMin5, 5)
		if res := mustAllow(t, b, ctx, "other", perMin5); res.Allowed {
			t.Fatal("Reset of k also reset other")
		}
		if err := b.Reset(ctx, "never-seen"); err != nil {
			t.Fatalf("Reset of an unknown key: %v", err)
		}
	})

	t.Run("ConcurrentExactness", func(t *testing.T) {
		b, _, ctx := setup(t)
		l := ratelimit.PerHour(5)
		var allowed atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				res, err := b.Allow(ctx, "hot", l)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := allowed.Load(); n != 5 {
			t.Fatalf("50 concurrent attempts with a limit of 5 allowed %d", n)
		}
	})

	t.Run("LongAndBinaryKeys", func(t *testing.T) {
		b, _, ctx := setup(t)
		long := strings.Repeat("x", 100_000)
		keys := []string{
			"", "\x00", "\x00\x01\xff", "a\nb", "é", "ключ", "{slot}",
			long, long + "y", strings.Repeat("y", ratelimit.MaxKeyLen), strings.Repeat("y", ratelimit.MaxKeyLen+1),
			ratelimit.HashKey(long), // the digest form given as a key is hashed again: its own bucket
		}
		l := ratelimit.PerHour(2)
		for _, k := range keys {
			spend(t, b, ctx, k, l, 2)
			if res := mustAllow(t, b, ctx, k, l); res.Allowed {
				t.Fatalf("key %.20q: allowed after its burst (keys collide?)", k)
			}
		}
		if err := b.Reset(ctx, long); err != nil {
			t.Fatal(err)
		}
		spend(t, b, ctx, long, l, 2)
	})

	t.Run("InvalidLimit", func(t *testing.T) {
		b, _, ctx := setup(t)
		for _, l := range []ratelimit.Limit{{}, {Rate: -1, Period: time.Second}, {Rate: 1}, {Rate: 10_000_000, Period: time.Second}} {
			if _, err := b.Allow(ctx, "k", l); !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Errorf("Allow with %+v: err = %v, want ErrInvalidLimit", l, err)
			}
			if _, err := b.Peek(ctx, "k", l); !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Errorf("Peek with %+v: err = %v, want ErrInvalidLimit", l, err)
			}
		}
	})
}

// RunBackoff runs the Backoff conformance suite against stores made by
// newBackoff.
func RunBackoff(t *testing.T, newBackoff NewBackoff) {
	p := ratelimit.BackoffPolicy{Free: 2, Base: time.Second, Max: 10 * time.Second, Forget: time.Hour}
	setup := func(t *testing.T) (ratelimit.Backoff, *Clock, context.Context) {
		c := NewClock(start)
		return newBackoff(t, c.Now), c, t.Context()
	}

	t.Run("ExponentialAndCapped", func(t *testing.T) {
		b, c, ctx := setup(t)
		wants := []time.Duration{0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
		for i, want := range wants {
			st := mustFail(t, b, ctx, "acct", p)
			if st.Failures != i+1 || st.Locked != (want > 0) || !near(st.RetryAfter, want) {
				t.Fatalf("failure %d: %+v, want locked for %v", i+1, st, want)
			}
			if want > 0 && !st.Until.Equal(c.Now().Add(want)) {
				t.Fatalf("failure %d: Until = %v, want %v", i+1, st.Until, c.Now().Add(want))
			}
			chk := mustCheck(t, b, ctx, "acct", p)
			if chk.Failures != st.Failures || chk.Locked != st.Locked || !chk.Until.Equal(st.Until) {
				t.Fatalf("Check after failure %d: %+v, want %+v", i+1, chk, st)
			}
			c.Advance(want) // wait the lock out before the next attempt
		}
	})

	t.Run("LockEnds", func(t *testing.T) {
		b, c, ctx := setup(t)
		for range 3 {
			mustFail(t, b, ctx, "acct", p)
		}
		c.Advance(time.Second - 2*tolerance)
		if st := mustCheck(t, b, ctx, "acct", p); !st.Locked || !near(st.RetryAfter, 2*tolerance) {
			t.Fatalf("just before the end: %+v, want locked", st)
		}
		c.Advance(2 * tolerance)
		if st := mustCheck(t, b, ctx, "acct", p); st.Locked || st.Failures != 3 || st.RetryAfter != 0 || !st.Until.IsZero() {
			t.Fatalf("at the end: %+v, want unlocked with 3 failures", st)
		}
	})

	t.Run("Forget", func(t *testing.T) {
		b, c, ctx := setup(t)
		for range 4 {
			mustFail(t, b, ctx, "acct", p)
		}
		c.Advance(time.Hour + time.Second)
		if st := mustCheck(t, b, ctx, "acct", p); st.Locked || st.Failures != 0 {
			t.Fatalf("after Forget: %+v, want fresh", st)
		}
		if st := mustFail(t, b, ctx, "acct", p); st.Failures != 1 || st.Locked {
			t.Fatalf("first failure after Forget: %+v", st)
		}
	})

	t.Run("ResetAndIndependentKeys", func(t *testing.T) {
		b, _, ctx := setup(t)
		long := strings.Repeat("\x00z", 10_000)
		for _, k := range []string{"a", "b", long} {
			for range 3 {
				mustFail(t, b, ctx, k, p)
			}
		}
		if err := b.Reset(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if st := mustCheck(t, b, ctx, "a", p); st.Locked || st.Failures != 0 {
			t.Fatalf("after Reset: %+v", st)
		}
		for _, k := range []string{"b", long} {
			if st := mustCheck(t, b, ctx, k, p); !st.Locked || st.Failures != 3 {
				t.Fatalf("%.10q after Reset of a: %+v, want locked with 3 failures", k, st)
			}
		}
		if st := mustCheck(t, b, ctx, "never", p); st.Locked || st.Failures != 0 {
			t.Fatalf("unknown key: %+v", st)
		}
	})

	t.Run("ConcurrentFailures", func(t *testing.T) {
		b, _, ctx := setup(t)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := b.Fail(ctx, "acct", p); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if st := mustCheck(t, b, ctx, "acct", p); st.Failures != 50 || !st.Locked || !near(st.RetryAfter, p.Max) {
			t.Fatalf("after 50 concurrent failures: %+v", st)
		}
	})

	t.Run("InvalidPolicy", func(t *testing.T) {
		b, _, ctx := setup(t)
		for _, bad := range []ratelimit.BackoffPolicy{{}, {Free: -1, Base: time.Second, Max: time.Second, Forget: time.Hour}, {Base: time.Minute, Max: time.Second, Forget: time.Hour}} {
			if _, err := b.Fail(ctx, "k", bad); !errors.Is(err, ratelimit.ErrInvalidBackoff) {
				t.Errorf("Fail with %+v: err = %v, want ErrInvalidBackoff", bad, err)
			}
			if _, err := b.Check(ctx, "k", bad); !errors.Is(err, ratelimit.ErrInvalidBackoff) {
				t.Errorf("Check with %+v: err = %v, want ErrInvalidBackoff", bad, err)
			}
		}
	})
}

func near(got, want time.Duration) bool {
	d := got - want
	return d > -tolerance && d < tolerance
}

func mustAllow(t *testing.T, b ratelimit.Backend, ctx context.Context, key string, l ratelimit.Limit) ratelimit.Result {
	t.Helper()
	res, err := b.Allow(ctx, key, l)
	if err != nil {
		t.Fatalf("Allow(%.20q, %v): %v", key, l, err)
	}
	return res
}

// spend makes n requests that must all be allowed.
func spend(t *testing.T, b ratelimit.Backend, ctx context.Context, key string, l ratelimit.Limit, n int) {
	t.Helper()
	for i := range n {
		if res := mustAllow(t, b, ctx, key, l); !res.Allowed {
			t.Fatalf("key %.20q, request %d of %d: refused (%+v)", key, i+1, n, res)
		}
	}
}

func mustFail(t *testing.T, b ratelimit.Backoff, ctx context.Context, key string, p ratelimit.BackoffPolicy) ratelimit.BackoffStatus {
	t.Helper()
	st, err := b.Fail(ctx, key, p)
	if err != nil {
		t.Fatalf("Fail(%.20q): %v", key, err)
	}
	return st
}

func mustCheck(t *testing.T, b ratelimit.Backoff, ctx context.Context, key string, p ratelimit.BackoffPolicy) ratelimit.BackoffStatus {
	t.Helper()
	st, err := b.Check(ctx, key, p)
	if err != nil {
		t.Fatalf("Check(%.20q): %v", key, err)
	}
	return st
}
