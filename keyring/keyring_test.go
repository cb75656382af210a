package keyring

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// mustStatic builds a fixed ring or fails the test.
func mustStatic(t testing.TB, keys ...Key) *Ring {
	t.Helper()
	r, err := NewStatic(keys...)
	if err != nil {
		t.Fatalf("NewStatic: %v", err)
	}
	return r
}

// keyAt returns a fresh key created at t0 + d.
func keyAt(d time.Duration) Key { return generate(t0.Add(d), nil) }

func retire(k Key) Key {
	k.Retired = t0.Add(time.Hour)
	return k
}

func TestGenerate(t *testing.T) {
	a, b := Generate(), Generate()
	if !validID(a.ID) || !a.hasSecret() || !a.Active() || a.Created.IsZero() {
		t.Fatalf("Generate() = %v: want a valid active key", a)
	}
	if a.ID == b.ID || a.secret == b.secret {
		t.Fatal("two generated keys share an id or secret")
	}
}

func TestGenerateAvoidsTakenIDs(t *testing.T) {
	taken := map[string]bool{}
	for range 1000 {
		k := generate(t0, taken)
		if taken[k.ID] {
			t.Fatalf("id %s reused", k.ID)
		}
		taken[k.ID] = true
	}
}

func TestKeyFormattingHidesSecret(t *testing.T) {
	k := Generate()
	k.Retired = t0
	secretForms := []string{
		hex.EncodeToString(k.secret[:]),
		base64.StdEncoding.EncodeToString(k.secret[:]),
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, k)
		if !strings.Contains(out, k.ID) || !strings.Contains(out, "retired") {
			t.Errorf("%s: %q lacks the id or retired state", format, out)
		}
		for _, s := range secretForms {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q shows the secret", format, out)
			}
		}
	}
}

func TestDerive(t *testing.T) {
	k1, k2 := Generate(), Generate()
	tests := []struct {
		name string
		a, b []byte
		same bool
	}{
		{"same key and purpose", k1.Derive("csrf"), k1.Derive("csrf"), true},
		{"other purpose", k1.Derive("csrf"), k1.Derive("cookie"), false},
		{"other key", k1.Derive("csrf"), k2.Derive("csrf"), false},
		{"purpose is not a prefix game", k1.Derive("a"), k1.Derive("a\x00"), false},
		{"ed25519 seed independent of Derive", k1.Ed25519("jwt").Seed(), k1.Derive("jwt"), false},
		{"aead subkey independent of Derive", k1.derive("aead", "x"), k1.Derive("x"), false},
		{"mac subkey independent of aead", k1.derive("aead", "x"), k1.derive("mac", "x"), false},
		{"ed25519 deterministic", k1.Ed25519("jwt"), k1.Ed25519("jwt"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.a) == 0 || bytes.Equal(tt.a, tt.b) != tt.same {
				t.Fatalf("equal = %v, want %v", bytes.Equal(tt.a, tt.b), tt.same)
			}
		})
	}
	if n := len(k1.Derive("csrf")); n != 32 {
		t.Errorf("len(Derive) = %d, want 32", n)
	}
	priv := k1.Ed25519("jwt")
	sig := ed25519.Sign(priv, []byte("hello"))
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), []byte("hello"), sig) {
		t.Error("derived Ed25519 key does not verify its own signature")
	}
}

func TestDeriveZeroKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Derive on a zero Key did not panic")
		}
	}()
	Key{}.Derive("csrf")
}

func TestNewStatic(t *testing.T) {
	a, b := keyAt(0), keyAt(time.Minute)
	dup := keyAt(2 * time.Minute)
	dup.ID = a.ID
	badID := keyAt(0)
	badID.ID = "ABCDEF01"
	noSecret := Key{ID: "0123abcd", Created: t0}
	tests := []struct {
		name string
		keys []Key
		err  error
	}{
		{"one key", []Key{a}, nil},
		{"two keys", []Key{a, b}, nil},
		{"one retired one active", []Key{retire(a), b}, nil},
		{"no keys", nil, ErrNoActiveKey},
		{"all retired", []Key{retire(a), retire(b)}, ErrNoActiveKey},
		{"duplicate id", []Key{a, dup}, ErrInvalidKey},
		{"upper-case id", []Key{badID}, ErrInvalidKey},
		{"empty id", []Key{{Created: t0, secret: a.secret}}, ErrInvalidKey},
		{"no secret", []Key{noSecret}, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStatic(tt.keys...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("NewStatic: %v, want %v", err, tt.err)
			}
		})
	}
}

func TestRingCurrentAndFind(t *testing.T) {
	old, mid, newest := keyAt(0), keyAt(time.Minute), keyAt(2*time.Minute)
	tie := keyAt(2 * time.Minute)
	tests := []struct {
		name    string
		keys    []Key
		current string
	}{
		{"single", []Key{old}, old.ID},
		{"newest wins", []Key{old, newest, mid}, newest.ID},
		{"retired newest skipped", []Key{old, mid, retire(newest)}, mid.ID},
		{"tie goes to the later position", []Key{newest, tie}, tie.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustStatic(t, tt.keys...)
			if got := r.Current().ID; got != tt.current {
				t.Fatalf("Current() = %s, want %s", got, tt.current)
			}
			if r.Ring() != r {
				t.Fatal("Ring() is not itself")
			}
			for _, k := range tt.keys {
				got, ok := r.Find(k.ID)
				if ok != k.Active() || ok && got.secret != k.secret {
					t.Errorf("Find(%s) = %v, %v; active = %v", k.ID, got, ok, k.Active())
				}
			}
			if _, ok := r.Find("ffffffff"); ok {
				t.Error("Find(unknown) found a key")
			}
			if got := r.Keys(); len(got) != len(tt.keys) {
				t.Errorf("Keys() has %d keys, want %d", len(got), len(tt.keys))
			}
		})
	}
}

func TestRingIsImmutable(t *testing.T) {
	keys := []Key{keyAt(0)}
	r := mustStatic(t, keys...)
	keys[0].Retired = t0
	r.Keys()[0].Retired = t0
	if !r.Current().Active() {
		t.Fatal("changing the caller's slices changed the ring")
	}
}

func TestEphemeral(t *testing.T) {
	a, b := Ephemeral(), Ephemeral()
	if len(a.Keys()) != 1 || a.Current().ID == b.Current().ID {
		t.Fatal("Ephemeral rings should hold one fresh key each")
	}
}
