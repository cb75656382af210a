// Package sessiontest is the conformance suite every session.Store must
// pass. Call Run from a store's tests:
//
//	func TestConformance(t *testing.T) {
//		clock := sessiontest.NewClock(time.Now())
//		sessiontest.Run(t, func(t *testing.T) session.Store {
//			return mystore.New(mystore.Now(clock.Now))
//		}, sessiontest.WithClock(clock))
//	}
//
// Without WithClock the suite uses the real time and tests expiry only with
// records whose expiry is already in the past.
package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/session"
)

// Clock is a settable clock for stores that take a now function.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Option configures Run.
type Option func(*config)

type config struct {
	clock        *Clock
	maxData      int
	expiryWithin time.Duration
}

// WithClock tells Run that the stores made by newStore read the time from
// c, so the suite may advance it to expire records.
func WithClock(c *Clock) Option { return func(cfg *config) { cfg.clock = c } }

// MaxData sets the largest Data the store must keep (default 64 KiB, the
// Manager's limit).
func MaxData(n int) Option { return func(cfg *config) { cfg.maxData = n } }

// ExpiryPrecision sets how far a found record's Expiry may differ from the
// saved one (default 1s: stores may keep whole seconds or milliseconds).
func ExpiryPrecision(d time.Duration) Option { return func(cfg *config) { cfg.expiryWithin = d } }

func (c *config) now() time.Time {
	if c.clock != nil {
		return c.clock.Now()
	}
	return time.Now()
}

// advance moves past expiry: with a clock by advancing it, without one it
// cannot, so callers use expiries already in the past instead.
func (c *config) canAdvance() bool { return c.clock != nil }

// NewID returns a random id of the form the Manager uses: 64 hex characters.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// Run runs the conformance suite against stores made by newStore, which is
// called once per subtest. Optional interfaces (UserLister, UserDeleter,
// Sweeper) are tested when the store implements them. A store implementing
// session.CookieCodec is tested as a cookie codec instead, since it keeps
// nothing on the server.
func Run(t *testing.T, newStore func(t *testing.T) session.Store, opts ...Option) {
	cfg := &config{maxData: session.MaxDataSize, expiryWithin: time.Second}
	for _, o := range opts {
		o(cfg)
	}
	probe := newStore(t)
	if _, ok := probe.(session.CookieCodec); ok {
		runCodec(t, func(t *testing.T) session.CookieCodec { return newStore(t).(session.CookieCodec) }, cfg)
		return
	}
	tests := []subtest{
		{"FindUnknown", testFindUnknown},
		{"SaveFind", testSaveFind},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"ExpiredInPast", testExpiredInPast},
		{"ExpiresWithClock", testExpiresWithClock},
		{"EmptyData", testEmptyData},
		{"LargeBinaryData", testLargeData},
		{"OddUserIDs", testOddUserIDs},
		{"ConcurrentSaves", testConcurrent},
	}
	if _, ok := probe.(session.UserLister); ok {
		tests = append(tests, subtest{"FindByUser", testFindByUser}, subtest{"FindByUserAfterOwnerChange", testOwnerChange})
	}
	if _, ok := probe.(session.UserDeleter); ok {
		tests = append(tests, subtest{"DeleteByUser", testDeleteByUser})
	}
	if _, ok := probe.(session.Sweeper); ok {
		tests = append(tests, subtest{"DeleteExpired", testDeleteExpired})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t), cfg) })
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, s session.Store, cfg *config)
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustSave(t *testing.T, s session.Store, id string, rec session.Record) {
	t.Helper()
	if err := s.Save(ctx(t), id, rec); err != nil {
		t.Fatalf("Save(%.8s…): %v", id, err)
	}
}

func mustFind(t *testing.T, s session.Store, id string) (session.Record, bool) {
	t.Helper()
	rec, found, err := s.Find(ctx(t), id)
	if err != nil {
		t.Fatalf("Find(%.8s…): %v", id, err)
	}
	return rec, found
}

