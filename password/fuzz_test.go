package password

import (
	"errors"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fuzzLimits keep any hash the fuzzer builds cheap to verify.
var fuzzLimits = Limits{
	MaxArgon2Memory: 256, MaxArgon2Time: 2, MaxArgon2Threads: 2, MaxBcryptCost: 4,
	MaxPBKDF2Iterations: 100, MaxScryptMemory: 128 * 64 * 2, MaxScryptParallel: 2,
}

func addSeeds(f *testing.F) {
	for _, fx := range mustFixtures(f) {
		f.Add(fx.Hash)
	}
	for _, s := range []string{"", "$", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$" + key32,
		"pbkdf2:sha256$s$" + hex32, "scrypt:16:1:1$s$" + hex64, "$scrypt$ln=4,r=1,p=1$$" + key32,
		"argon2$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$" + key32, "bcrypt_sha256$$2b" + bcSalt} {
		f.Add(s)
	}
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedHash) &&
		!errors.Is(err, ErrTooExpensive) && !errors.Is(err, ErrMismatch) {
		t.Fatalf("unexpected error %v", err)
	}
}

func FuzzIdentify(f *testing.F) {
	addSeeds(f)
	h := mustHasher(f, WithParams(fastParams), WithLimits(fuzzLimits), WithWerkzeugDefaultIterations(10))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := h.Identify(s)
		checkErr(t, err)
		if (err == nil) == (got == "") {
			t.Fatalf("Identify(%q) = %q, %v", s, got, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	addSeeds(f)
	h := mustHasher(f, WithParams(fastParams), WithLimits(fuzzLimits), WithWerkzeugDefaultIterations(10))
	f.Fuzz(func(t *testing.T, s string) {
		_, err := h.Verify("correct horse battery staple", s)
		checkErr(t, err)
		if err == nil {
			// The fuzzer found the password's hash: only plausible from
			// a seed; the identified format must agree.
			if _, err := h.Identify(s); err != nil {
				t.Fatalf("Verify ok but Identify(%q) = %v", s, err)
			}
		}
	})
}

func FuzzPolicy(f *testing.F) {
	for _, s := range []string{"", "password1", "horse staple correct", "ﬁﬁﬁﬁ", "alice@example.com", "\xff\xfe", "e\u0301e\u0301"} {
		f.Add(s, "alice@example.com")
	}
	f.Fuzz(func(t *testing.T, pw, email string) {
		err := CheckPolicy(pw, email)
		if err == nil {
			// The minimum counts code points after NFKC normalization, as
			// the policy documents: "00000\u0385" is 6 as typed, 8 after.
			if !utf8.ValidString(pw) || utf8.RuneCountInString(norm.NFKC.String(pw)) < MinPolicyRunes {
				t.Fatalf("accepted %q", pw)
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Reason == "" {
			t.Fatalf("CheckPolicy(%q) = %v, not a *PolicyError", pw, err)
		}
	})
}
