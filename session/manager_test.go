package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/memstore"
	"github.com/gatehouse/gatehouse/session/sessiontest"
)

var errBoom = errors.New("boom")

// spyStore counts calls and can fail them; it hides the optional
// interfaces of the store it wraps.
type spyStore struct {
	session.Store
	finds, saves, deletes       atomic.Int32
	failFind, failSave, failDel atomic.Bool
}

func (s *spyStore) Find(ctx context.Context, id string) (session.Record, bool, error) {
	s.finds.Add(1)
	if s.failFind.Load() {
		return session.Record{}, false, errBoom
	}
	return s.Store.Find(ctx, id)
}

func (s *spyStore) Save(ctx context.Context, id string, rec session.Record) error {
	s.saves.Add(1)
	if s.failSave.Load() {
		return errBoom
	}
	return s.Store.Save(ctx, id, rec)
}

func (s *spyStore) Delete(ctx context.Context, id string) error {
	s.deletes.Add(1)
	if s.failDel.Load() {
		return errBoom
	}
	return s.Store.Delete(ctx, id)
}

// env is a Manager over a memstore with a fake clock, and a browser holding
// one cookie.
type env struct {
	t      *testing.T
	clock  *sessiontest.Clock
	mem    *memstore.Store
	spy    *spyStore
	m      *session.Manager
	cookie *http.Cookie
}

func newEnv(t *testing.T, opts ...session.Option) *env {
	t.Helper()
	clock := sessiontest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	mem := memstore.New(memstore.Now(clock.Now))
	spy := &spyStore{Store: mem}
	m, err := session.NewManager(spy, append([]session.Option{session.Now(clock.Now), session.Logger(discard)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, clock: clock, mem: mem, spy: spy, m: m}
}

// do runs h for one request carrying the browser's cookie and keeps any
// cookie the response sets.
func (e *env) do(h func(w http.ResponseWriter, r *http.Request, s *session.Session)) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.7:4321"
	r.Header.Set("User-Agent", "test-agent")
	if e.cookie != nil {
		r.AddCookie(e.cookie)
	}
	w := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, session.FromContext(r.Context()))
	})).ServeHTTP(w, r)
	res := w.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			e.cookie = nil
		} else {
			e.cookie = c
		}
	}
	return res
}

func nop(http.ResponseWriter, *http.Request, *session.Session) {}

func login(user string, remember bool) func(http.ResponseWriter, *http.Request, *session.Session) {
	return func(w http.ResponseWriter, r *http.Request, s *session.Session) { s.Login(user, remember) }
}

func (e *env) user() string {
	e.t.Helper()
	var u string
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { u = s.UserID() })
	return u
}

var discard = slogDiscard()

func TestDefaultCookieIsSecure(t *testing.T) {
	e := newEnv(t)
	res := e.do(login("alice", false))
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-gatehouse=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	for _, bad := range []string{"Domain", "Max-Age", "Expires"} {
		if strings.Contains(sc, bad) {
			t.Errorf("Set-Cookie %q has %s for a browser-session cookie", sc, bad)
		}
	}
	if len(e.cookie.Value) != session.TokenLen {
		t.Errorf("token length %d, want %d", len(e.cookie.Value), session.TokenLen)
	}
	if !strings.Contains(res.Header.Get("Vary"), "Cookie") {
		t.Error("no Vary: Cookie")
	}
}

func TestInsecureCookie(t *testing.T) {
	e := newEnv(t, session.InsecureCookie())
	sc := e.do(login("alice", false)).Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "gatehouse=") || strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie = %q, want gatehouse= without Secure", sc)
	}
}

func TestCookieDomain(t *testing.T) {
	e := newEnv(t, session.CookieDomain("example.com"))
	sc := e.do(login("alice", false)).Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Secure-gatehouse=") || !strings.Contains(sc, "Domain=example.com") || !strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie = %q, want __Secure-gatehouse with Domain=example.com", sc)
	}
	sc = e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { s.Destroy() }).Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Secure-gatehouse=;") || !strings.Contains(sc, "Domain=example.com") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("sign-out Set-Cookie = %q, want the domain cookie cleared", sc)
	}
}

