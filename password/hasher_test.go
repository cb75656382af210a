package password

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fastParams keep tests quick; production uses DefaultParams.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h := mustHasher(t)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("Hash = %q, want default PHC string", enc)
	}
	if rehash, err := h.Verify("correct horse battery staple", enc); err != nil || rehash {
		t.Fatalf("Verify(right) = %v, %v; want false, nil", rehash, err)
	}
	if _, err := h.Verify("correct horse battery staplE", enc); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(wrong) = %v; want ErrMismatch", err)
	}
	if f, err := Identify(enc); err != nil || f != FormatArgon2id || f.Legacy() {
		t.Fatalf("Identify = %v, %v", f, err)
	}
	enc2, _ := h.Hash("correct horse battery staple")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestNormalization(t *testing.T) {
	h := mustHasher(t, WithParams(fastParams))
	tests := []struct {
		name, hashed, tried string
		ok                  bool
	}{
		{"composed vs decomposed", "caf\u00e9-caf\u00e9", "cafe\u0301-cafe\u0301", true},
		{"ligature and fullwidth", "\ufb01sh\uff11\uff12\uff13", "fish123", true},
		{"no case folding", "Password-Z", "password-z", false},
		{"no trimming", "secret words", "secret words ", false},
		{"no truncation", strings.Repeat("a", 1000) + "b", strings.Repeat("a", 1000) + "c", false},
		{"no truncation at 72", strings.Repeat("x", 72) + "1", strings.Repeat("x", 72), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := h.Hash(tt.hashed)
			if err != nil {
				t.Fatal(err)
			}
			rehash, err := h.Verify(tt.tried, enc)
			if tt.ok && (err != nil || rehash) {
				t.Fatalf("Verify = %v, %v; want false, nil", rehash, err)
			}
			if !tt.ok && !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify = %v; want ErrMismatch", err)
			}
		})
	}
}

func TestRawFallbackNeedsRehash(t *testing.T) {
	// A $argon2id$ made elsewhere from the raw (non-NFKC) password.
	h := mustHasher(t, WithParams(fastParams))
	pw := "\ufb01sh"
	salt := []byte("0123456789abcdef")
	key := argon2IDForTest([]byte(pw), salt, fastParams)
	enc := encodeArgon2id(h.Params(), salt, key)
	if rehash, err := h.Verify(pw, enc); err != nil || !rehash {
		t.Fatalf("Verify(raw) = %v, %v; want true, nil", rehash, err)
	}
	if _, err := h.Verify("fish", enc); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(normalized form) = %v; want ErrMismatch", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	old := mustHasher(t, WithParams(fastParams))
	enc, _ := old.Hash("a password")
	tests := []struct {
		name   string
		p      Params
		rehash bool
	}{
		{"same", fastParams, false},
		{"memory", Params{Memory: 128, Time: 1, Threads: 1}, true},
		{"time", Params{Memory: 64, Time: 2, Threads: 1}, true},
		{"threads", Params{Memory: 64, Time: 1, Threads: 2}, true},
		{"key length", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 64}, true},
		{"salt length", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHasher(t, WithParams(tt.p))
			if rehash, err := h.Verify("a password", enc); err != nil || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v; want %v, nil", rehash, err, tt.rehash)
			}
		})
	}
}

func TestPasswordBounds(t *testing.T) {
	h := mustHasher(t, WithParams(fastParams))
	enc, _ := h.Hash("x")
	long := strings.Repeat("a", MaxPasswordBytes+1)
	if _, err := h.Hash(""); !errors.Is(err, ErrEmptyPassword) {
		t.Errorf("Hash(\"\") = %v", err)
	}
	if _, err := h.Hash(long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash(long) = %v", err)
	}
	if _, err := h.Verify(long, enc); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify(long) = %v", err)
	}
	if err := h.VerifyDummy(long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("VerifyDummy(long) = %v", err)
	}
	if _, err := h.Hash(long[1:]); err != nil {
		t.Errorf("Hash(MaxPasswordBytes) = %v", err)
	}
	if _, err := h.Verify("", enc); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(\"\") = %v", err)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := mustHasher(t, WithParams(fastParams))
	for _, pw := range []string{"", "a password", "\ufb01sh"} {
		if err := h.VerifyDummy(pw); !errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyDummy(%q) = %v; want ErrMismatch", pw, err)
		}
	}
	d := h.dummy()
	p := h.Params()
	if d.kdf != kdfArgon2id || d.memory != p.Memory || d.time != p.Time || d.threads != p.Threads ||
		len(d.key) != int(p.KeyLen) || len(d.salt) != int(p.SaltLen) || !d.tryNFKC {
		t.Fatalf("dummy hash %+v does not match current params %+v", d, p)
	}
}

func TestNewHasherInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{"memory below 8p", []Option{WithParams(Params{Memory: 8, Threads: 2})}},
		{"salt too short", []Option{WithParams(Params{SaltLen: 8})}},
		{"salt too long", []Option{WithParams(Params{SaltLen: 65})}},
		{"key too short", []Option{WithParams(Params{KeyLen: 8})}},
		{"key too long", []Option{WithParams(Params{KeyLen: 65})}},
		{"memory over limit", []Option{WithParams(Params{Memory: 1 << 20})}},
		{"time over limit", []Option{WithParams(Params{Time: 11})}},
		{"threads over limit", []Option{WithParams(Params{Threads: 9})}},
		{"bcrypt limit", []Option{WithLimits(Limits{MaxBcryptCost: 40})}},
		{"negative pbkdf2 limit", []Option{WithLimits(Limits{MaxPBKDF2Iterations: -1})}},
		{"negative scrypt limit", []Option{WithLimits(Limits{MaxScryptMemory: -1})}},
		{"werkzeug iterations", []Option{WithWerkzeugDefaultIterations(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHasher(tt.opts...); !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("NewHasher = %v; want ErrInvalidParams", err)
			}
		})
	}
	h := mustHasher(t, WithLimits(Limits{MaxBcryptCost: 10}))
	if got := h.Limits(); got.MaxBcryptCost != 10 || got.MaxPBKDF2Iterations != DefaultLimits().MaxPBKDF2Iterations {
		t.Fatalf("Limits() = %+v; zero fields should take defaults", got)
	}
}

var (
	b64     = base64.RawStdEncoding.EncodeToString
	salt16  = b64([]byte("saltsaltsaltsalt"))
	key32   = b64([]byte("keykeykeykeykeykeykeykeykeykeyke"))
	bcSalt  = "$04$VFobyc2lvHZEBpfuo5P3ae2cOEdl/k0HX.QMJ8GFd7qTlbkJBBlCi"
	hex32   = strings.Repeat("ab", 32)
	hex64   = strings.Repeat("ab", 64)
	djB64   = base64.StdEncoding.EncodeToString([]byte("keykeykeykeykeykeykeykeykeykeyke"))
	ab64s   = ab64.EncodeToString([]byte("saltsaltsaltsalt"))
	ab64k32 = ab64.EncodeToString([]byte("keykeykeykeykeykeykeykeykeykeyke"))
)

func argon(params string) string { return "$argon2id$v=19$" + params + "$" + salt16 + "$" + key32 }

