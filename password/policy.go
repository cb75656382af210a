package password

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// commonPasswords is the frequency-ranked list of 49,233 common passwords
// from the npm package @zxcvbn-ts/language-common 4.1.3 (src/passwords.json;
// MIT licence, Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.,
// Copyright (c) 2021 @zxcvbn-ts; https://github.com/zxcvbn-ts/zxcvbn),
// lowercased and deduplicated by gen_common.go. Regenerate with
// gen_common.sh.
//
//go:embed common_passwords.txt
var commonPasswords string

// commonSorted returns the list sorted for binary search. The strings are
// slices of the embedded data, so this costs one slice header per entry.
var commonSorted = sync.OnceValue(func() []string {
	list := strings.Split(strings.TrimSuffix(commonPasswords, "\n"), "\n")
	slices.Sort(list)
	return list
})

// IsCommon reports whether pw, NFKC normalized and compared without regard
// to case, is on the embedded list of common passwords.
func IsCommon(pw string) bool {
	if len(pw) > MaxPasswordBytes {
		return false
	}
	_, found := slices.BinarySearch(commonSorted(), strings.ToLower(norm.NFKC.String(pw)))
	return found
}

// Policy length bounds, in characters (Unicode code points after NFKC).
const (
	MinPolicyRunes = 8
	MaxPolicyRunes = 256
)

// Rule names the policy rule a password broke.
type Rule string

// Rules reported in PolicyError.Rule.
const (
	RuleTooShort      Rule = "too_short"
	RuleTooLong       Rule = "too_long"
	RuleInvalid       Rule = "invalid"
	RuleCommon        Rule = "common"
	RuleContainsEmail Rule = "contains_email"
)

// PolicyError is returned by Policy.Check. Reason is a message fit to show
// the user; it never contains the password. It wraps ErrPolicy.
type PolicyError struct {
	// Rule is the rule broken, for programs.
	Rule Rule
	// Reason is a sentence for the user, such as "Use at least 8 characters."
	Reason string
}

// Error returns "password: " followed by the reason.
func (e *PolicyError) Error() string { return "password: " + e.Reason }

// Unwrap returns ErrPolicy.
func (e *PolicyError) Unwrap() error { return ErrPolicy }

// Policy checks new passwords after NIST SP 800-63B: a minimum and maximum
// length counted in characters after NFKC normalization, no composition
// rules (no required digits or symbols), no common passwords and nothing
// built from the user's email address. The zero Policy uses the defaults.
type Policy struct {
	// MinRunes is the minimum length; 0 means 8, and smaller values are
	// raised to 8.
	MinRunes int
	// MaxRunes is the maximum length; 0 means 256. Longer passwords are
	// rejected, never truncated. Values above 1024 are lowered to 1024.
	MaxRunes int
}

// CheckPolicy is Policy{}.Check.
func CheckPolicy(pw, email string) error { return Policy{}.Check(pw, email) }

// Check returns nil if pw is acceptable as a new password for the account
// with the given email (which may be empty), or a *PolicyError.
//
// The password must be valid UTF-8 and, after NFKC normalization, between
// MinRunes and MaxRunes characters long. It must not be on the common
// password list, equal the email address or contain its local part when
// that has 4 characters or more; these comparisons ignore case.
func (p Policy) Check(pw, email string) error {
	lo, hi := p.MinRunes, p.MaxRunes
	if lo < MinPolicyRunes {
		lo = MinPolicyRunes
	}
	if hi == 0 {
		hi = MaxPolicyRunes
	}
	hi = clamp(hi, lo, MaxPasswordBytes/4)
	tooLong := &PolicyError{RuleTooLong, "Use at most " + strconv.Itoa(hi) + " characters."}
	if len(pw) > MaxPasswordBytes {
		return tooLong
	}
	if !utf8.ValidString(pw) {
		return &PolicyError{RuleInvalid, "The password contains invalid characters."}
	}
	nf := norm.NFKC.String(pw)
	n := utf8.RuneCountInString(nf)
	if n < lo {
		return &PolicyError{RuleTooShort, "Use at least " + strconv.Itoa(lo) + " characters."}
	}
	if n > hi {
		return tooLong
	}
	lower := strings.ToLower(nf)
	if _, found := slices.BinarySearch(commonSorted(), lower); found {
		return &PolicyError{RuleCommon, "This password is too common. Choose one that is harder to guess."}
	}
	if email = strings.ToLower(norm.NFKC.String(strings.TrimSpace(email))); email != "" && len(email) <= MaxPasswordBytes {
		local := email
		if i := strings.LastIndexByte(email, '@'); i >= 0 {
			local = email[:i]
		}
		if lower == email || (utf8.RuneCountInString(local) >= 4 && strings.Contains(lower, local)) {
			return &PolicyError{RuleContainsEmail, "Do not use your email address in your password."}
		}
	}
	return nil
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
