package totp

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var recoveryForm = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

func TestNewRecoveryCodes(t *testing.T) {
	tests := []struct {
		n, want int
		err     error
	}{
		{0, DefaultRecoveryCodes, nil},
		{1, 1, nil},
		{16, 16, nil},
		{MaxRecoveryCodes, MaxRecoveryCodes, nil},
		{-1, 0, ErrRecoveryCount},
		{MaxRecoveryCodes + 1, 0, ErrRecoveryCount},
	}
	for _, tt := range tests {
		codes, err := NewRecoveryCodes(tt.n)
		if !errors.Is(err, tt.err) || len(codes) != tt.want {
			t.Errorf("NewRecoveryCodes(%d) = %d codes, %v; want %d, %v", tt.n, len(codes), err, tt.want, tt.err)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !recoveryForm.MatchString(c) {
				t.Errorf("code %q is not in the grouped form", c)
			}
			if seen[c] {
				t.Errorf("code %q repeated", c)
			}
			seen[c] = true
			if norm, err := NormalizeRecoveryCode(c); err != nil || norm != c {
				t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want it unchanged", c, norm, err)
			}
		}
	}
}

func TestEncodeCrockford(t *testing.T) {
	tests := []struct {
		raw  [recoveryBytes]byte
		want string
	}{
		{[recoveryBytes]byte{}, "0000000000000000"},
		{[recoveryBytes]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "zzzzzzzzzzzzzzzz"},
		{[recoveryBytes]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "0000000000000001"},
		{[recoveryBytes]byte{0x08}, "1000000000000000"}, // top 5 bits 00001
		{[recoveryBytes]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 31}, "000000000000000z"},
	}
	for _, tt := range tests {
		if got := string(func() []byte { e := encodeCrockford(tt.raw); return e[:] }()); got != tt.want {
			t.Errorf("encodeCrockford(%x) = %s, want %s", tt.raw, got, tt.want)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	const c = "7k3m-a9xz-0q1r-bcde"
	tests := []struct {
		in, want string
		err      error
	}{
		{c, c, nil},
		{"7K3M-A9XZ-0Q1R-BCDE", c, nil},
		{"7k3ma9xz0q1rbcde", c, nil},
		{" 7k3m a9xz 0q1r bcde ", c, nil},
		{"7k3m--a9xz-\t0q1r-bcde", c, nil},
		{"7k3m-a9xz-oqir-bcde", c, nil}, // o->0, i->1
		{"7k3m-a9xz-OQLR-bcde", c, nil}, // O->0, L->1
		{"", "", ErrRecoveryCode},
		{"7k3m-a9xz-0q1r-bcd", "", ErrRecoveryCode},
		{"7k3m-a9xz-0q1r-bcdef", "", ErrRecoveryCode},
		{"7k3m-a9xz-0q1r-bcdu", "", ErrRecoveryCode}, // u is not in the alphabet
		{"7k3m_a9xz_0q1r_bcde", "", ErrRecoveryCode},
		{"7k3m-a9xz-0q1r-bcdé", "", ErrRecoveryCode},
		{"7k3m-a9xz-0q1r-bcd\x00", "", ErrRecoveryCode},
		{strings.Repeat(" ", 60) + "7k3ma9xz0q1rbcde", "", ErrRecoveryCode},
	}
	for _, tt := range tests {
		got, err := NormalizeRecoveryCode(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	const c = "7k3m-a9xz-0q1r-bcde"
	want := sha256.Sum256([]byte(c))
	for _, in := range []string{c, "7K3MA9XZOQIRBCDE", "7k3m a9xz 0q1r bcde"} {
		if got := HashRecoveryCode(in); !bytes.Equal(got, want[:]) {
			t.Errorf("HashRecoveryCode(%q) = %x, want %x", in, got, want)
		}
	}
	if got := HashRecoveryCode("nope"); got != nil {
		t.Errorf("HashRecoveryCode(malformed) = %x, want nil", got)
	}
}

func TestMatchRecoveryCode(t *testing.T) {
	codes, err := NewRecoveryCodes(5)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = HashRecoveryCode(c)
	}
	spent := append([][]byte(nil), hashes...)
	spent[2] = nil
	tests := []struct {
		name   string
		input  string
		hashes [][]byte
		index  int
		ok     bool
	}{
		{"first", codes[0], hashes, 0, true},
		{"last", codes[4], hashes, 4, true},
		{"upper case without hyphens", strings.ToUpper(strings.ReplaceAll(codes[3], "-", "")), hashes, 3, true},
		{"spent", codes[2], spent, -1, false},
		{"other still works", codes[1], spent, 1, true},
		{"unknown", "0000-0000-0000-0000", hashes, -1, false},
		{"malformed", "hello", hashes, -1, false},
		{"no hashes", codes[0], nil, -1, false},
		{"short hash", codes[0], [][]byte{hashes[0][:16]}, -1, false},
	}
	for _, tt := range tests {
		index, ok := MatchRecoveryCode(tt.input, tt.hashes)
		if index != tt.index || ok != tt.ok {
			t.Errorf("%s: MatchRecoveryCode = %d, %v; want %d, %v", tt.name, index, ok, tt.index, tt.ok)
		}
	}
	// With a duplicate hash, the first match is reported.
	dup := [][]byte{hashes[1], hashes[0], hashes[0]}
	if index, ok := MatchRecoveryCode(codes[0], dup); index != 1 || !ok {
		t.Errorf("duplicate: %d, %v; want 1, true", index, ok)
	}
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	f.Add("7k3m-a9xz-0q1r-bcde")
	f.Add("7K3M A9XZ OQIR BCDE")
	f.Add("7k3m-a9xz-0q1r-bcdu")
	f.Fuzz(func(t *testing.T, in string) {
		norm, err := NormalizeRecoveryCode(in)
		if err != nil {
			if !errors.Is(err, ErrRecoveryCode) {
				t.Fatalf("unexpected error %v", err)
			}
			if HashRecoveryCode(in) != nil {
				t.Fatal("malformed code hashed")
			}
			return
		}
		if !recoveryForm.MatchString(norm) {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q, not canonical", in, norm)
		}
		if again, err := NormalizeRecoveryCode(norm); err != nil || again != norm {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, norm, again, err)
		}
		if i, ok := MatchRecoveryCode(in, [][]byte{nil, HashRecoveryCode(norm)}); i != 1 || !ok {
			t.Fatalf("MatchRecoveryCode(%q) = %d, %v", in, i, ok)
		}
	})
}