// TestIdentify covers every parser with valid, malformed, unsupported and
// over-limit input. No hashing work is done by Identify.
func TestIdentify(t *testing.T) {
	h := mustHasher(t)
	tests := []struct {
		in   string
		want Format
		err  error
	}{
		// argon2 PHC
		{argon("m=19456,t=2,p=1"), FormatArgon2id, nil},
		{strings.Replace(argon("m=19456,t=2,p=1"), "argon2id", "argon2i", 1), FormatArgon2i, nil},
		{strings.Replace(argon("m=19456,t=2,p=1"), "argon2id", "argon2d", 1), "", ErrUnsupportedHash},
		{argon("m=65536,t=10,p=4"), FormatArgon2id, nil},
		{argon("m=65536,t=3,p=4"), FormatArgon2id, nil},   // argon2-cffi 21.2+ default
		{argon("m=102400,t=2,p=8"), FormatArgon2id, nil},  // argon2-cffi 21.1, passlib default
		{argon("m=131072,t=10,p=8"), FormatArgon2id, nil}, // at every cap
		{argon("m=131073,t=2,p=1"), "", ErrTooExpensive},
		{argon("m=19456,t=11,p=1"), "", ErrTooExpensive},
		{argon("m=19456,t=2,p=9"), "", ErrTooExpensive},
		{argon("m=4294967295,t=4294967295,p=255"), "", ErrTooExpensive},
		{argon("m=99999999999999999999999999999,t=2,p=1"), "", ErrTooExpensive},
		{argon("m=-1,t=2,p=1"), "", ErrMalformedHash},
		{argon("m=+5,t=2,p=1"), "", ErrMalformedHash},
		{argon("m=019456,t=2,p=1"), "", ErrMalformedHash},
		{argon("m=,t=2,p=1"), "", ErrMalformedHash},
		{argon("m=19456,t=0,p=1"), "", ErrMalformedHash},
		{argon("m=19456,t=2,p=0"), "", ErrMalformedHash},
		{argon("m=7,t=2,p=1"), "", ErrMalformedHash},
		{argon("t=2,m=19456,p=1"), "", ErrMalformedHash},
		{argon("m=19456,t=2"), "", ErrMalformedHash},
		{argon("m=19456,t=2,p=1,keyid=x"), "", ErrMalformedHash},
		{strings.Replace(argon("m=19456,t=2,p=1"), "v=19", "v=16", 1), "", ErrUnsupportedHash},
		{strings.Replace(argon("m=19456,t=2,p=1"), "v=19", "v=20", 1), "", ErrMalformedHash},
		{"$argon2id$m=19456,t=2,p=1$" + salt16 + "$" + key32, "", ErrUnsupportedHash},
		{argon("m=19456,t=2,p=1") + "$extra", "", ErrMalformedHash},
		{strings.TrimSuffix(argon("m=19456,t=2,p=1"), "$"+key32), "", ErrMalformedHash},
		{argon("m=19456,t=2,p=1") + "==", "", ErrMalformedHash},
		{argon("m=19456,t=2,p=1") + "!", "", ErrMalformedHash},
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key32, "", ErrMalformedHash},                             // 4-byte salt
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + b64([]byte("8bytes!!")), "", ErrUnsupportedHash}, // short key
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + strings.Repeat("A", 500), "", ErrMalformedHash},
		// bcrypt
		{"$2b" + bcSalt, FormatBcrypt, nil},
		{"$2a" + bcSalt, FormatBcrypt, nil},
		{"$2y" + bcSalt, FormatBcrypt, nil},
		{"$2x" + bcSalt, "", ErrUnsupportedHash},
		{"$2$" + bcSalt, "", ErrUnsupportedHash},
		{"$2b$14" + bcSalt[3:], FormatBcrypt, nil},
		{"$2b$15" + bcSalt[3:], "", ErrTooExpensive},
		{"$2b$31" + bcSalt[3:], "", ErrTooExpensive},
		{"$2b$32" + bcSalt[3:], "", ErrMalformedHash},
		{"$2b$03" + bcSalt[3:], "", ErrMalformedHash},
		{"$2b$-1" + bcSalt[3:], "", ErrMalformedHash},
		{"$2b$4$" + bcSalt[3:], "", ErrMalformedHash},
		{("$2b" + bcSalt)[:59], "", ErrMalformedHash},
		{"$2b" + bcSalt + "x", "", ErrMalformedHash},
		{"$2b" + bcSalt[:50] + "!" + bcSalt[51:], "", ErrMalformedHash},
		// Werkzeug
		{"pbkdf2:sha256:600000$abcdefgh$" + hex32, FormatWerkzeugPBKDF2SHA256, nil},
		{"pbkdf2:sha256$abcdefgh$" + hex32, FormatWerkzeugPBKDF2SHA256, nil},
		{"pbkdf2:sha512:1000$abcdefgh$" + hex64, FormatWerkzeugPBKDF2SHA512, nil},
		{"pbkdf2:sha1:1000$abcdefgh$" + hex32[:40], FormatWerkzeugPBKDF2SHA1, nil},
		{"pbkdf2:sha256:2000000$s$" + hex32, FormatWerkzeugPBKDF2SHA256, nil},
		{"pbkdf2:sha256:2000001$s$" + hex32, "", ErrTooExpensive},
		{"pbkdf2:sha256:99999999999999999999999$s$" + hex32, "", ErrTooExpensive},
		{"pbkdf2:sha256:0$s$" + hex32, "", ErrMalformedHash},
		{"pbkdf2:sha256:-5$s$" + hex32, "", ErrMalformedHash},
		{"pbkdf2:sha256:$s$" + hex32, "", ErrMalformedHash},
		{"pbkdf2:sha256:1:2$s$" + hex32, "", ErrMalformedHash},
		{"pbkdf2:md5:1000$s$" + hex32[:32], "", ErrUnsupportedHash},
		{"pbkdf2:sha256:1000$$" + hex32, "", ErrMalformedHash},
		{"pbkdf2:sha256:1000$s$" + hex32[:62], "", ErrMalformedHash},
		{"pbkdf2:sha256:1000$s$" + strings.ToUpper(hex32), "", ErrMalformedHash},
		{"pbkdf2:sha256:1000$s$" + hex32 + "$x", "", ErrMalformedHash},
		{"pbkdf2:sha256:1000$s", "", ErrMalformedHash},
		{"pbkdf2:sha256:1000$" + strings.Repeat("s", 300) + "$" + hex32, "", ErrMalformedHash},
		{"scrypt:32768:8:1$salt$" + hex64, FormatWerkzeugScrypt, nil},
		{"scrypt$salt$" + hex64, FormatWerkzeugScrypt, nil},
		{"scrypt:65536:8:1$salt$" + hex64, FormatWerkzeugScrypt, nil},
		{"scrypt:131072:8:1$salt$" + hex64, "", ErrTooExpensive},
		{"scrypt:1024:8:5$salt$" + hex64, "", ErrTooExpensive},
		{"scrypt:1024:9999999999999:1$salt$" + hex64, "", ErrTooExpensive},
		{"scrypt:1000:8:1$salt$" + hex64, "", ErrMalformedHash},
		{"scrypt:1:8:1$salt$" + hex64, "", ErrMalformedHash},
		{"scrypt:1024:0:1$salt$" + hex64, "", ErrMalformedHash},
		{"scrypt:1024:8$salt$" + hex64, "", ErrMalformedHash},
		{"scrypt:1024:8:1$salt$" + hex32, "", ErrMalformedHash},
		// Django
		{"pbkdf2_sha256$260000$salt$" + djB64, FormatDjangoPBKDF2SHA256, nil},
		{"pbkdf2_sha1$260000$salt$" + base64.StdEncoding.EncodeToString(make([]byte, 20)), FormatDjangoPBKDF2SHA1, nil},
		{"pbkdf2_sha1$260000$salt$" + djB64, "", ErrMalformedHash},
		{"pbkdf2_sha256$1500000$salt$" + djB64, FormatDjangoPBKDF2SHA256, nil}, // Django 6.1
		{"pbkdf2_sha256$1800000$salt$" + djB64, FormatDjangoPBKDF2SHA256, nil}, // Django 6.2
		{"pbkdf2_sha256$2000001$salt$" + djB64, "", ErrTooExpensive},
		{"pbkdf2_sha256$abc$salt$" + djB64, "", ErrMalformedHash},
		{"pbkdf2_sha256$$salt$" + djB64, "", ErrMalformedHash},
		{"pbkdf2_sha256$1000$$" + djB64, "", ErrMalformedHash},
		{"pbkdf2_sha256$1000$salt$" + strings.TrimRight(djB64, "="), "", ErrMalformedHash},
		{"pbkdf2_sha256$1000$salt", "", ErrMalformedHash},
		{"argon2" + argon("m=19456,t=2,p=1"), FormatDjangoArgon2, nil},
		{"argon2" + argon("m=102400,t=2,p=8"), FormatDjangoArgon2, nil}, // Django's default
		{"argon2" + argon("m=262144,t=2,p=8"), "", ErrTooExpensive},
		{"argon2$argon2d$v=19$m=19456,t=2,p=1$" + salt16 + "$" + key32, "", ErrUnsupportedHash},
		{"argon2$" + salt16, "", ErrUnsupportedHash},
		{"bcrypt_sha256$$2b" + bcSalt, FormatDjangoBcryptSHA256, nil},
		{"bcrypt$$2b" + bcSalt, FormatDjangoBcrypt, nil},
		{"bcrypt$$2b$20" + bcSalt[3:], "", ErrTooExpensive},
		{"bcrypt$2b" + bcSalt, "", ErrMalformedHash},
		// passlib
		{"$pbkdf2-sha256$29000$" + ab64s + "$" + ab64k32, FormatPasslibPBKDF2SHA256, nil},
		{"$pbkdf2-sha512$25000$" + ab64s + "$" + ab64.EncodeToString(make([]byte, 64)), FormatPasslibPBKDF2SHA512, nil},
		{"$pbkdf2$131000$" + ab64s + "$" + ab64.EncodeToString(make([]byte, 20)), FormatPasslibPBKDF2SHA1, nil},
		{"$pbkdf2-sha256$29000$$" + ab64k32, FormatPasslibPBKDF2SHA256, nil},
		{"$pbkdf2-sha256$29000$a+b$" + ab64k32, "", ErrMalformedHash},
		{"$pbkdf2-sha256$29000$" + ab64s + "$" + ab64k32[:40], "", ErrMalformedHash},
		{"$pbkdf2-sha256$3000000$" + ab64s + "$" + ab64k32, "", ErrTooExpensive},
		{"$pbkdf2-sha256$-1$" + ab64s + "$" + ab64k32, "", ErrMalformedHash},
		{"$pbkdf2-md5$1000$" + ab64s + "$" + ab64k32, "", ErrUnsupportedHash},
		{"$pbkdf2-sha256$29000$" + ab64s, "", ErrMalformedHash},
		{"$scrypt$ln=16,r=8,p=1$" + salt16 + "$" + key32, FormatPasslibScrypt, nil},
		{"$scrypt$ln=17,r=8,p=1$" + salt16 + "$" + key32, "", ErrTooExpensive},
		{"$scrypt$ln=99,r=8,p=1$" + salt16 + "$" + key32, "", ErrTooExpensive},
		{"$scrypt$ln=10,r=8,p=9$" + salt16 + "$" + key32, "", ErrTooExpensive},
		{"$scrypt$ln=0,r=8,p=1$" + salt16 + "$" + key32, "", ErrMalformedHash},
		{"$scrypt$r=8,ln=10,p=1$" + salt16 + "$" + key32, "", ErrMalformedHash},
		{"$scrypt$ln=10,r=8,p=1$" + salt16 + "$" + key32 + "=", "", ErrMalformedHash},
		{"$scrypt$ln=10,r=8,p=1$" + salt16 + "$" + b64(make([]byte, 8)), "", ErrMalformedHash},
		// unknown and bounds
		{"", "", ErrMalformedHash},
		{strings.Repeat("$", 2000), "", ErrMalformedHash},
		{"plain$$secret", "", ErrUnsupportedHash},
		{"md5$salt$abc", "", ErrUnsupportedHash},
		{"sha1$salt$abc", "", ErrUnsupportedHash},
		{"$1$saltsalt$abc", "", ErrUnsupportedHash},
		{"$6$rounds=5000$salt$abc", "", ErrUnsupportedHash},
		{"{SSHA}abc", "", ErrUnsupportedHash},
		{"correct horse battery staple", "", ErrUnsupportedHash},
	}
	for _, tt := range tests {
		got, err := h.Identify(tt.in)
		if tt.err == nil && (err != nil || got != tt.want) {
			t.Errorf("Identify(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if tt.err != nil && (!errors.Is(err, tt.err) || got != "") {
			t.Errorf("Identify(%q) = %q, %v; want %v", tt.in, got, err, tt.err)
		}
		// Verify must fail the same way without doing work.
		if tt.err != nil {
			if _, verr := h.Verify("pw", tt.in); !errors.Is(verr, tt.err) {
				t.Errorf("Verify(%q) = %v; want %v", tt.in, verr, tt.err)
			}
		}
	}
}

// TestErrorsNamed checks the package's error prefix convention.
func TestErrorsNamed(t *testing.T) {
	for _, err := range []error{ErrMismatch, ErrMalformedHash, ErrUnsupportedHash, ErrTooExpensive,
		ErrPasswordTooLong, ErrEmptyPassword, ErrInvalidParams, ErrBusy, ErrPolicy} {
		if !strings.HasPrefix(err.Error(), "password: ") {
			t.Errorf("%q lacks the package prefix", err)
		}
	}
}

// TestConstantTimeCompare guards against a refactor that compares derived
// keys with ==, bytes.Equal or similar instead of crypto/subtle.
func TestConstantTimeCompare(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var sawSubtle bool
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		for _, bad := range []string{"bytes.Equal", "reflect.DeepEqual", "string(key) ==", "hmac.Equal(key"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
		sawSubtle = sawSubtle || strings.Contains(s, "subtle.ConstantTimeCompare(key, p.key)")
	}
	if !sawSubtle {
		t.Error("derived keys are not compared with subtle.ConstantTimeCompare")
	}
}