func TestNewManagerOptions(t *testing.T) {
	mem := memstore.New()
	cases := []struct {
		name  string
		store session.Store
		opts  []session.Option
		ok    bool
	}{
		{"defaults", mem, nil, true},
		{"nil store", nil, nil, false},
		{"zero idle", mem, []session.Option{session.IdleTimeout(0)}, false},
		{"negative lifetime", mem, []session.Option{session.Lifetime(-time.Hour)}, false},
		{"zero remember", mem, []session.Option{session.RememberFor(0)}, false},
		{"zero touch", mem, []session.Option{session.TouchInterval(0)}, false},
		{"bad cookie name", mem, []session.Option{session.CookieName("a b")}, false},
		{"host prefix without secure", mem, []session.Option{session.InsecureCookie(), session.CookieName("__Host-x")}, false},
		{"custom name", mem, []session.Option{session.CookieName("sid")}, true},
		{"cookie domain", mem, []session.Option{session.CookieDomain("example.com")}, true},
		{"cookie domain with __Host-", mem, []session.Option{session.CookieDomain("example.com"), session.CookieName("__Host-x")}, false},
		{"bad cookie domain", mem, []session.Option{session.CookieDomain(".example.com;x")}, false},
		{"nil clock", mem, []session.Option{session.Now(nil)}, false},
	}
	for _, c := range cases {
		_, err := session.NewManager(c.store, c.opts...)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestAnonymousEmptySessionWritesNothing(t *testing.T) {
	e := newEnv(t)
	for range 20 {
		res := e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
			_ = s.UserID()
			_ = s.Get("x")
			_ = s.Flashes()
		})
		if len(res.Cookies()) != 0 {
			t.Fatal("an empty anonymous session got a cookie")
		}
	}
	if n := e.spy.saves.Load() + e.spy.finds.Load() + e.spy.deletes.Load(); n != 0 {
		t.Errorf("store called %d times for empty anonymous sessions", n)
	}
}

func TestLoginStoresOnlyTheHash(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	raw, err := base64.RawURLEncoding.DecodeString(e.cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	handle := hex.EncodeToString(sum[:])
	if _, found, _ := e.mem.Find(t.Context(), e.cookie.Value); found {
		t.Error("the store holds the raw token as an id")
	}
	rec, found, _ := e.mem.Find(t.Context(), handle)
	if !found || rec.UserID != "alice" {
		t.Fatalf("record under SHA-256(token) found=%v user=%q", found, rec.UserID)
	}
	if strings.Contains(string(rec.Data), e.cookie.Value) {
		t.Error("the record's data contains the token")
	}
	var got string
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { got = s.Handle() })
	if got != handle {
		t.Errorf("Handle = %q, want %q", got, handle)
	}
}

func TestLoginRenewsToken(t *testing.T) {
	e := newEnv(t)
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { s.Put("next", "/x") })
	before := e.cookie.Value
	e.do(login("alice", false))
	if e.cookie.Value == before {
		t.Fatal("token not renewed at login")
	}
	if e.mem.Len() != 1 {
		t.Errorf("store holds %d records, want 1 (the old one deleted)", e.mem.Len())
	}
	old := &http.Cookie{Name: e.cookie.Name, Value: before}
	e.cookie = old
	if u := e.user(); u != "" {
		t.Errorf("pre-login token now signed in as %q", u)
	}
}

func TestSessionPersists(t *testing.T) {
	e := newEnv(t)
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		s.Login("alice", false)
		s.Put("k", "v")
		s.Put("gone", "x")
		s.Put("pop", "p")
	})
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		if s.UserID() != "alice" || s.Get("k") != "v" || s.Pop("pop") != "p" {
			t.Errorf("user %q k %q", s.UserID(), s.Get("k"))
		}
		s.Remove("gone")
	})
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		if s.Get("gone") != "" || s.Get("pop") != "" {
			t.Error("removed values came back")
		}
		if s.IP() != "192.0.2.7" || s.UserAgent() != "test-agent" || s.Remember() {
			t.Errorf("info: ip %q ua %q remember %v", s.IP(), s.UserAgent(), s.Remember())
		}
		if !s.AuthAt().Equal(e.clock.Now()) || !s.CreatedAt().Equal(e.clock.Now()) {
			t.Errorf("AuthAt %v CreatedAt %v", s.AuthAt(), s.CreatedAt())
		}
	})
}

