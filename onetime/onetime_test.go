package onetime

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustNew(t testing.TB) Token {
	t.Helper()
	tok, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestNew(t *testing.T) {
	a, b := mustNew(t), mustNew(t)
	if a.String() == b.String() || a.Selector() == b.Selector() {
		t.Fatal("two tokens share a part")
	}
	s := a.String()
	if len(s) != EncodedLen || len(a.Selector()) != SelectorLen {
		t.Fatalf("lengths %d, %d; want %d, %d", len(s), len(a.Selector()), EncodedLen, SelectorLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("String() = %q contains %q", s, c)
		}
	}
	if !strings.HasPrefix(s, a.Selector()[:SelectorLen-1]) {
		t.Errorf("String() %q does not start with the selector %q", s, a.Selector())
	}
	want := sha256.Sum256(a.verifier[:])
	if !bytes.Equal(a.VerifierHash(), want[:]) {
		t.Error("VerifierHash is not SHA-256 of the verifier")
	}
}

func TestParse(t *testing.T) {
	tok := mustNew(t)
	s := tok.String()
	sel, ver, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(String()): %v", err)
	}
	if sel != tok.Selector() || !bytes.Equal(ver, tok.verifier[:]) {
		t.Fatalf("Parse(String()) = %q, %x; want %q, %x", sel, ver, tok.Selector(), tok.verifier)
	}

	allZero := strings.Repeat("A", EncodedLen)
	if sel, ver, err := Parse(allZero); err != nil || sel != strings.Repeat("A", SelectorLen) || !bytes.Equal(ver, make([]byte, VerifierSize)) {
		t.Errorf("Parse(all A) = %q, %x, %v", sel, ver, err)
	}

	bad := []struct{ name, in string }{
		{"empty", ""},
		{"one short", s[:EncodedLen-1]},
		{"one long", s + "A"},
		{"padded", s[:EncodedLen-1] + "="},
		{"std alphabet plus", s[:10] + "+" + s[11:]},
		{"std alphabet slash", s[:10] + "/" + s[11:]},
		{"dot", s[:10] + "." + s[11:]},
		{"space", s[:10] + " " + s[11:]},
		{"newline", s[:10] + "\n" + s[11:]},
		{"carriage return", s[:10] + "\r" + s[11:]},
		{"leading space", " " + s[1:]},
		{"non-ASCII", s[:EncodedLen-2] + "é"},
		{"NUL", s[:EncodedLen-1] + "\x00"},
		{"percent-encoded", s[:EncodedLen-3] + "%41"},
		{"huge", strings.Repeat("A", 1<<20)},
	}
	for _, tt := range bad {
		sel, ver, err := Parse(tt.in)
		if !errors.Is(err, ErrMalformed) || sel != "" || ver != nil {
			t.Errorf("%s: Parse = %q, %x, %v; want ErrMalformed", tt.name, sel, ver, err)
		}
	}
}

func TestCheck(t *testing.T) {
	tok, other := mustNew(t), mustNew(t)
	_, ver, err := Parse(tok.String())
	if err != nil {
		t.Fatal(err)
	}
	_, otherVer, _ := Parse(other.String())
	tests := []struct {
		name     string
		verifier []byte
		hash     []byte
		want     bool
	}{
		{"match", ver, tok.VerifierHash(), true},
		{"other token", otherVer, tok.VerifierHash(), false},
		{"flipped bit", flip(ver), tok.VerifierHash(), false},
		{"purpose hash is not a plain hash", ver, tok.PurposeHash(PurposeVerifyEmail), false},
		{"short verifier", ver[:VerifierSize-1], HashVerifier(ver[:VerifierSize-1]), false},
		{"empty verifier", nil, HashVerifier(nil), false},
		{"short hash", ver, tok.VerifierHash()[:HashSize-1], false},
		{"nil hash", ver, nil, false},
	}
	for _, tt := range tests {
		if got := Check(tt.verifier, tt.hash); got != tt.want {
			t.Errorf("%s: Check = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckPurpose(t *testing.T) {
	tok := mustNew(t)
	_, ver, _ := Parse(tok.String())
	reset := tok.PurposeHash(PurposeResetPassword)
	tests := []struct {
		name    string
		purpose string
		ver     []byte
		hash    []byte
		want    bool
	}{
		{"same purpose", PurposeResetPassword, ver, reset, true},
		{"reset token as verification", PurposeVerifyEmail, ver, reset, false},
		{"reset token as email change", PurposeChangeEmail, ver, reset, false},
		{"empty purpose", "", ver, reset, false},
		{"plain hash", PurposeResetPassword, ver, tok.VerifierHash(), false},
		{"flipped bit", PurposeResetPassword, flip(ver), reset, false},
		{"short verifier", PurposeResetPassword, ver[:8], reset, false},
		{"empty purpose round trip", "", ver, tok.PurposeHash(""), true},
	}
	for _, tt := range tests {
		if got := CheckPurpose(tt.purpose, tt.ver, tt.hash); got != tt.want {
			t.Errorf("%s: CheckPurpose = %v, want %v", tt.name, got, tt.want)
		}
	}
	want := sha256.Sum256(append([]byte(PurposeResetPassword+"\x00"), ver...))
	if !bytes.Equal(reset, want[:]) {
		t.Error("PurposeHash is not SHA-256(purpose || 0 || verifier)")
	}
}

func TestNoVerifierInLogs(t *testing.T) {
	tok := mustNew(t)
	secret := tok.String()[SelectorLen+1:]
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sent", "token", tok)
	outputs := map[string]string{
		"slog": buf.String(),
		"%#v":  fmt.Sprintf("%#v", tok),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) || !strings.Contains(out, tok.Selector()) {
			t.Errorf("%s output %q: want the selector and not the verifier", name, out)
		}
	}
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

func FuzzParse(f *testing.F) {
	tok := mustNew(f)
	f.Add(tok.String())
	f.Add(strings.Repeat("A", EncodedLen))
	f.Add(strings.Repeat("_", EncodedLen-1) + "\n")
	f.Add(strings.Repeat("+", EncodedLen))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		sel, ver, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || sel != "" || ver != nil {
				t.Fatalf("Parse(%q) = %q, %x, %v", s, sel, ver, err)
			}
			return
		}
		if len(s) != EncodedLen || len(sel) != SelectorLen || len(ver) != VerifierSize {
			t.Fatalf("Parse(%q) = %q, %x: wrong sizes", s, sel, ver)
		}
		// Only the canonical form is accepted: rebuilding the token
		// gives the input back.
		var rebuilt Token
		raw, err := b64.DecodeString(sel)
		if err != nil || len(raw) != SelectorSize {
			t.Fatalf("selector %q does not decode: %v", sel, err)
		}
		copy(rebuilt.selector[:], raw)
		copy(rebuilt.verifier[:], ver)
		if rebuilt.String() != s || rebuilt.Selector() != sel {
			t.Fatalf("Parse(%q) is not canonical: rebuilt %q", s, rebuilt.String())
		}
		if !Check(ver, rebuilt.VerifierHash()) || !CheckPurpose("p", ver, rebuilt.PurposeHash("p")) {
			t.Fatal("parsed verifier does not check against its own hash")
		}
	})
}
