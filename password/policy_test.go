package password

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	tests := []struct {
		name, pw, email string
		policy          Policy
		rule            Rule // "" means accepted
	}{
		{"ok passphrase", "horse staple correct", "alice@example.com", Policy{}, ""},
		{"no composition rules", "abcdefgh", "", Policy{}, ""},
		{"7 chars", "kq8#Lm2", "", Policy{}, RuleTooShort},
		{"8 chars", "kq8#Lm2z", "", Policy{}, ""},
		{"empty", "", "", Policy{}, RuleTooShort},
		{"7 runes, 14 bytes", "ééééééé", "", Policy{}, RuleTooShort},
		{"8 runes after NFKC of 16", strings.Repeat("e\u0301", 8), "", Policy{}, ""},
		{"ligature expands to 8", "\ufb01\ufb01\ufb01\ufb01", "", Policy{}, ""},
		{"256 runes", strings.Repeat("aé", 128), "", Policy{}, ""},
		{"257 runes", strings.Repeat("aé", 128) + "z", "", Policy{}, RuleTooLong},
		{"huge input", strings.Repeat("a", MaxPasswordBytes+1), "", Policy{}, RuleTooLong},
		{"invalid utf8", "abcdefgh\xff", "", Policy{}, RuleInvalid},
		{"common", "password1", "", Policy{}, RuleCommon},
		{"common any case", "PassWord1", "", Policy{}, RuleCommon},
		{"common fullwidth", "ｐａｓｓｗｏｒｄ１", "", Policy{}, RuleCommon},
		{"common long", "qwertyuiop", "", Policy{}, RuleCommon},
		{"equals email", "Alice@Example.com", "alice@example.com", Policy{}, RuleContainsEmail},
		{"equals email trimmed", "alice@example.com", "  alice@example.com ", Policy{}, RuleContainsEmail},
		{"contains local part", "xxALICE99yy", "alice@example.com", Policy{}, RuleContainsEmail},
		{"short local part allowed", "bob-is-great-2024", "bob@example.com", Policy{}, ""},
		{"4-char local part", "my-carl-secret", "carl@example.com", Policy{}, RuleContainsEmail},
		{"no email", "xxalice99yy", "", Policy{}, ""},
		{"email without at", "xxalice99yy", "alice", Policy{}, RuleContainsEmail},
		{"custom min", "abcdefghijk", "", Policy{MinRunes: 12}, RuleTooShort},
		{"min cannot go below 8", "abcdefg", "", Policy{MinRunes: 4}, RuleTooShort},
		{"custom max", "abcdefghijk", "", Policy{MaxRunes: 10}, RuleTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, tt.email)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Rule != tt.rule || !errors.Is(err, ErrPolicy) {
				t.Fatalf("Check = %v; want rule %s", err, tt.rule)
			}
			if pe.Reason == "" || !strings.HasPrefix(err.Error(), "password: ") {
				t.Fatalf("bad error text %q", err)
			}
			if tt.pw != "" && strings.Contains(pe.Reason, tt.pw) {
				t.Fatalf("reason %q contains the password", pe.Reason)
			}
		})
	}
	if err := CheckPolicy("password", ""); err == nil {
		t.Fatal("CheckPolicy(password) = nil")
	}
}

func TestCommonList(t *testing.T) {
	list := commonSorted()
	if len(list) < 10000 {
		t.Fatalf("common list has %d entries, want >= 10000", len(list))
	}
	for _, pw := range []string{"123456", "password", "Dragon", "iloveyou123", "TRUSTNO1"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false", pw)
		}
	}
	for _, pw := range []string{"", "horse staple correct", strings.Repeat("x", MaxPasswordBytes+1)} {
		if IsCommon(pw) {
			t.Errorf("IsCommon(%q) = true", pw)
		}
	}
	for _, s := range strings.Split(strings.TrimSpace(commonPasswords), "\n") {
		if s == "" || s != strings.ToLower(s) {
			t.Fatalf("list entry %q is empty or not lowercase", s)
		}
	}
}