// TestAuthAtKeepsNanoseconds: the sign-in time survives a round trip
// through the store with its sub-second part, so that an app comparing it
// with a cut-off set in the same second tells before from after.
func TestAuthAtKeepsNanoseconds(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(123456789 * time.Nanosecond)
	signedIn := e.clock.Now()
	e.do(login("alice", false))
	e.clock.Advance(time.Second)
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		if !s.AuthAt().Equal(signedIn) {
			t.Errorf("AuthAt %v, want %v", s.AuthAt(), signedIn)
		}
		if !s.Info().AuthAt.Equal(signedIn) {
			t.Errorf("Info().AuthAt %v, want %v", s.Info().AuthAt, signedIn)
		}
		if !s.CreatedAt().Equal(signedIn.Truncate(time.Second)) {
			t.Errorf("CreatedAt %v, want whole seconds", s.CreatedAt())
		}
	})
}

func TestTouchInterval(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	saves := e.spy.saves.Load()
	for range 5 {
		e.clock.Advance(10 * time.Second)
		if len(e.do(nop).Cookies()) != 0 {
			t.Fatal("cookie re-sent on an unchanged request")
		}
	}
	if got := e.spy.saves.Load(); got != saves {
		t.Errorf("%d saves within the touch interval, want 0", got-saves)
	}
	e.clock.Advance(15 * time.Second)
	res := e.do(nop)
	if got := e.spy.saves.Load(); got != saves+1 {
		t.Errorf("%d saves after the touch interval, want 1", got-saves)
	}
	if len(res.Cookies()) != 0 {
		t.Error("cookie re-sent on a touch")
	}
	var seen time.Time
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { seen = s.LastSeen() })
	if !seen.Equal(e.clock.Now()) {
		t.Errorf("LastSeen = %v, want %v", seen, e.clock.Now())
	}
}

func TestTimeouts(t *testing.T) {
	cases := []struct {
		name     string
		remember bool
		steps    []time.Duration // gaps between requests
		want     string          // user after the last step
	}{
		{"idle within", false, []time.Duration{29 * time.Minute}, "alice"},
		{"idle exceeded", false, []time.Duration{31 * time.Minute}, ""},
		{"idle kept alive", false, []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, "alice"},
		{"lifetime reached while active", false, repeat(25*time.Minute, 58), ""},
		{"lifetime not yet", false, repeat(25*time.Minute, 57), "alice"},
		{"remember survives days idle", true, []time.Duration{10 * 24 * time.Hour}, "alice"},
		{"remember ends at 720h", true, repeat(24*time.Hour, 31), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.do(login("alice", c.remember))
			u := "alice"
			for _, d := range c.steps {
				e.clock.Advance(d)
				u = e.user()
			}
			if u != c.want {
				t.Errorf("user = %q, want %q", u, c.want)
			}
			if c.want == "" {
				if e.cookie != nil {
					t.Error("stale cookie not deleted")
				}
				if n, _ := e.mem.DeleteExpired(t.Context()); e.mem.Len() != 0 {
					t.Errorf("expired record kept (swept %d, left %d)", n, e.mem.Len())
				}
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = d
	}
	return s
}

func TestRememberCookieIsPersistent(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", true))
	if e.cookie.MaxAge != int((720 * time.Hour).Seconds()) {
		t.Errorf("Max-Age = %d, want 720h", e.cookie.MaxAge)
	}
	e.clock.Advance(time.Hour)
	if len(e.do(nop).Cookies()) != 0 {
		t.Error("remember cookie re-sent on a touch although its expiry did not change")
	}
}

func TestBadCookiesNeverReachTheStore(t *testing.T) {
	valid := strings.Repeat("A", session.TokenLen)
	cases := []string{
		"", "x", valid[:42], valid + "A", strings.Repeat("A", 42) + "=",
		strings.Repeat("A", 42) + "+", strings.Repeat("A", 42) + "/", strings.Repeat("A", 42) + ".",
		strings.Repeat("A", 42) + "B", // non-canonical final character
		strings.Repeat("é", 21) + "A", strings.Repeat("A", 5000),
	}
	for _, v := range cases {
		e := newEnv(t)
		e.cookie = &http.Cookie{Name: "__Host-gatehouse", Value: v}
		if u := e.user(); u != "" {
			t.Errorf("cookie %.20q: user %q", v, u)
		}
		if n := e.spy.finds.Load(); n != 0 {
			t.Errorf("cookie %.20q reached the store", v)
		}
	}
}

func TestUnknownTokenIsAnonymous(t *testing.T) {
	e := newEnv(t)
	e.cookie = &http.Cookie{Name: "__Host-gatehouse", Value: strings.Repeat("A", session.TokenLen)}
	res := e.do(nop)
	if e.spy.finds.Load() != 1 {
		t.Error("well-formed token not looked up")
	}
	if cs := res.Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Error("unknown cookie not deleted")
	}
}

func TestDestroy(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	old := e.cookie
	res := e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		s.Destroy()
		if s.UserID() != "" {
			t.Error("still signed in after Destroy")
		}
	})
	if cs := res.Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Error("cookie not deleted")
	}
	if e.mem.Len() != 0 {
		t.Error("record not deleted")
	}
	e.cookie = old
	if e.user() != "" {
		t.Error("copied cookie still signed in after Destroy")
	}
}

