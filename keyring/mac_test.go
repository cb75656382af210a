package keyring

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestMAC(t *testing.T) {
	ring := Ephemeral()
	m := NewMAC(ring, "csrf")
	msg := []byte("message")
	sig := m.Sign(msg)
	if len(sig) != SignatureSize {
		t.Fatalf("len(sig) = %d, want %d", len(sig), SignatureSize)
	}
	if !bytes.Equal(sig, m.Sign(msg)) {
		t.Fatal("HMAC signatures of the same message differ")
	}
	with := func(i int) []byte {
		c := bytes.Clone(sig)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name string
		mac  *MAC
		msg  []byte
		sig  []byte
		err  error
	}{
		{"valid", m, msg, sig, nil},
		{"other message", m, []byte("Message"), sig, ErrInvalidSignature},
		{"empty message", m, nil, sig, ErrInvalidSignature},
		{"other purpose", NewMAC(ring, "other"), msg, sig, ErrInvalidSignature},
		{"other ring", NewMAC(Ephemeral(), "csrf"), msg, sig, ErrUnknownKey},
		{"version flipped", m, msg, with(0), ErrInvalidSignature},
		{"key id flipped", m, msg, with(1), ErrUnknownKey},
		{"tag flipped", m, msg, with(SignatureSize - 1), ErrInvalidSignature},
		{"truncated", m, msg, sig[:SignatureSize-1], ErrInvalidSignature},
		{"extended", m, msg, append(bytes.Clone(sig), 0), ErrInvalidSignature},
		{"empty", m, msg, nil, ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.mac.Verify(tt.msg, tt.sig); !errors.Is(err, tt.err) {
				t.Fatalf("Verify: %v, want %v", err, tt.err)
			}
		})
	}
}

func TestMACRotation(t *testing.T) {
	signer, tests := retirementCases(t)
	sig := NewMAC(signer, "p").Sign([]byte("m"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMAC(tt.ring, "p")
			if err := m.Verify([]byte("m"), sig); !errors.Is(err, tt.err) {
				t.Fatalf("Verify: %v, want %v", err, tt.err)
			}
			id := binaryID(tt.ring.Current().ID)
			if got := m.Sign([]byte("m")); !bytes.Equal(got[1:headerSize], id[:]) {
				t.Fatal("Sign did not use the current key")
			}
		})
	}
}

func TestMACFollowsFile(t *testing.T) {
	f := mustOpen(t, keysPath(t), WithStagingDelay(0))
	m := NewMAC(f, "p")
	old := m.Sign([]byte("m"))
	oldID := f.Ring().Current().ID
	if _, err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old, m.Sign([]byte("m"))) {
		t.Fatal("Sign did not follow the rotation")
	}
	if err := m.Verify([]byte("m"), old); err != nil {
		t.Fatalf("Verify after rotation: %v", err)
	}
	if err := f.Retire(oldID); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify([]byte("m"), old); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify after retirement: %v", err)
	}
}

func FuzzMACVerify(f *testing.F) {
	k, _ := NewStatic(keyAt(0))
	m := NewMAC(k, "fuzz")
	good := m.Sign([]byte("msg"))
	f.Add([]byte("msg"), good)
	f.Add([]byte("msg"), good[:10])
	f.Add([]byte(""), []byte{})
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		err := m.Verify(msg, sig)
		if err == nil && !(bytes.Equal(sig, good) && string(msg) == "msg") {
			t.Fatalf("Verify accepted a forged signature %x for %q", sig, msg)
		}
	})
}

func FuzzParseKeysFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"keys":[{"id":"0123abcd","secret":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Add([]byte(`{"version":1,"keys":[{"id":"0123abcd","secret":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-01T00:00:00Z"},` +
		`{"id":"4567cdef","secret":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-02T00:00:00Z","activates":"2026-01-02T00:01:00Z"}]}`))
	f.Add([]byte(`{`))
	now := time.Date(2026, 1, 2, 0, 0, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parse(data, now)
		if err != nil {
			return
		}
		// What parses must survive a round trip.
		out, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := parse(out, now)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if r2.Current().ID != r.Current().ID || len(r2.Keys()) != len(r.Keys()) {
			t.Fatal("round trip changed the ring")
		}
	})
}

func BenchmarkMACSignVerify(b *testing.B) {
	m := NewMAC(Ephemeral(), "bench")
	msg := make([]byte, 64)
	for b.Loop() {
		if err := m.Verify(msg, m.Sign(msg)); err != nil {
			b.Fatal(err)
		}
	}
}