func checkRecord(t *testing.T, cfg *config, got, want session.Record) {
	t.Helper()
	if got.UserID != want.UserID {
		t.Errorf("UserID = %q, want %q", got.UserID, want.UserID)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Data = %d bytes %.32q, want %d bytes %.32q", len(got.Data), got.Data, len(want.Data), want.Data)
	}
	if d := got.Expiry.Sub(want.Expiry); d > cfg.expiryWithin || d < -cfg.expiryWithin {
		t.Errorf("Expiry = %v, want %v (±%v)", got.Expiry, want.Expiry, cfg.expiryWithin)
	}
}

func testFindUnknown(t *testing.T, s session.Store, cfg *config) {
	for _, id := range []string{NewID(), "x", ""} {
		if _, found := mustFind(t, s, id); found {
			t.Errorf("Find(%q) found a record in an empty store", id)
		}
	}
}

func testSaveFind(t *testing.T, s session.Store, cfg *config) {
	exp := cfg.now().Add(time.Hour)
	cases := []struct {
		name string
		rec  session.Record
	}{
		{"user", session.Record{UserID: "u1", Data: []byte(`{"a":1}`), Expiry: exp}},
		{"anonymous", session.Record{UserID: "", Data: []byte("anon"), Expiry: exp}},
		{"far expiry", session.Record{UserID: "u2", Data: []byte("x"), Expiry: cfg.now().Add(720 * time.Hour)}},
	}
	for _, c := range cases {
		id := NewID()
		mustSave(t, s, id, c.rec)
		got, found := mustFind(t, s, id)
		if !found {
			t.Errorf("%s: saved record not found", c.name)
			continue
		}
		checkRecord(t, cfg, got, c.rec)
	}
}

func testOverwrite(t *testing.T, s session.Store, cfg *config) {
	id := NewID()
	mustSave(t, s, id, session.Record{UserID: "", Data: []byte("first"), Expiry: cfg.now().Add(time.Minute)})
	want := session.Record{UserID: "u1", Data: []byte("second, longer"), Expiry: cfg.now().Add(2 * time.Hour)}
	mustSave(t, s, id, want)
	got, found := mustFind(t, s, id)
	if !found {
		t.Fatal("overwritten record not found")
	}
	checkRecord(t, cfg, got, want)
}

