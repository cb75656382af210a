package db_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

// BenchmarkSessionFind measures the lookup of every signed-in request: the
// session record and its user in one query.
func BenchmarkSessionFind(b *testing.B) {
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
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, found, err := st.Find(ctx, id); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
}
