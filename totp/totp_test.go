package totp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	rfcSeed20 = []byte("12345678901234567890")
	rfcSeed32 = []byte("12345678901234567890123456789012")
	rfcSeed64 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

// TestRFC4226 checks the HOTP values of RFC 4226 Appendix D.
func TestRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for count, w := range want {
		if got := hotp(rfcSeed20, uint64(count), defaultParams); got != w {
			t.Errorf("HOTP(count=%d) = %s, want %s", count, got, w)
		}
	}
}

// TestRFC6238 checks the TOTP values of RFC 6238 Appendix B (8 digits,
// SHA-1, SHA-256 and SHA-512) and that the exported 6-digit Code agrees
// with the SHA-1 ones.
func TestRFC6238(t *testing.T) {
	tests := []struct {
		unix               int64
		sha1, sha256, s512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, tt := range tests {
		tm := time.Unix(tt.unix, 0).UTC()
		for _, c := range []struct {
			seed []byte
			alg  algorithm
			want string
		}{{rfcSeed20, sha1Alg, tt.sha1}, {rfcSeed32, sha256Alg, tt.sha256}, {rfcSeed64, sha512Alg, tt.s512}} {
			p := params{digits: 8, alg: c.alg, period: 30}
			if got := hotp(c.seed, uint64(stepAt(tm, 30)), p); got != c.want {
				t.Errorf("TOTP(alg=%d, t=%d) = %s, want %s", c.alg, tt.unix, got, c.want)
			}
			// The same vector must verify at that time.
			if _, err := verify(c.seed, c.want[2:], tm, 0, params{digits: 6, alg: c.alg, period: 30}); err != nil {
				t.Errorf("verify 6-digit suffix of alg=%d t=%d: %v", c.alg, tt.unix, err)
			}
		}
		if got, want := Code(rfcSeed20, tm), tt.sha1[2:]; got != want {
			t.Errorf("Code(t=%d) = %s, want %s", tt.unix, got, want)
		}
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {1111111109, 37037036}, {-1, -1}, {-30, -1}, {-31, -2},
	}
	for _, tt := range tests {
		if got := Step(time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("Step(%d) = %d, want %d", tt.unix, got, tt.want)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"123456", "123456", nil},
		{"123 456", "123456", nil},
		{" 1 2 3 4 5 6 ", "123456", nil},
		{"\t123456\r\n", "123456", nil},
		{"000000", "000000", nil},
		{"", "", ErrMalformed},
		{"12345", "", ErrMalformed},
		{"1234567", "", ErrMalformed},
		{"12345a", "", ErrMalformed},
		{"123-456", "", ErrMalformed},
		{"١٢٣٤٥٦", "", ErrMalformed}, // Arabic-Indic digits are not ASCII
		{"１２３４５６", "", ErrMalformed}, // fullwidth digits
		{"+12345", "", ErrMalformed},
		{strings.Repeat(" ", 60) + "123456", "", ErrMalformed},
	}
	for _, tt := range tests {
		got, err := NormalizeCode(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := rfcSeed20
	now := time.Unix(1111111111, 0) // step 37037037
	cur := Step(now)
	at := func(d int64) string { return Code(secret, now.Add(time.Duration(d)*Period)) }
	tests := []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		wantErr  error
	}{
		{"current", at(0), 0, cur, nil},
		{"current with spaces", at(0)[:3] + " " + at(0)[3:], 0, cur, nil},
		{"one step behind", at(-1), 0, cur - 1, nil},
		{"one step ahead", at(1), 0, cur + 1, nil},
		{"two steps behind", at(-2), 0, 0, ErrInvalid},
		{"two steps ahead", at(2), 0, 0, ErrInvalid},
		{"wrong", wrongCode(at(-1), at(0), at(1)), 0, 0, ErrInvalid},
		{"malformed", "12345", 0, 0, ErrMalformed},
		{"letters", "abcdef", 0, 0, ErrMalformed},
		{"replay of current", at(0), cur, 0, ErrReplayed},
		{"older after newer", at(-1), cur, 0, ErrReplayed},
		{"current after ahead", at(0), cur + 1, 0, ErrReplayed},
		{"newer after older", at(0), cur - 1, cur, nil},
		{"ahead after current", at(1), cur, cur + 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := Verify(secret, tt.code, now, tt.last)
			if !errors.Is(err, tt.wantErr) || step != tt.wantStep {
				t.Errorf("Verify(%q, last=%d) = %d, %v; want %d, %v", tt.code, tt.last, step, err, tt.wantStep, tt.wantErr)
			}
		})
	}
}

// wrongCode returns a 6-digit code different from all of the given ones.
func wrongCode(avoid ...string) string {
	for i := 0; ; i++ {
		c := strings.Repeat(string(rune('0'+i%10)), 6)
		ok := true
		for _, a := range avoid {
			if a == c {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
}

// TestVerifyNeverTwice runs a login sequence with a stored last step: no
// code is accepted twice, wherever the clock is within the window.
func TestVerifyNeverTwice(t *testing.T) {
	secret := mustSecret(t)
	start := time.Unix(1700000000, 0)
	var last int64
	used := map[string]bool{}
	for i := 0; i < 20; i++ {
		now := start.Add(time.Duration(i) * 10 * time.Second)
		for d := -1; d <= 1; d++ {
			code := Code(secret, now.Add(time.Duration(d)*Period))
			step, err := Verify(secret, code, now, last)
			if err == nil {
				if used[code] {
					t.Fatalf("code %s accepted twice", code)
				}
				if step <= last {
					t.Fatalf("step went from %d to %d", last, step)
				}
				used[code] = true
				last = step
			} else if !errors.Is(err, ErrReplayed) {
				t.Fatalf("Verify at %v, offset %d: %v", now, d, err)
			}
		}
	}
}

func TestVerifySecretSize(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, n := range []int{0, 1, MinSecretSize - 1, MaxSecretSize + 1} {
		secret := bytes.Repeat([]byte{7}, n)
		if _, err := Verify(secret, Code(secret, now), now, 0); !errors.Is(err, ErrSecret) {
			t.Errorf("Verify with %d-byte secret: %v, want ErrSecret", n, err)
		}
	}
	for _, n := range []int{MinSecretSize, SecretSize, MaxSecretSize} {
		secret := bytes.Repeat([]byte{7}, n)
		if _, err := Verify(secret, Code(secret, now), now, 0); err != nil {
			t.Errorf("Verify with %d-byte secret: %v", n, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := mustSecret(t), mustSecret(t)
	if len(a) != SecretSize || len(b) != SecretSize {
		t.Fatalf("secret sizes %d, %d; want %d", len(a), len(b), SecretSize)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two secrets are equal")
	}
}

func TestSecretEncoding(t *testing.T) {
	secret := rfcSeed20
	const enc = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if got := EncodeSecret(secret); got != enc {
		t.Fatalf("EncodeSecret = %q, want %q", got, enc)
	}
	if got, want := FormatSecret(secret), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"; got != want {
		t.Fatalf("FormatSecret = %q, want %q", got, want)
	}
	if got, want := FormatSecret(bytes.Repeat([]byte{0}, 16)), "AAAA AAAA AAAA AAAA AAAA AAAA AA"; got != want {
		t.Fatalf("FormatSecret(16 bytes) = %q, want %q", got, want)
	}
	tests := []struct {
		in   string
		want []byte
		err  error
	}{
		{enc, secret, nil},
		{strings.ToLower(enc), secret, nil},
		{FormatSecret(secret), secret, nil},
		{enc + "====", nil, nil}, // padding is ignored (checked below)
		{"AAAAAAAAAAAAAAAAAAAAAAAAAA", bytes.Repeat([]byte{0}, 16), nil},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAB", nil, ErrSecret}, // non-canonical trailing bits
		{"", nil, ErrSecret},
		{"GEZDGNBV", nil, ErrSecret},                // 5 bytes: too short
		{enc[:len(enc)-1] + "1", nil, ErrSecret},    // '1' is not base32
		{enc[:10] + "-" + enc[10:], nil, ErrSecret}, // hyphens are not allowed
		{enc[:10] + "=" + enc[10:], nil, ErrSecret},
		{strings.Repeat("A", 104), nil, ErrSecret}, // 65 bytes
		{strings.Repeat(" ", 250) + enc, nil, ErrSecret},
	}
	for _, tt := range tests {
		got, err := DecodeSecret(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("DecodeSecret(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if tt.want == nil && err == nil {
			tt.want = secret
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("DecodeSecret(%q) = %x, want %x", tt.in, got, tt.want)
		}
	}
}

func mustSecret(t *testing.T) []byte {
	t.Helper()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func FuzzVerify(f *testing.F) {
	f.Add("123456", int64(1111111111), int64(0))
	f.Add(" 287 082 ", int64(59), int64(1))
	f.Add("١٢٣٤٥٦", int64(-1), int64(-5))
	f.Fuzz(func(t *testing.T, code string, unix int64, last int64) {
		now := time.Unix(unix, 0)
		step, err := Verify(rfcSeed20, code, now, last)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrReplayed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		cur := Step(now)
		if step <= last || step < cur-Skew || step > cur+Skew {
			t.Fatalf("accepted step %d (current %d, last %d)", step, cur, last)
		}
		norm, _ := NormalizeCode(code)
		if got := hotp(rfcSeed20, uint64(step), defaultParams); got != norm {
			t.Fatalf("accepted %q for step %d whose code is %s", code, step, got)
		}
	})
}

func FuzzDecodeSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("gezd gnbv gy3t qojq gezd gnbv gy3t qojq====")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAB")
	f.Fuzz(func(t *testing.T, s string) {
		secret, err := DecodeSecret(s)
		if err != nil {
			if !errors.Is(err, ErrSecret) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(secret) < MinSecretSize || len(secret) > MaxSecretSize {
			t.Fatalf("accepted %d-byte secret", len(secret))
		}
		again, err := DecodeSecret(EncodeSecret(secret))
		if err != nil || !bytes.Equal(again, secret) {
			t.Fatalf("round trip: %x, %v; want %x", again, err, secret)
		}
		if again, err := DecodeSecret(FormatSecret(secret)); err != nil || !bytes.Equal(again, secret) {
			t.Fatalf("formatted round trip: %x, %v; want %x", again, err, secret)
		}
	})
}