func testDelete(t *testing.T, s session.Store, cfg *config) {
	keep, gone := NewID(), NewID()
	for _, id := range []string{keep, gone} {
		mustSave(t, s, id, session.Record{UserID: "u1", Data: []byte("d"), Expiry: cfg.now().Add(time.Hour)})
	}
	if err := s.Delete(ctx(t), gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found := mustFind(t, s, gone); found {
		t.Error("deleted record still found")
	}
	if _, found := mustFind(t, s, keep); !found {
		t.Error("Delete removed another record")
	}
	if err := s.Delete(ctx(t), gone); err != nil {
		t.Errorf("Delete of a deleted id: %v, want nil", err)
	}
	if err := s.Delete(ctx(t), NewID()); err != nil {
		t.Errorf("Delete of an unknown id: %v, want nil", err)
	}
}

func testExpiredInPast(t *testing.T, s session.Store, cfg *config) {
	for _, ago := range []time.Duration{0, time.Second, time.Hour} {
		id := NewID()
		mustSave(t, s, id, session.Record{UserID: "u1", Data: []byte("d"), Expiry: cfg.now().Add(-ago)})
		if _, found := mustFind(t, s, id); found {
			t.Errorf("record that expired %v ago was found", ago)
		}
	}
}

func testExpiresWithClock(t *testing.T, s session.Store, cfg *config) {
	if !cfg.canAdvance() {
		t.Skip("no clock given (WithClock); expiry tested with past expiries only")
	}
	id := NewID()
	mustSave(t, s, id, session.Record{UserID: "u1", Data: []byte("d"), Expiry: cfg.now().Add(time.Minute)})
	if _, found := mustFind(t, s, id); !found {
		t.Fatal("live record not found")
	}
	cfg.clock.Advance(2 * time.Minute)
	if _, found := mustFind(t, s, id); found {
		t.Error("record found after its expiry")
	}
}

func testEmptyData(t *testing.T, s session.Store, cfg *config) {
	for _, data := range [][]byte{nil, {}} {
		id := NewID()
		mustSave(t, s, id, session.Record{UserID: "u1", Data: data, Expiry: cfg.now().Add(time.Hour)})
		got, found := mustFind(t, s, id)
		if !found || len(got.Data) != 0 {
			t.Errorf("empty data: found=%v, %d bytes", found, len(got.Data))
		}
	}
}

func testLargeData(t *testing.T, s session.Store, cfg *config) {
	data := make([]byte, cfg.maxData)
	_, _ = rand.Read(data)
	for i := range 256 {
		data[i] = byte(i) // every byte value, including NUL
	}
	id := NewID()
	want := session.Record{UserID: "u1", Data: data, Expiry: cfg.now().Add(time.Hour)}
	mustSave(t, s, id, want)
	data[300] ^= 0xff // the store must not keep a reference to the caller's slice
	got, found := mustFind(t, s, id)
	if !found {
		t.Fatal("large record not found")
	}
	data[300] ^= 0xff
	checkRecord(t, cfg, got, want)
}

func testOddUserIDs(t *testing.T, s session.Store, cfg *config) {
	for _, uid := range []string{"42", "user:1", "ü-ñ-✓", "' OR 1=1 --", "{tag}", "a b*?[x]"} {
		id := NewID()
		want := session.Record{UserID: uid, Data: []byte(uid), Expiry: cfg.now().Add(time.Hour)}
		mustSave(t, s, id, want)
		got, found := mustFind(t, s, id)
		if !found {
			t.Errorf("user %q: not found", uid)
			continue
		}
		checkRecord(t, cfg, got, want)
		if l, ok := s.(session.UserLister); ok {
			es, err := l.FindByUser(ctx(t), uid)
			if err != nil || len(es) != 1 || es[0].ID != id {
				t.Errorf("FindByUser(%q) = %d entries, %v; want the one record", uid, len(es), err)
			}
		}
	}
}

func testConcurrent(t *testing.T, s session.Store, cfg *config) {
	const workers, each = 8, 20
	shared := NewID()
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := NewID()
				ids[w] = append(ids[w], id)
				rec := session.Record{UserID: fmt.Sprintf("u%d", w), Data: []byte(id), Expiry: cfg.now().Add(time.Hour)}
				if err := s.Save(ctx(t), id, rec); err != nil {
					errs <- err
				}
				rec.Data = []byte(fmt.Sprintf("w%d-%d", w, i))
				if err := s.Save(ctx(t), shared, rec); err != nil {
					errs <- err
				}
				if _, _, err := s.Find(ctx(t), shared); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent use: %v", err)
	}
	for w := range workers {
		for _, id := range ids[w] {
			got, found := mustFind(t, s, id)
			if !found || string(got.Data) != id || got.UserID != fmt.Sprintf("u%d", w) {
				t.Fatalf("record of worker %d lost or mixed up (found=%v)", w, found)
			}
		}
	}
	got, found := mustFind(t, s, shared)
	if !found {
		t.Fatal("shared record lost")
	}
	if want := "u" + string(got.Data[1:bytes.IndexByte(got.Data, '-')]); got.UserID != want {
		t.Errorf("shared record torn: user %q with data %q", got.UserID, got.Data)
	}
	if l, ok := s.(session.UserLister); ok {
		n := 0
		for w := range workers {
			es, err := l.FindByUser(ctx(t), fmt.Sprintf("u%d", w))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.ID == shared {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("shared record listed under %d users, want 1", n)
		}
	}
}

// fixture saves a user's records: live ones, an expired one, and records of
// another user and an anonymous one.
type fixture struct {
	live    []string
	expired string
	other   string
	anon    string
}

func mustFixture(t *testing.T, s session.Store, cfg *config, user string) fixture {
	t.Helper()
	f := fixture{live: []string{NewID(), NewID(), NewID()}, expired: NewID(), other: NewID(), anon: NewID()}
	for i, id := range f.live {
		mustSave(t, s, id, session.Record{UserID: user, Data: []byte{byte(i)}, Expiry: cfg.now().Add(time.Duration(i+1) * time.Hour)})
	}
	mustSave(t, s, f.other, session.Record{UserID: user + "-other", Data: []byte("o"), Expiry: cfg.now().Add(time.Hour)})
	mustSave(t, s, f.anon, session.Record{UserID: "", Data: []byte("a"), Expiry: cfg.now().Add(time.Hour)})
	exp := cfg.now().Add(-time.Minute)
	if cfg.canAdvance() {
		exp = cfg.now().Add(time.Minute)
	}
	mustSave(t, s, f.expired, session.Record{UserID: user, Data: []byte("e"), Expiry: exp})
	if cfg.canAdvance() {
		cfg.clock.Advance(2 * time.Minute)
	}
	return f
}

func listIDs(t *testing.T, s session.Store, user string) []string {
	t.Helper()
	es, err := s.(session.UserLister).FindByUser(ctx(t), user)
	if err != nil {
		t.Fatalf("FindByUser(%q): %v", user, err)
	}
	ids := make([]string, 0, len(es))
	for _, e := range es {
		if e.Record.UserID != user {
			t.Errorf("FindByUser(%q) returned a record of %q", user, e.Record.UserID)
		}
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

func testFindByUser(t *testing.T, s session.Store, cfg *config) {
	f := mustFixture(t, s, cfg, "alice")
	cases := []struct {
		user string
		want []string
	}{
		{"alice", sorted(f.live...)},
		{"alice-other", []string{f.other}},
		{"", nil},
		{"nobody", nil},
		{"alic", nil},
	}
	for _, c := range cases {
		if got := listIDs(t, s, c.user); !slices.Equal(got, c.want) {
			t.Errorf("FindByUser(%q) = %d ids, want %d", c.user, len(got), len(c.want))
		}
	}
	es, _ := s.(session.UserLister).FindByUser(ctx(t), "alice")
	for _, e := range es {
		got, _ := mustFind(t, s, e.ID)
		checkRecord(t, cfg, e.Record, got)
	}
}

func testOwnerChange(t *testing.T, s session.Store, cfg *config) {
	id := NewID()
	mustSave(t, s, id, session.Record{UserID: "", Data: []byte("a"), Expiry: cfg.now().Add(time.Hour)})
	mustSave(t, s, id, session.Record{UserID: "bob", Data: []byte("b"), Expiry: cfg.now().Add(time.Hour)})
	mustSave(t, s, id, session.Record{UserID: "carol", Data: []byte("c"), Expiry: cfg.now().Add(time.Hour)})
	if got := listIDs(t, s, "bob"); len(got) != 0 {
		t.Errorf("record still listed under its former owner")
	}
	if got := listIDs(t, s, "carol"); !slices.Equal(got, []string{id}) {
		t.Errorf("record not listed under its new owner")
	}
	if err := s.Delete(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, s, "carol"); len(got) != 0 {
		t.Errorf("deleted record still listed")
	}
}

func testDeleteByUser(t *testing.T, s session.Store, cfg *config) {
	d := s.(session.UserDeleter)
	f := mustFixture(t, s, cfg, "alice")
	n, err := d.DeleteByUser(ctx(t), "", "")
	if err != nil || n != 0 {
		t.Errorf(`DeleteByUser("", "") = %d, %v; want 0, nil`, n, err)
	}
	n, err = d.DeleteByUser(ctx(t), "alice", f.live[0])
	if err != nil {
		t.Fatalf("DeleteByUser: %v", err)
	}
	if n < len(f.live)-1 || n > len(f.live) {
		t.Errorf("DeleteByUser removed %d, want %d (or one more counting the expired record)", n, len(f.live)-1)
	}
	want := map[string]bool{f.live[0]: true, f.live[1]: false, f.live[2]: false, f.other: true, f.anon: true, f.expired: false}
	for id, keep := range want {
		if _, found := mustFind(t, s, id); found != keep {
			t.Errorf("after DeleteByUser: record %.8s… found=%v, want %v", id, found, keep)
		}
	}
	n, err = d.DeleteByUser(ctx(t), "alice", "")
	if err != nil || n != 1 {
		t.Errorf(`DeleteByUser("alice", "") = %d, %v; want 1, nil`, n, err)
	}
	if _, found := mustFind(t, s, f.live[0]); found {
		t.Error(`DeleteByUser(user, "") kept a record`)
	}
	if _, ok := s.(session.UserLister); ok {
		if got := listIDs(t, s, "alice"); len(got) != 0 {
			t.Errorf("%d records still listed after DeleteByUser", len(got))
		}
	}
}

func testDeleteExpired(t *testing.T, s session.Store, cfg *config) {
	f := mustFixture(t, s, cfg, "alice")
	anonExpired := NewID()
	mustSave(t, s, anonExpired, session.Record{Data: []byte("x"), Expiry: cfg.now().Add(-time.Second)})
	n, err := s.(session.Sweeper).DeleteExpired(ctx(t))
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteExpired removed %d, want 2", n)
	}
	for _, id := range append(slices.Clone(f.live), f.other, f.anon) {
		if _, found := mustFind(t, s, id); !found {
			t.Errorf("DeleteExpired removed a live record")
		}
	}
	n, err = s.(session.Sweeper).DeleteExpired(ctx(t))
	if err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

// runCodec tests a store that keeps the session in the cookie.
func runCodec(t *testing.T, newCodec func(t *testing.T) session.CookieCodec, cfg *config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c session.CookieCodec)
	}{
		{"RoundTrip", func(t *testing.T, c session.CookieCodec) {
			for _, rec := range []session.Record{
				{UserID: "u1", Data: []byte(`{"a":1}`), Expiry: cfg.now().Add(time.Hour)},
				{UserID: "", Data: nil, Expiry: cfg.now().Add(time.Minute)},
				{UserID: "ü' OR 1=1", Data: []byte{0, 1, 2, 255}, Expiry: cfg.now().Add(720 * time.Hour)},
			} {
				id := NewID()
				v, err := c.EncodeCookie(id, rec)
				if err != nil {
					t.Fatalf("EncodeCookie: %v", err)
				}
				gotID, got, ok := c.DecodeCookie(v)
				if !ok || gotID != id {
					t.Fatalf("DecodeCookie: ok=%v, id match=%v", ok, gotID == id)
				}
				checkRecord(t, cfg, got, rec)
			}
		}},
		{"Expired", func(t *testing.T, c session.CookieCodec) {
			v, err := c.EncodeCookie(NewID(), session.Record{UserID: "u1", Expiry: cfg.now().Add(-time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, ok := c.DecodeCookie(v); ok {
				t.Error("expired cookie accepted")
			}
			if !cfg.canAdvance() {
				return
			}
			v, err = c.EncodeCookie(NewID(), session.Record{UserID: "u1", Expiry: cfg.now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			cfg.clock.Advance(2 * time.Minute)
			if _, _, ok := c.DecodeCookie(v); ok {
				t.Error("cookie replayed after its expiry accepted")
			}
		}},
		{"Tampered", func(t *testing.T, c session.CookieCodec) {
			v, err := c.EncodeCookie(NewID(), session.Record{UserID: "u1", Data: []byte("d"), Expiry: cfg.now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(v) {
				b := []byte(v)
				b[i] ^= 1
				if _, _, ok := c.DecodeCookie(string(b)); ok && string(b) != v {
					t.Errorf("cookie with byte %d changed accepted", i)
				}
			}
			for _, bad := range []string{"", v[:len(v)/2], v[:len(v)-1], v + "A", "x", v + v} {
				if _, _, ok := c.DecodeCookie(bad); ok {
					t.Errorf("malformed cookie of %d bytes accepted", len(bad))
				}
			}
		}},
		{"TooLarge", func(t *testing.T, c session.CookieCodec) {
			_, err := c.EncodeCookie(NewID(), session.Record{UserID: "u1", Data: make([]byte, 8<<10), Expiry: cfg.now().Add(time.Hour)})
			if !errors.Is(err, session.ErrTooLarge) {
				t.Errorf("EncodeCookie of 8 KiB: %v, want ErrTooLarge", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newCodec(t)) })
	}
}