func TestDestroyThenFlash(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	old := e.cookie.Value
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		s.Destroy()
		s.AddFlash("signed out")
	})
	if e.cookie == nil || e.cookie.Value == old {
		t.Fatal("no fresh cookie for the flash")
	}
	var f []string
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		if s.UserID() != "" {
			t.Error("signed in after Destroy")
		}
		f = s.Flashes()
	})
	if len(f) != 1 || f[0] != "signed out" {
		t.Errorf("flashes = %q", f)
	}
	if e.mem.Len() != 0 || e.cookie != nil {
		t.Errorf("emptied anonymous session kept: %d records, cookie %v", e.mem.Len(), e.cookie != nil)
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t)
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		s.Login("alice", false)
		s.Put("k", "v")
	})
	old := e.cookie.Value
	var before, after string
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		before = s.Handle()
		s.Renew()
		after = s.Handle()
	})
	if e.cookie.Value == old || before == after {
		t.Fatal("not renewed")
	}
	if e.mem.Len() != 1 {
		t.Errorf("%d records, want 1", e.mem.Len())
	}
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		if s.UserID() != "alice" || s.Get("k") != "v" || s.Handle() != after {
			t.Error("contents lost in Renew")
		}
	})
}

func TestStoreFailuresFailClosed(t *testing.T) {
	cases := []struct {
		name    string
		fail    func(*spyStore)
		handler func(http.ResponseWriter, *http.Request, *session.Session)
		ran     bool // whether the handler may run
	}{
		{"find", func(s *spyStore) { s.failFind.Store(true) }, nop, false},
		{"save at login", func(s *spyStore) { s.failSave.Store(true) }, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			s.Login("mallory", false)
			http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		}, true},
		{"save before body", func(s *spyStore) { s.failSave.Store(true) }, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			s.Put("k", "v")
			w.Header().Set("Content-Type", "application/json")
			if _, err := io.WriteString(w, `{"secret":1}`); !errors.Is(err, session.ErrResponseAborted) {
				t.Errorf("Write after failed save: %v", err)
			}
		}, true},
		{"delete at logout", func(s *spyStore) { s.failDel.Store(true) }, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			s.Destroy()
			w.WriteHeader(http.StatusSeeOther)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.do(login("alice", false))
			c.fail(e.spy)
			ran := false
			res := e.do(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
				ran = true
				c.handler(w, r, s)
			})
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", res.StatusCode)
			}
			if ran != c.ran {
				t.Errorf("handler ran = %v", ran)
			}
			if strings.Contains(string(body), "secret") || strings.Contains(string(body), "boom") {
				t.Errorf("body leaks: %q", body)
			}
			if res.Header.Get("Location") != "" || len(res.Cookies()) != 0 {
				t.Error("handler's Location or a cookie survived the failure")
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	e := newEnv(t, session.ErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	e.do(login("alice", false))
	e.spy.failFind.Store(true)
	if res := e.do(nop); res.StatusCode != http.StatusTeapot || !errors.Is(got, errBoom) {
		t.Errorf("status %d, err %v", res.StatusCode, got)
	}
}

func TestFlashes(t *testing.T) {
	e := newEnv(t)
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) {
		s.AddFlash("one")
		s.AddFlash("two")
	})
	var f []string
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { f = s.Flashes() })
	if strings.Join(f, ",") != "one,two" {
		t.Errorf("flashes %q", f)
	}
	e.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { f = s.Flashes() })
	if len(f) != 0 {
		t.Errorf("flashes shown twice: %q", f)
	}
}

