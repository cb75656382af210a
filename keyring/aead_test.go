package keyring

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestAEADRoundTrip(t *testing.T) {
	a := NewAEAD(Ephemeral(), "test")
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", nil, nil},
		{"short", []byte("hello"), nil},
		{"with ad", []byte("hello"), []byte("user 42")},
		{"max size", make([]byte, MaxMessageSize), []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := a.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(sealed) != len(tt.plaintext)+Overhead {
				t.Errorf("sealed length %d, want %d", len(sealed), len(tt.plaintext)+Overhead)
			}
			got, err := a.Open(sealed, tt.ad)
			if err != nil || !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}
	if _, err := a.Seal(make([]byte, MaxMessageSize+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Seal(too large): %v", err)
	}
}

func TestAEADRandomNonce(t *testing.T) {
	a := NewAEAD(Ephemeral(), "test")
	s1, _ := a.Seal([]byte("same"), nil)
	s2, _ := a.Seal([]byte("same"), nil)
	if bytes.Equal(s1, s2) {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestAEADRefuses(t *testing.T) {
	ring := Ephemeral()
	a := NewAEAD(ring, "test")
	sealed, _ := a.Seal([]byte("secret data"), []byte("ad"))
	with := func(i int, b byte) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= b
		return c
	}
	tests := []struct {
		name   string
		aead   *AEAD
		sealed []byte
		ad     []byte
		err    error
	}{
		{"other ad", a, sealed, []byte("AD"), ErrDecrypt},
		{"no ad", a, sealed, nil, ErrDecrypt},
		{"other purpose", NewAEAD(ring, "other"), sealed, []byte("ad"), ErrDecrypt},
		{"other ring", NewAEAD(Ephemeral(), "test"), sealed, []byte("ad"), ErrUnknownKey},
		{"version flipped", a, with(0, 1), []byte("ad"), ErrDecrypt},
		{"key id flipped", a, with(1, 1), []byte("ad"), ErrUnknownKey},
		{"nonce flipped", a, with(headerSize, 1), []byte("ad"), ErrDecrypt},
		{"ciphertext flipped", a, with(headerSize+24, 1), []byte("ad"), ErrDecrypt},
		{"tag flipped", a, with(len(sealed)-1, 0x80), []byte("ad"), ErrDecrypt},
		{"truncated", a, sealed[:len(sealed)-1], []byte("ad"), ErrDecrypt},
		{"too short", a, sealed[:Overhead-1], []byte("ad"), ErrDecrypt},
		{"empty", a, nil, nil, ErrDecrypt},
		{"too large", a, make([]byte, MaxMessageSize+Overhead+1), nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.aead.Open(tt.sealed, tt.ad)
			if !errors.Is(err, tt.err) || got != nil {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.err)
			}
		})
	}
}

func TestAEADRotation(t *testing.T) {
	path := keysPath(t)
	f := mustOpen(t, path, WithStagingDelay(0))
	a := NewAEAD(f, "cookie")
	old, _ := a.Seal([]byte("old"), nil)
	oldID := f.Ring().Current().ID

	if _, err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	fresh, _ := a.Seal([]byte("new"), nil)
	if bytes.Equal(fresh[1:headerSize], old[1:headerSize]) {
		t.Fatal("after a rotation Seal still uses the old key")
	}
	for _, s := range [][]byte{old, fresh} {
		if _, err := a.Open(s, nil); err != nil {
			t.Fatalf("Open after rotation: %v", err)
		}
	}

	if err := f.Retire(oldID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(old, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open under a retired key: %v, want ErrUnknownKey", err)
	}
	if _, err := a.Open(fresh, nil); err != nil {
		t.Fatalf("Open under the current key: %v", err)
	}
}

func TestAEADStaticRetired(t *testing.T) {
	signer, tests := retirementCases(t)
	sealed, _ := NewAEAD(signer, "p").Seal([]byte("x"), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAEAD(tt.ring, "p").Open(sealed, nil); !errors.Is(err, tt.err) {
				t.Fatalf("Open: %v, want %v", err, tt.err)
			}
		})
	}
}

type retirementCase struct {
	name string
	ring *Ring
	err  error
}

// retirementCases returns a ring of one key k1, and rings in which k1 is
// current, older, retired and absent, with the error expected when
// verifying under them what k1 signed.
func retirementCases(t *testing.T) (*Ring, []retirementCase) {
	k1, k2 := keyAt(0), keyAt(time.Minute)
	return mustStatic(t, k1), []retirementCase{
		{"same key", mustStatic(t, k1), nil},
		{"older non-retired key", mustStatic(t, k1, k2), nil},
		{"retired key", mustStatic(t, retire(k1), k2), ErrUnknownKey},
		{"absent key", mustStatic(t, k2), ErrUnknownKey},
	}
}

func FuzzAEADOpen(f *testing.F) {
	k, _ := NewStatic(keyAt(0))
	a := NewAEAD(k, "fuzz")
	good, _ := a.Seal([]byte("hello"), []byte("ad"))
	f.Add(good, []byte("ad"))
	f.Add(good[:Overhead], []byte(nil))
	f.Add([]byte{1, 0, 0, 0, 0}, []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		out, err := a.Open(sealed, ad)
		if err == nil && !(bytes.Equal(sealed, good) && bytes.Equal(ad, []byte("ad")) && string(out) == "hello") {
			t.Fatalf("Open accepted a forged message: %x", sealed)
		}
		if err != nil && out != nil {
			t.Fatal("Open returned data with an error")
		}
	})
}

func BenchmarkAEADSealOpen(b *testing.B) {
	a := NewAEAD(Ephemeral(), "bench")
	msg := make([]byte, 256)
	for b.Loop() {
		s, _ := a.Seal(msg, nil)
		if _, err := a.Open(s, nil); err != nil {
			b.Fatal(err)
		}
	}
}
