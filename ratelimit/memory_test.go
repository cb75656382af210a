package ratelimit_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/ratelimittest"
)

func TestMemoryConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Backend {
		return ratelimit.NewMemory(ratelimit.WithNow(now))
	})
}

func TestMemoryBackoffConformance(t *testing.T) {
	ratelimittest.RunBackoff(t, func(t *testing.T, now func() time.Time) ratelimit.Backoff {
		return ratelimit.NewMemoryBackoff(ratelimit.WithNow(now))
	})
}

// TestMemoryBounded floods the store with distinct keys and checks that it
// never holds more than its bound, that fresh entries are dropped before
// live ones, and that it keeps limiting.
func TestMemoryBounded(t *testing.T) {
	ctx := t.Context()
	clock := ratelimittest.NewClock(time.Unix(1_700_000_000, 0))
	const maxKeys = 64 * 16
	m := ratelimit.NewMemory(ratelimit.WithNow(clock.Now), ratelimit.WithMaxKeys(maxKeys))
	l := ratelimit.PerMinute(1) // a key is fresh one minute after its request

	for i := range 100 * maxKeys {
		if _, err := m.Allow(ctx, "flood:"+strconv.Itoa(i), l); err != nil {
			t.Fatal(err)
		}
		if n := m.Len(); n > maxKeys {
			t.Fatalf("after %d keys the store holds %d > %d", i+1, n, maxKeys)
		}
	}

	// A live key set now, then more floods once the old flood is fresh:
	// the sweep drops the fresh entries, so the live key survives.
	clock.Advance(2 * time.Minute)
	if res, _ := m.Allow(ctx, "victim", l); !res.Allowed {
		t.Fatal("victim refused on its first request")
	}
	for i := range maxKeys / 2 {
		m.Allow(ctx, "flood2:"+strconv.Itoa(i), l)
	}
	if res, _ := m.Allow(ctx, "victim", l); res.Allowed {
		t.Fatal("victim's state was evicted although fresh entries could have been dropped")
	}
	if n := m.Len(); n > maxKeys {
		t.Fatalf("store holds %d > %d", n, maxKeys)
	}

	// Refusals and peeks never store anything.
	m2 := ratelimit.NewMemory(ratelimit.WithNow(clock.Now))
	for i := range 1000 {
		m2.Peek(ctx, "peek:"+strconv.Itoa(i), l)
	}
	if n := m2.Len(); n != 0 {
		t.Fatalf("Peek stored %d keys", n)
	}
}

func TestMemoryBackoffBounded(t *testing.T) {
	ctx := t.Context()
	const maxKeys = 64 * 4
	b := ratelimit.NewMemoryBackoff(ratelimit.WithMaxKeys(maxKeys))
	for i := range 20 * maxKeys {
		if _, err := b.Fail(ctx, "acct:"+strconv.Itoa(i), ratelimit.DefaultBackoff()); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Len(); n > maxKeys {
		t.Fatalf("store holds %d > %d", n, maxKeys)
	}
}

func TestGCRA(t *testing.T) {
	const s = int64(time.Second)
	tests := []struct {
		name                          string
		tat, now, interval, burst, n  int64
		wantTAT                       int64
		wantOK                        bool
		wantRem, wantRetry, wantReset int64
	}{
		{"fresh", 0, 100 * s, s, 3, 1, 101 * s, true, 2, 0, s},
		{"fresh n=3", 0, 100 * s, s, 3, 3, 103 * s, true, 0, 0, 3 * s},
		{"spent", 103 * s, 100 * s, s, 3, 1, 103 * s, false, 0, s, 3 * s},
		{"partly refilled", 103 * s, 101 * s, s, 3, 1, 104 * s, true, 0, 0, 3 * s},
		{"peek fresh", 0, 100 * s, s, 3, 0, 100 * s, true, 3, 0, 0},
		{"peek spent", 103 * s, 100 * s, s, 3, 0, 103 * s, false, 0, s, 3 * s},
		{"too many", 102 * s, 100 * s, s, 3, 2, 102 * s, false, 1, s, 2 * s},
	}
	for _, tt := range tests {
		tat, ok, rem, retry, reset := ratelimit.GCRA(tt.tat, tt.now, tt.interval, tt.burst, tt.n)
		if tat != tt.wantTAT || ok != tt.wantOK || rem != tt.wantRem || retry != tt.wantRetry || reset != tt.wantReset {
			t.Errorf("%s: got (%d, %v, %d, %d, %d), want (%d, %v, %d, %d, %d)", tt.name,
				tat, ok, rem, retry, reset, tt.wantTAT, tt.wantOK, tt.wantRem, tt.wantRetry, tt.wantReset)
		}
	}
}

func TestHashKey(t *testing.T) {
	short := "ip:192.0.2.1"
	if ratelimit.HashKey(short) != short {
		t.Error("short key changed")
	}
	long := string(make([]byte, 10_000))
	h := ratelimit.HashKey(long)
	if len(h) != 71 || h == ratelimit.HashKey(long+"x") || ratelimit.HashKey(h) == h {
		t.Errorf("HashKey(long) = %q", h)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := ratelimit.NewMemory()
	l := ratelimit.PerSecond(1000)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "ip:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Allow(ctx, keys[i&1023], l)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := ratelimit.NewMemory()
	l := ratelimit.PerSecond(1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		keys := make([]string, 256)
		for j := range keys {
			keys[j] = fmt.Sprintf("acct:%p:%d", &i, j)
		}
		for pb.Next() {
			m.Allow(ctx, keys[i&255], l)
			i++
		}
	})
}

func BenchmarkMemoryFlood(b *testing.B) {
	m := ratelimit.NewMemory(ratelimit.WithMaxKeys(64 * 1024))
	l := ratelimit.PerMinute(5)
	ctx := context.Background()
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "flood:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Allow(ctx, keys[i&(1<<16-1)]+strconv.Itoa(i>>16), l)
	}
}
