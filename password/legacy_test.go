package password

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type fixture struct {
	Format    Format `json:"format"`
	Password  string `json:"password"`
	Hash      string `json:"hash"`
	Realistic bool   `json:"realistic"`
	Lib       string `json:"lib"`
}

func mustFixtures(t testing.TB) []fixture {
	t.Helper()
	data, err := os.ReadFile("testdata/legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(data, &fs); err != nil {
		t.Fatal(err)
	}
	if len(fs) == 0 {
		t.Fatal("no fixtures")
	}
	return fs
}

func mustHasher(t testing.TB, opts ...Option) *Hasher {
	t.Helper()
	h, err := NewHasher(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLegacyFixtures verifies hashes made by Werkzeug, Django, passlib and
// bcrypt (testdata/gen_legacy.py).
func TestLegacyFixtures(t *testing.T) {
	h := mustHasher(t)
	seen := map[Format]bool{}
	for i, f := range mustFixtures(t) {
		seen[f.Format] = true
		if f.Realistic && (testing.Short() || raceEnabled) {
			continue
		}
		t.Run(string(f.Format), func(t *testing.T) {
			t.Logf("fixture %d from %s: %s", i, f.Lib, f.Hash)
			got, err := h.Identify(f.Hash)
			if err != nil || got != f.Format {
				t.Fatalf("Identify = %q, %v; want %q", got, err, f.Format)
			}
			rehash, err := h.Verify(f.Password, f.Hash)
			if err != nil || !rehash {
				t.Fatalf("Verify(right) = %v, %v; want true, nil", rehash, err)
			}
			if _, err := h.Verify("!"+f.Password, f.Hash); !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify(wrong) err = %v; want ErrMismatch", err)
			}
		})
	}
	for _, f := range []Format{FormatArgon2id, FormatArgon2i, FormatBcrypt,
		FormatWerkzeugPBKDF2SHA1, FormatWerkzeugPBKDF2SHA256, FormatWerkzeugPBKDF2SHA512, FormatWerkzeugScrypt,
		FormatDjangoPBKDF2SHA256, FormatDjangoPBKDF2SHA1, FormatDjangoArgon2, FormatDjangoBcryptSHA256, FormatDjangoBcrypt,
		FormatPasslibPBKDF2SHA1, FormatPasslibPBKDF2SHA256, FormatPasslibPBKDF2SHA512, FormatPasslibScrypt} {
		if !seen[f] {
			t.Errorf("no fixture for format %s", f)
		}
	}
}

// TestLegacyDefaultLimits: every fixture, the libraries' defaults
// included, passes DefaultLimits (issue 15: imports work out of the box).
func TestLegacyDefaultLimits(t *testing.T) {
	h := mustHasher(t)
	for _, f := range mustFixtures(t) {
		if _, err := h.Identify(f.Hash); err != nil {
			t.Errorf("%s %s: Identify err = %v", f.Lib, f.Hash, err)
		}
	}
}

// TestBcryptLongPassword: bcrypt uses the first 72 bytes, as in every
// implementation; the fixture's long password is 189 bytes.
func TestBcryptLongPassword(t *testing.T) {
	h := mustHasher(t)
	for _, f := range mustFixtures(t) {
		if f.Format != FormatBcrypt || len(f.Password) <= 72 {
			continue
		}
		if _, err := h.Verify(f.Password[:72], f.Hash); err != nil {
			t.Errorf("72-byte prefix: %v", err)
		}
		if _, err := h.Verify(f.Password[:71], f.Hash); !errors.Is(err, ErrMismatch) {
			t.Errorf("71-byte prefix: %v", err)
		}
	}
}
