package cookiestore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/cookiestore"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

func newAEAD() cookiestore.AEAD { return keyring.NewAEAD(keyring.Ephemeral(), "session-cookie") }

func mustStore(t testing.TB, aead cookiestore.AEAD, opts ...cookiestore.Option) *cookiestore.Store {
	t.Helper()
	s, err := cookiestore.New(aead, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	aead := newAEAD()
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return mustStore(t, aead, cookiestore.Now(clock.Now))
	}, sessiontest.WithClock(clock))
}

func TestNewRejects(t *testing.T) {
	if _, err := cookiestore.New(nil); err == nil {
		t.Error("nil AEAD accepted")
	}
	if _, err := cookiestore.New(newAEAD(), cookiestore.Now(nil)); err == nil {
		t.Error("nil clock accepted")
	}
}

func TestServerSideMethods(t *testing.T) {
	s := mustStore(t, newAEAD())
	ctx := t.Context()
	if _, found, err := s.Find(ctx, sessiontest.NewID()); found || err != nil {
		t.Errorf("Find = %v, %v", found, err)
	}
	if err := s.Save(ctx, sessiontest.NewID(), session.Record{}); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("Save = %v", err)
	}
	if err := s.Delete(ctx, sessiontest.NewID()); err != nil {
		t.Errorf("Delete = %v", err)
	}
}

func TestRejects(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	aead := newAEAD()
	s := mustStore(t, aead, cookiestore.Now(clock.Now))
	other := mustStore(t, aead, cookiestore.Now(clock.Now), cookiestore.Purpose("another app"))
	otherKey := mustStore(t, newAEAD(), cookiestore.Now(clock.Now))
	rec := session.Record{UserID: "alice", Data: []byte("data"), Expiry: clock.Now().Add(time.Hour)}
	id := sessiontest.NewID()
	v, err := s.EncodeCookie(id, rec)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := s.EncodeCookie(sessiontest.NewID(), session.Record{UserID: "bob", Expiry: clock.Now().Add(time.Hour)})
	cases := []struct {
		name  string
		store *cookiestore.Store
		value string
	}{
		{"other purpose", other, v},
		{"other key", otherKey, v},
		{"spliced", s, v[:len(v)/2] + v2[len(v2)/2:]},
		{"padding", s, v + "="},
		{"std base64", s, strings.NewReplacer("-", "+", "_", "/").Replace(v) + "+/"},
		{"oversized", s, strings.Repeat("A", cookiestore.MaxValueSize+1)},
		{"garbage", s, "not a cookie"},
	}
	for _, c := range cases {
		if _, _, ok := c.store.DecodeCookie(c.value); ok {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if gotID, got, ok := s.DecodeCookie(v); !ok || gotID != id || got.UserID != "alice" {
		t.Fatal("valid cookie rejected")
	}
	clock.Advance(time.Hour)
	if _, _, ok := s.DecodeCookie(v); ok {
		t.Error("cookie accepted at its expiry")
	}
}

func TestEncodeRejects(t *testing.T) {
	s := mustStore(t, newAEAD())
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		name   string
		id     string
		rec    session.Record
		tooBig bool
	}{
		{"bad id", "abc", session.Record{Expiry: exp}, false},
		{"uppercase id", strings.ToUpper(sessiontest.NewID()), session.Record{Expiry: exp}, false},
		{"huge user", sessiontest.NewID(), session.Record{UserID: strings.Repeat("u", 2000), Expiry: exp}, true},
		{"just too much data", sessiontest.NewID(), session.Record{Data: make([]byte, 2900), Expiry: exp}, true},
		{"much too much data", sessiontest.NewID(), session.Record{Data: make([]byte, 1<<20), Expiry: exp}, true},
	}
	for _, c := range cases {
		_, err := s.EncodeCookie(c.id, c.rec)
		if err == nil {
			t.Errorf("%s: encoded", c.name)
			continue
		}
		if got := errors.Is(err, cookiestore.ErrTooLarge) && errors.Is(err, session.ErrTooLarge); got != c.tooBig {
			t.Errorf("%s: %v, too large = %v", c.name, err, got)
		}
	}
	if _, err := s.EncodeCookie(sessiontest.NewID(), session.Record{Data: make([]byte, 2800), Expiry: exp}); err != nil {
		t.Errorf("2800 bytes of data: %v", err)
	}
}

// browser runs requests against m, keeping its cookie.
type browser struct {
	t      *testing.T
	m      *session.Manager
	cookie *http.Cookie
}

func (b *browser) do(h func(w http.ResponseWriter, s *session.Session)) *http.Response {
	b.t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	w := httptest.NewRecorder()
	b.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, session.FromContext(r.Context()))
	})).ServeHTTP(w, r)
	res := w.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			b.cookie = nil
		} else {
			b.cookie = c
		}
	}
	return res
}

