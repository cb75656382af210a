package redislimit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/ratelimittest"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// mustClient connects to the test Redis and deletes the test's keys at
// cleanup.
func mustClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		testenv.Unavailable(t, "Redis", opt.Addr, err)
	}
	prefix := testenv.RedisPrefix(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Backend {
		c, prefix := mustClient(t)
		return redislimit.New(c, redislimit.WithPrefix(prefix), redislimit.WithNow(now))
	})
}

func TestBackoffConformance(t *testing.T) {
	ratelimittest.RunBackoff(t, func(t *testing.T, now func() time.Time) ratelimit.Backoff {
		c, prefix := mustClient(t)
		return redislimit.NewBackoff(c, redislimit.WithPrefix(prefix), redislimit.WithNow(now))
	})
}

// TestServerTime uses Redis TIME (the default) with a fast limit and a
// short real wait.
func TestServerTime(t *testing.T) {
	c, prefix := mustClient(t)
	l := redislimit.New(c, redislimit.WithPrefix(prefix))
	ctx := t.Context()
	lim := ratelimit.Limit{Rate: 20, Period: time.Second, Burst: 1} // one per 50ms
	res, err := l.Allow(ctx, "k", lim)
	if err != nil || !res.Allowed {
		t.Fatalf("first: %+v, %v", res, err)
	}
	res, err = l.Allow(ctx, "k", lim)
	if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 50*time.Millisecond {
		t.Fatalf("second: %+v, %v; want refused for at most 50ms", res, err)
	}
	time.Sleep(res.RetryAfter + 5*time.Millisecond)
	if res, err = l.Allow(ctx, "k", lim); err != nil || !res.Allowed {
		t.Fatalf("after Retry-After: %+v, %v", res, err)
	}
	// The key expires in Redis once fresh.
	ttl := c.PTTL(ctx, prefix+"k").Val()
	if ttl <= 0 || ttl > 60*time.Millisecond {
		t.Fatalf("PTTL = %v, want about 50ms", ttl)
	}

	b := redislimit.NewBackoff(c, redislimit.WithPrefix(prefix+"b:"))
	p := ratelimit.BackoffPolicy{Free: 0, Base: time.Second, Max: time.Minute, Forget: time.Hour}
	st, err := b.Fail(ctx, "acct", p)
	if err != nil || !st.Locked || st.RetryAfter != time.Second || time.Until(st.Until) > 2*time.Second {
		t.Fatalf("Fail: %+v, %v", st, err)
	}
}

func TestUnreachableRedis(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	if _, err := redislimit.New(c).Allow(t.Context(), "k", ratelimit.PerMinute(5)); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
	if _, err := redislimit.NewBackoff(c).Fail(t.Context(), "k", ratelimit.DefaultBackoff()); err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
}

// counter is a go-redis hook counting commands sent.
type counter struct{ n atomic.Int64 }

func (h *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func BenchmarkAllow(b *testing.B) {
	c, prefix := mustClient(b)
	h := &counter{}
	c.AddHook(h)
	l := redislimit.New(c, redislimit.WithPrefix(prefix))
	ctx := context.Background()
	lim := ratelimit.PerSecond(1_000_000)
	l.Allow(ctx, "warm", lim) // loads the script
	h.n.Store(0)
	for b.Loop() {
		if _, err := l.Allow(ctx, "k", lim); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
}
