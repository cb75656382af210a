package passkey

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/memstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// inSession runs f inside a request with a fresh session whose manager
// uses clk.
func inSession(t *testing.T, clk *clock, f func(r *http.Request, s *session.Session)) {
	t.Helper()
	m, err := session.NewManager(memstore.New(), session.Now(clk.Now), session.InsecureCookie())
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f(r, session.FromContext(r.Context()))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// Adding and removing passkeys need a sign-in or a confirmation within
// ConfirmWindow, measured with the injected clock.
func TestConfirmedRecently(t *testing.T) {
	tests := []struct {
		name      string
		login     bool          // signed in at t0
		confirmed time.Duration // confirmation at t0+confirmed (-1: none)
		at        time.Duration // checked at t0+at
		want      bool
	}{
		{"anonymous, nothing", false, -1, 0, false},
		{"just signed in", true, -1, time.Minute, true},
		{"signed in long ago", true, -1, ConfirmWindow, false},
		{"confirmed after sign-in", true, 10 * time.Minute, 14 * time.Minute, true},
		{"confirmation expired", true, 10 * time.Minute, 15 * time.Minute, false},
		{"confirmation in the future", true, 20 * time.Minute, 10 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: t0}
			f := &Feature{c: Config{Now: clk.Now}}
			inSession(t, clk, func(r *http.Request, s *session.Session) {
				if tc.login {
					s.Login("1", false)
				}
				if tc.confirmed >= 0 {
					s.Put(confirmedKey, strconv.FormatInt(t0.Add(tc.confirmed).UnixMicro(), 10))
				}
				clk.set(t0.Add(tc.at))
				if got := f.confirmedRecently(r); got != tc.want {
					t.Fatalf("confirmedRecently = %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// The ceremony binding is made once per session, 32 random bytes.
func TestBinding(t *testing.T) {
	clk := &clock{t: t0}
	var first, second []byte
	inSession(t, clk, func(r *http.Request, s *session.Session) {
		if existingBinding(r) != nil {
			t.Fatal("binding before any ceremony")
		}
		var ok bool
		first, ok = binding(r)
		if !ok || len(first) != 32 {
			t.Fatalf("binding = %x, %v", first, ok)
		}
		again, _ := binding(r)
		if string(again) != string(first) || string(existingBinding(r)) != string(first) {
			t.Fatal("binding changed within a session")
		}
		s.Put(bindKey, "not base64!")
		if existingBinding(r) != nil {
			t.Fatal("a malformed binding was accepted")
		}
	})
	inSession(t, clk, func(r *http.Request, _ *session.Session) { second, _ = binding(r) })
	if string(first) == string(second) {
		t.Fatal("two sessions share a binding")
	}
	if _, ok := binding(httptest.NewRequest("GET", "/", nil)); ok {
		t.Fatal("binding without a session")
	}
}

func TestJSONAnswers(t *testing.T) {
	w := httptest.NewRecorder()
	jsonError(w, http.StatusConflict, `say "no"`)
	if w.Code != 409 || w.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
		w.Header().Get("Cache-Control") != "no-store" || strings.TrimSpace(w.Body.String()) != `{"error":"say \"no\""}` {
		t.Fatalf("jsonError = %d %v %q", w.Code, w.Header(), w.Body.String())
	}
	w = httptest.NewRecorder()
	sendOptions(w, []byte(`{"publicKey":{}}`))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" || w.Body.String() != `{"publicKey":{}}` {
		t.Fatalf("sendOptions = %d %q", w.Code, w.Body.String())
	}
}

// The credential id used as a rate-limit key comes from attacker input: it
// is bounded and never panics.
func FuzzCredentialKey(f *testing.F) {
	f.Add([]byte(`{"id":"AbC-_9"}`))
	f.Add([]byte(`{"id":"` + strings.Repeat("A", 2000) + `"}`))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, body []byte) {
		k := account.PasskeyCredentialKey(body)
		if len(k) > 1400 || strings.ContainsAny(k, " \n\r:") {
			t.Fatalf("key %q", k)
		}
	})
}