func (b *browser) user() string {
	var u string
	b.do(func(_ http.ResponseWriter, s *session.Session) { u = s.UserID() })
	return u
}

func TestWithManager(t *testing.T) {
	clock := sessiontest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := mustStore(t, newAEAD(), cookiestore.Now(clock.Now))
	m, err := session.NewManager(s, session.Now(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, m: m}
	if res := b.do(func(http.ResponseWriter, *session.Session) {}); len(res.Cookies()) != 0 {
		t.Fatal("cookie for an empty anonymous session")
	}
	var handle string
	res := b.do(func(_ http.ResponseWriter, s *session.Session) {
		s.Login("alice", false)
		s.Put("k", "v")
		handle = s.Handle()
	})
	if sc := res.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "__Host-gatehouse=") || !strings.Contains(sc, "Secure") || len(sc) > session.MaxCookieSize {
		t.Fatalf("Set-Cookie %q", sc)
	}
	b.do(func(_ http.ResponseWriter, s *session.Session) {
		if s.UserID() != "alice" || s.Get("k") != "v" || s.Handle() != handle {
			t.Errorf("session not carried by the cookie: user %q", s.UserID())
		}
	})
	ctx := t.Context()
	if _, err := m.List(ctx, "alice"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("List: %v", err)
	}
	if err := m.RevokeOne(ctx, "alice", handle); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("RevokeOne: %v", err)
	}
	if _, err := m.RevokeAll(ctx, "alice", ""); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("RevokeAll: %v", err)
	}

	// Tampered: anonymous, and the bad cookie is deleted.
	good := b.cookie
	bad := *good
	bad.Value = good.Value[:len(good.Value)-2] + "AA"
	b.cookie = &bad
	if u := b.user(); u != "" || b.cookie != nil {
		t.Errorf("tampered cookie: user %q, kept %v", u, b.cookie != nil)
	}

	// Sign-out removes the cookie, but a copy stays valid until it expires.
	b.cookie = good
	b.do(func(_ http.ResponseWriter, s *session.Session) { s.Destroy() })
	if b.cookie != nil {
		t.Error("cookie not deleted at sign-out")
	}
	b.cookie = good
	if b.user() != "alice" {
		t.Error("expected the documented limit: a copied cookie outlives sign-out")
	}
	clock.Advance(31 * time.Minute)
	if b.user() != "" {
		t.Error("copied cookie valid after the idle timeout")
	}
}

func TestTooLargeSessionFailsClosed(t *testing.T) {
	s := mustStore(t, newAEAD())
	m, err := session.NewManager(s, session.Logger(slog.New(slog.DiscardHandler)), session.ErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		if !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("error handler got %v", err)
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, m: m}
	res := b.do(func(w http.ResponseWriter, s *session.Session) {
		s.Login("alice", false)
		s.Put("big", strings.Repeat("x", 5000))
		w.WriteHeader(http.StatusSeeOther)
	})
	if res.StatusCode != http.StatusInternalServerError || len(res.Cookies()) != 0 {
		t.Errorf("status %d with %d cookies", res.StatusCode, len(res.Cookies()))
	}
}

func FuzzDecodeCookie(f *testing.F) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := mustStore(f, newAEAD(), cookiestore.Now(func() time.Time { return now }))
	v, _ := s.EncodeCookie(sessiontest.NewID(), session.Record{UserID: "alice", Data: []byte(`{"c":1}`), Expiry: now.Add(time.Hour)})
	for _, seed := range []string{v, "", "A", v[:10], v + "A", strings.Repeat("_", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		id, rec, ok := s.DecodeCookie(value)
		if !ok {
			return
		}
		if value != v {
			t.Fatalf("forged cookie accepted: %q", value)
		}
		if _, err := s.EncodeCookie(id, rec); err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	s := mustStore(b, newAEAD())
	id := sessiontest.NewID()
	rec := session.Record{UserID: "u1", Data: make([]byte, 200), Expiry: time.Now().Add(time.Hour)}
	v, _ := s.EncodeCookie(id, rec)
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.EncodeCookie(id, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := s.DecodeCookie(v); !ok {
				b.Fatal("rejected")
			}
		}
	})
}

func Example() {
	keys := keyring.Ephemeral() // in an app: the keys file, keyring.Open(path)
	store, err := cookiestore.New(keyring.NewAEAD(keys, "session-cookie"))
	if err != nil {
		panic(err)
	}
	m, err := session.NewManager(store)
	if err != nil {
		panic(err)
	}
	_, err = m.List(context.Background(), "alice")
	fmt.Println(errors.Is(err, session.ErrNotSupported))
	// Output: true
}