func TestClientInfoBounded(t *testing.T) {
	e := newEnv(t, session.ClientIP(func(r *http.Request) string { return "203.0.113.9" }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", strings.Repeat("ü", 300)+"\xff")
	var s *session.Session
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s = session.FromContext(r.Context())
		s.Login("alice", false)
	})).ServeHTTP(httptest.NewRecorder(), r)
	if len(s.UserAgent()) > 256 || !strings.HasPrefix(s.UserAgent(), "ü") || strings.ContainsRune(s.UserAgent(), '\uFFFD') {
		t.Errorf("UA %d bytes: %.20q", len(s.UserAgent()), s.UserAgent())
	}
	if s.IP() != "203.0.113.9" {
		t.Errorf("IP %q", s.IP())
	}
}

func TestListAndRevoke(t *testing.T) {
	clock := sessiontest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	mem := memstore.New(memstore.Now(clock.Now))
	m, err := session.NewManager(mem, session.Now(clock.Now), session.Logger(discard))
	if err != nil {
		t.Fatal(err)
	}
	browsers := make([]*env, 4)
	for i, u := range []string{"alice", "alice", "alice", "bob"} {
		browsers[i] = &env{t: t, clock: clock, mem: mem, m: m}
		browsers[i].do(login(u, i == 2))
		clock.Advance(time.Minute)
	}
	ctx := t.Context()
	handle := func(b *env) string {
		var h string
		b.do(func(_ http.ResponseWriter, _ *http.Request, s *session.Session) { h = s.Handle() })
		return h
	}
	infos, err := m.List(ctx, "alice")
	if err != nil || len(infos) != 3 {
		t.Fatalf("List = %d, %v", len(infos), err)
	}
	if infos[0].Handle != handle(browsers[2]) || !infos[0].Remember || infos[0].IP != "192.0.2.7" || infos[0].UserAgent != "test-agent" {
		t.Errorf("List[0] = %+v", infos[0])
	}
	if infos[0].Expiry.IsZero() || infos[0].CreatedAt.IsZero() {
		t.Errorf("List[0] lacks times: %+v", infos[0])
	}
	if l, _ := m.List(ctx, ""); len(l) != 0 {
		t.Error(`List("") listed sessions`)
	}
	revokeCases := []struct {
		user, handle string
		want         error
	}{
		{"alice", handle(browsers[3]), session.ErrNotFound}, // bob's
		{"alice", "not-a-handle", session.ErrNotFound},
		{"alice", sessiontest.NewID(), session.ErrNotFound},
		{"", handle(browsers[0]), session.ErrNotFound},
		{"alice", handle(browsers[0]), nil},
	}
	for _, c := range revokeCases {
		if err := m.RevokeOne(ctx, c.user, c.handle); !errors.Is(err, c.want) && err != c.want {
			t.Errorf("RevokeOne(%q, %.10q) = %v, want %v", c.user, c.handle, err, c.want)
		}
	}
	if browsers[0].user() != "" || browsers[3].user() != "bob" {
		t.Error("RevokeOne ended the wrong session")
	}
	n, err := m.RevokeAll(ctx, "alice", handle(browsers[1]))
	if err != nil || n != 1 {
		t.Errorf("RevokeAll = %d, %v; want 1", n, err)
	}
	if browsers[1].user() != "alice" || browsers[2].user() != "" || browsers[3].user() != "bob" {
		t.Error("RevokeAll ended the wrong sessions")
	}
	if _, err := m.RevokeAll(ctx, "alice", "bad"); err == nil {
		t.Error("RevokeAll accepted a malformed handle to keep")
	}
	if n, _ := m.RevokeAll(ctx, "", ""); n != 0 {
		t.Error(`RevokeAll("") removed sessions`)
	}
}

