package keyring

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock shared by several Files.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestTwoPhaseRotation: a rotated key is staged (verifies, does not sign)
// until its activation time, then current without any reload; list states
// follow.
func TestTwoPhaseRotation(t *testing.T) {
	clock := &testClock{t: t0}
	f := mustOpen(t, keysPath(t), WithClock(clock.Now), WithStagingDelay(time.Minute))
	first := f.Ring().Current()
	k, err := f.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if !k.Activates.Equal(t0.Add(time.Minute)) || !k.Staged(t0) {
		t.Fatalf("rotated key %v: want staged until %v", k, t0.Add(time.Minute))
	}
	steps := []struct {
		at      time.Duration
		current string
		staged  bool
	}{
		{0, first.ID, true},
		{59 * time.Second, first.ID, true},
		{time.Minute, k.ID, false},
		{time.Hour, k.ID, false},
	}
	for _, s := range steps {
		clock.Set(t0.Add(s.at))
		r := f.Ring()
		if got := r.Current().ID; got != s.current {
			t.Errorf("at +%v: current %s, want %s", s.at, got, s.current)
		}
		if _, ok := r.Find(k.ID); !ok {
			t.Errorf("at +%v: the new key does not verify", s.at)
		}
		got, _ := r.Find(k.ID)
		if got.Staged(clock.Now()) != s.staged {
			t.Errorf("at +%v: staged = %v, want %v", s.at, !s.staged, s.staged)
		}
	}
	// The activation is by the clock: the file did not change.
	if changed, err := f.Reload(); err != nil || changed {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	// A second instance opening the file later agrees.
	if g := mustOpen(t, f.Path(), WithClock(clock.Now)); g.Ring().Current().ID != k.ID {
		t.Fatalf("a later instance's current key is %s, want %s", g.Ring().Current().ID, k.ID)
	}
}

// rotatedFile returns a keys file on clock (at t0) holding its first key
// and a staged one added by Rotate with the default staging delay.
func rotatedFile(t *testing.T) (clock *testClock, f *File, first, staged Key) {
	t.Helper()
	clock = &testClock{t: t0}
	f = mustOpen(t, keysPath(t), WithClock(clock.Now))
	first = f.Ring().Current()
	staged, err := f.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	return clock, f, first, staged
}

func TestActivate(t *testing.T) {
	clock, f, first, k := rotatedFile(t)
	if !k.Activates.Equal(t0.Add(DefaultStagingDelay)) {
		t.Fatalf("default staging: activates %v", k.Activates)
	}
	clock.Set(t0.Add(time.Second))
	got, err := f.Activate(k.ID)
	if err != nil || !got.Activates.Equal(t0.Add(time.Second)) || f.Ring().Current().ID != k.ID {
		t.Fatalf("Activate = %v, %v; current %s", got, err, f.Ring().Current().ID)
	}
	other, err := f.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Retire(other.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id  string
		err error
	}{
		{k.ID, ErrNotStaged},
		{first.ID, ErrNotStaged},
		{other.ID, ErrAlreadyRetired},
		{"ffffffff", ErrUnknownKey},
		{"", ErrUnknownKey},
	}
	for _, tt := range tests {
		if _, err := f.Activate(tt.id); !errors.Is(err, tt.err) {
			t.Errorf("Activate(%q) = %v, want %v", tt.id, err, tt.err)
		}
	}
}

// Retiring the signing key while the new one is staged (a leak) makes the
// staged key sign at once, and the file records its activation.
func TestRetireCurrentWhileStaged(t *testing.T) {
	clock, f, first, k := rotatedFile(t)
	clock.Set(t0.Add(time.Second))
	if err := f.Retire(first.ID); err != nil {
		t.Fatal(err)
	}
	g := mustOpen(t, f.Path(), WithClock(clock.Now))
	for _, r := range []*Ring{f.Ring(), g.Ring()} {
		if c := r.Current(); c.ID != k.ID || c.Staged(clock.Now()) || !c.Activates.Equal(t0.Add(time.Second)) {
			t.Fatalf("current after retiring the signing key: %v", c)
		}
	}
	if err := f.Retire(k.ID); !errors.Is(err, ErrLastKey) {
		t.Fatalf("Retire(last) = %v", err)
	}
}

// Files written before two-phase rotation (no "activates") load, and a
// file without staged keys is written without the field.
func TestOldKeysFileLoads(t *testing.T) {
	path := keysPath(t)
	old := `{"version":1,"keys":[` +
		`{"id":"0123abcd","secret":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-01T00:00:00Z","retired":"2026-01-03T00:00:00Z"},` +
		`{"id":"4567cdef","secret":"AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-02T00:00:00Z"}]}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, path, WithClock(fixedClock(t0)), WithStagingDelay(0))
	if c := f.Ring().Current(); c.ID != "4567cdef" || !c.Activates.IsZero() {
		t.Fatalf("current = %v", c)
	}
	if _, err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "activates") {
		t.Fatalf("a file without staged keys got activation times:\n%s", data)
	}
}

// TestTwoInstancesRotate: two instances share a keys file and re-read it
// every interval, out of phase; a third process rotates. Every step, each
// instance seals a cookie and signs a token that the other must open and
// verify. With two-phase rotation nothing is ever refused; rotating
// straight to the new key (no staging) is refused by the instance that has
// not reloaded yet, which is what the staging prevents.
func TestTwoInstancesRotate(t *testing.T) {
	const interval = 30 * time.Second
	for _, tc := range []struct {
		name    string
		stage   time.Duration
		refusal bool
	}{
		{"staged for two intervals", 2 * interval, false},
		{"no staging", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &testClock{t: t0}
			path := keysPath(t)
			cli := mustOpen(t, path, WithClock(clock.Now), WithStagingDelay(tc.stage))
			a := mustOpen(t, path, WithClock(clock.Now))
			b := mustOpen(t, path, WithClock(clock.Now))
			type instance struct {
				f      *File
				phase  time.Duration // reloads at t0 + phase + n*interval
				cookie *AEAD
				csrf   *MAC
			}
			insts := []*instance{
				{f: a, phase: 0, cookie: NewAEAD(a, "session-cookie"), csrf: NewMAC(a, "csrf")},
				{f: b, phase: 25 * time.Second, cookie: NewAEAD(b, "session-cookie"), csrf: NewMAC(b, "csrf")},
			}
			oldID := a.Ring().Current().ID
			var newID string
			refused := 0
			for step := time.Duration(0); step <= 4*time.Minute; step += 5 * time.Second {
				clock.Set(t0.Add(step))
				if step == 10*time.Second {
					k, err := cli.Rotate()
					if err != nil {
						t.Fatal(err)
					}
					newID = k.ID
				}
				for _, in := range insts {
					if step >= in.phase && (step-in.phase)%interval == 0 {
						if _, err := in.f.Reload(); err != nil {
							t.Fatal(err)
						}
					}
				}
				for i, from := range insts {
					to := insts[1-i]
					sealed, err := from.cookie.Seal([]byte("session"), nil)
					if err != nil {
						t.Fatal(err)
					}
					if got, err := to.cookie.Open(sealed, nil); err != nil || !bytes.Equal(got, []byte("session")) {
						refused++
						if !tc.refusal {
							t.Errorf("+%v: a cookie sealed by instance %d (key %s) refused by the other: %v", step, i, from.f.Ring().Current().ID, err)
						}
					}
					if err := to.csrf.Verify([]byte("form"), from.csrf.Sign([]byte("form"))); err != nil {
						refused++
						if !tc.refusal {
							t.Errorf("+%v: a token signed by instance %d refused by the other: %v", step, i, err)
						}
					}
				}
			}
			if tc.refusal && refused == 0 {
				t.Fatal("without staging no refusal was seen: the test does not exercise the window")
			}
			for i, in := range insts {
				if got := in.f.Ring().Current().ID; got != newID || got == oldID {
					t.Errorf("instance %d ends with current key %s, want the new %s", i, got, newID)
				}
			}
		})
	}
}
