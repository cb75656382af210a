package password

import (
	"testing"
)

func BenchmarkHashArgon2idDefault(b *testing.B) {
	h := mustHasher(b)
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	h := mustHasher(b)
	enc, _ := h.Hash("correct horse battery staple")
	for b.Loop() {
		if _, err := h.Verify("correct horse battery staple", enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	h := mustHasher(b)
	for b.Loop() {
		_ = h.VerifyDummy("correct horse battery staple")
	}
}

// BenchmarkVerifySmall verifies one small-work fixture of every format:
// the per-format overhead beyond the work factor.
func BenchmarkVerifySmall(b *testing.B) {
	h := mustHasher(b)
	seen := map[Format]bool{}
	for _, f := range mustFixtures(b) {
		if f.Realistic || seen[f.Format] {
			continue
		}
		seen[f.Format] = true
		b.Run(string(f.Format), func(b *testing.B) {
			for b.Loop() {
				if _, err := h.Verify(f.Password, f.Hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyFixtures verifies the realistic-default fixture of each
// format (the library defaults of testdata/gen_legacy.py).
func BenchmarkVerifyFixtures(b *testing.B) {
	h := mustHasher(b)
	for _, f := range mustFixtures(b) {
		if !f.Realistic {
			continue
		}
		b.Run(string(f.Format)+"/"+f.Lib, func(b *testing.B) {
			for b.Loop() {
				if _, err := h.Verify(f.Password, f.Hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIdentify(b *testing.B) {
	enc := "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + key32
	for b.Loop() {
		if _, err := Identify(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	_ = commonSorted()
	for b.Loop() {
		_ = CheckPolicy("horse staple correct", "alice@example.com")
	}
}
