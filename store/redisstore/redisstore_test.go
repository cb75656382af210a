package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
	"github.com/gatehouse/gatehouse/store/redisstore"
)

// newClient connects to the test Redis and deletes the test's keys at
// cleanup.
func newClient(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	prefix := testenv.RedisPrefix(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

func mustStore(t testing.TB, opts ...redisstore.Option) (*redisstore.Store, redis.UniversalClient, string) {
	t.Helper()
	c, prefix := newClient(t)
	s, err := redisstore.New(c, append([]redisstore.Option{redisstore.Prefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, prefix
}

func TestConformance(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s, _, _ := mustStore(t, redisstore.Now(clock.Now))
		return s
	}, sessiontest.WithClock(clock))
}

func TestConformanceRealClock(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s, _, _ := mustStore(t)
		return s
	})
}

func TestKeysCarryTTL(t *testing.T) {
	s, c, prefix := mustStore(t)
	ctx := t.Context()
	id := sessiontest.NewID()
	if err := s.Save(ctx, id, session.Record{UserID: "alice", Data: []byte("d"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{prefix + "s:" + id, prefix + "u:alice"} {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("TTL of %s = %v, %v; want about 1h", k, ttl, err)
		}
	}
	// The index is pruned when a listed session vanished without Delete.
	c.Del(ctx, prefix+"s:"+id)
	if es, err := s.FindByUser(ctx, "alice"); err != nil || len(es) != 0 {
		t.Fatalf("FindByUser = %d, %v", len(es), err)
	}
	if n, _ := c.ZCard(ctx, prefix+"u:alice").Result(); n != 0 {
		t.Errorf("stale index entry kept: %d", n)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := redisstore.New(nil); err == nil {
		t.Error("nil client accepted")
	}
	c, _ := newClient(t)
	if _, err := redisstore.New(c, redisstore.Now(nil)); err == nil {
		t.Error("nil clock accepted")
	}
}

func BenchmarkStore(b *testing.B) {
	s, _, _ := mustStore(b)
	ctx := context.Background()
	rec := session.Record{UserID: "u1", Data: make([]byte, 200), Expiry: time.Now().Add(time.Hour)}
	id := sessiontest.NewID()
	b.Run("Save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Save(ctx, id, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Find", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := s.Find(ctx, id); !ok || err != nil {
				b.Fatal("not found", err)
			}
		}
	})
}

func Example() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Prefix("myapp:session:"))
	if err != nil {
		panic(err)
	}
	m, err := session.NewManager(store) // no sweeper needed: Redis expires keys
	if err != nil {
		panic(err)
	}
	fmt.Println(m != nil)
	// Output: true
}
