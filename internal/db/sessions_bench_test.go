package db_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

// BenchmarkSessionFind measures the lookup of every signed-in request: the
// session record and its user, from the hot-row cache ("cached") and from
// SQLite in one query ("query": the cache is emptied before each lookup,
// as after a write).
func BenchmarkSessionFind(b *testing.B) {
	for _, cached := range []bool{true, false} {
		name := "query"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) { benchSessionFind(b, cached) })
	}
}

func benchSessionFind(b *testing.B, cached bool) {
	d := openSQLite(b)
	st := newSessionStore(b, d, time.Now, nil)
	u, err := d.Users().CreateUser(ctx, newUser("bench@example.com", time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	id := sessiontest.NewID()
	if err := st.Save(ctx, id, session.Record{UserID: strconv.FormatInt(u.ID, 10), Data: []byte(`{"c":1,"l":1}`), Expiry: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	if err := d.PollCache(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !cached {
				d.ForgetCache()
			}
			if _, found, err := st.Find(ctx, id); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
}