func TestNotSupported(t *testing.T) {
	e := newEnv(t) // the spy hides memstore's optional interfaces
	ctx := t.Context()
	if _, err := e.m.List(ctx, "alice"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("List: %v", err)
	}
	if _, err := e.m.RevokeAll(ctx, "alice", ""); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("RevokeAll: %v", err)
	}
	if err := e.m.RunSweeper(ctx, time.Minute); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("RunSweeper: %v", err)
	}
}

func TestSweep(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	mem := memstore.New(memstore.Now(clock.Now))
	m, _ := session.NewManager(mem, session.Now(clock.Now))
	_ = mem.Save(t.Context(), sessiontest.NewID(), session.Record{Expiry: clock.Now().Add(time.Minute)})
	clock.Advance(time.Hour)
	if n, err := m.Sweep(t.Context()); n != 1 || err != nil {
		t.Errorf("Sweep = %d, %v", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.RunSweeper(ctx, time.Millisecond); err != nil {
		t.Errorf("RunSweeper after cancel: %v", err)
	}
}

func TestFlushCommits(t *testing.T) {
	e := newEnv(t)
	res := e.do(func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		s.Login("alice", false)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		_, _ = io.WriteString(w, "streamed")
	})
	if len(res.Cookies()) != 1 {
		t.Error("no cookie when the handler flushed first")
	}
}

func TestNestedHandlerLoadsOnce(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	finds := e.spy.finds.Load()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(e.cookie)
	var u string
	e.m.Handler(e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u = session.FromContext(r.Context()).UserID()
	}))).ServeHTTP(httptest.NewRecorder(), r)
	if u != "alice" || e.spy.finds.Load() != finds+1 {
		t.Errorf("user %q, %d finds", u, e.spy.finds.Load()-finds)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	e.do(login("alice", false))
	c := e.cookie
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(c)
			e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.FromContext(r.Context())
				var inner sync.WaitGroup
				inner.Add(2)
				go func() { defer inner.Done(); s.Put("k", "v") }()
				go func() { defer inner.Done(); _ = s.Get("k") }()
				inner.Wait()
				if i%4 == 0 {
					e.clock.Advance(time.Second)
				}
			})).ServeHTTP(httptest.NewRecorder(), r)
		}()
	}
	wg.Wait()
	if e.user() != "alice" {
		t.Error("session lost under concurrency")
	}
}

func TestFromContextOutsideHandler(t *testing.T) {
	if session.FromContext(context.Background()) != nil {
		t.Error("FromContext without Handler is not nil")
	}
}

func BenchmarkManagerLoad(b *testing.B) {
	mem := memstore.New()
	m, _ := session.NewManager(mem)
	var cookie *http.Cookie
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.UserID() == "" {
			s.Login("alice", false)
		}
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	cookie = w.Result().Cookies()[0]
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func FuzzHandlerCookie(f *testing.F) {
	mem := memstore.New()
	m, err := session.NewManager(mem, session.Logger(discard))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", strings.Repeat("A", session.TokenLen), "a=b; c", "\x00", strings.Repeat("_", 43)} {
		f.Add(seed)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := session.FromContext(r.Context()).UserID(); u != "" {
			panic("signed in by a fuzzed cookie: " + u)
		}
	}))
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "__Host-gatehouse="+v)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || mem.Len() != 0 {
			t.Fatalf("status %d, %d records", w.Code, mem.Len())
		}
	})
}
