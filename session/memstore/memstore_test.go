package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/memstore"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

func TestConformance(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return memstore.New(memstore.Now(clock.Now))
	}, sessiontest.WithClock(clock))
}

func TestConformanceRealClock(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store { return memstore.New() })
}

func TestLen(t *testing.T) {
	s := memstore.New()
	ctx := t.Context()
	for i := range 3 {
		_ = s.Save(ctx, fmt.Sprint(i), session.Record{Expiry: time.Now().Add(-time.Hour)})
	}
	if got := s.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	if n, _ := s.DeleteExpired(ctx); n != 3 || s.Len() != 0 {
		t.Fatalf("DeleteExpired = %d, Len = %d", n, s.Len())
	}
}

func BenchmarkFind(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	id := sessiontest.NewID()
	_ = s.Save(ctx, id, session.Record{UserID: "u1", Data: make([]byte, 200), Expiry: time.Now().Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := s.Find(ctx, id); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkSave(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	rec := session.Record{UserID: "u1", Data: make([]byte, 200), Expiry: time.Now().Add(time.Hour)}
	id := sessiontest.NewID()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(ctx, id, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func Example() {
	store := memstore.New()
	m, err := session.NewManager(store)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.RunSweeper(ctx, 5*time.Minute) // free expired sessions
	fmt.Println(store.Len())
	// Output: 0
}
