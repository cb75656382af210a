package account_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/account"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		in, email, key string // email "" means refused
	}{
		{"alice@example.com", "alice@example.com", "alice@example.com"},
		{"  Alice.B+tag@Example.COM\t", "Alice.B+tag@Example.COM", "alice.b+tag@example.com"},
		{"admin@localhost", "admin@localhost", "admin@localhost"},
		{"o'brien@xn--bcher-kva.example", "o'brien@xn--bcher-kva.example", "o'brien@xn--bcher-kva.example"},
		{"", "", ""},
		{"alice", "", ""},
		{"@example.com", "", ""},
		{"alice@", "", ""},
		{"Alice <alice@example.com>", "", ""},
		{"<alice@example.com>", "", ""},
		{"alice@example.com (comment)", "", ""},
		{`"alice smith"@example.com`, "", ""},
		{`"alice"@example.com`, "", ""},
		{"alice@[192.0.2.1]", "", ""},
		{"alice@example..com", "", ""},
		{"alice@-example.com", "", ""},
		{"alice@exa_mple.com", "", ""},
		{"a b@example.com", "", ""},
		{"alice@example.com\r\nBcc: x@example.com", "", ""},
		{"alice@exam\x00ple.com", "", ""},
		{"аlice@example.com", "", ""},    // Cyrillic а
		{"alice@exаmple.com", "", ""},    // Cyrillic а in domain
		{"ａｌｉｃｅ@example.com", "", ""},    // fullwidth
		{"alice@bücher.example", "", ""}, // use the xn-- form
		{"a@b@example.com", "", ""},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
		{strings.Repeat("a", 65) + "@example.com", "", ""},
		{"a@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 61), "", ""}, // 256 bytes
	}
	for _, tc := range tests {
		email, key, err := account.ParseEmail(tc.in)
		if tc.email == "" {
			if err == nil {
				t.Errorf("ParseEmail(%q) = %q, accepted", tc.in, email)
			}
			continue
		}
		if err != nil || email != tc.email || key != tc.key {
			t.Errorf("ParseEmail(%q) = %q, %q, %v; want %q, %q", tc.in, email, key, err, tc.email, tc.key)
		}
	}
}

func TestEmailKey(t *testing.T) {
	// NFKC then lowercase: compatibility forms fold together.
	if account.EmailKey("ＡＬＩＣＥ@Example.com") != "alice@example.com" {
		t.Errorf("EmailKey(fullwidth) = %q", account.EmailKey("ＡＬＩＣＥ@Example.com"))
	}
}

func TestParseDisplayName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  Zoë Ångström  ", "Zoë Ångström", true},
		{"日本語の名前", "日本語の名前", true},
		{strings.Repeat("é", 64), strings.Repeat("é", 64), true},
		{strings.Repeat("é", 65), "", false},
		{"a\tb", "", false},
		{"a\u0085b", "", false},
		{"a\u2028b", "", false},
		{"abc\u202Etxt.exe", "", false},
		{"bad\xff", "", false},
	}
	for _, tc := range tests {
		got, err := account.ParseDisplayName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDisplayName(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", " A@B.c ", "Alice <a@b.c>", `"x"@y.z`, "a@[1.2.3.4]", "a\r\n@b.c", "ａ@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		email, key, err := account.ParseEmail(s)
		if err != nil {
			return
		}
		if len(email) > account.MaxEmailBytes || email != strings.TrimSpace(email) || key != strings.ToLower(email) {
			t.Fatalf("ParseEmail(%q) = %q, %q", s, email, key)
		}
		for i := 0; i < len(email); i++ {
			if email[i] <= ' ' || email[i] >= 0x7f || strings.ContainsAny(email, "<>()[]\"\\,;") {
				t.Fatalf("ParseEmail(%q) accepted %q", s, email)
			}
		}
		if local := email[:strings.LastIndexByte(email, '@')]; len(local) > account.MaxLocalPartBytes {
			t.Fatalf("local part too long: %q", email)
		}
		if e2, k2, err := account.ParseEmail(email); err != nil || e2 != email || k2 != key {
			t.Fatalf("not idempotent: %q -> %q, %q, %v", email, e2, k2, err)
		}
	})
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"plain", "a\r\nb", `x\y`, "\u202e", "\xff\xfe", "é"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 4096 {
			return
		}
		got := account.Sanitize(s, max)
		if len(got) > max || !utf8.ValidString(got) {
			t.Fatalf("Sanitize(%q, %d) = %q", s, max, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == 0x202e {
				t.Fatalf("Sanitize(%q) kept %U", s, r)
			}
		}
	})
}
