package totp

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
)

func TestKeyURI(t *testing.T) {
	tests := []struct {
		key  Key
		want string
	}{
		{
			Key{Issuer: "Gatehouse", AccountName: "alice@example.com", Secret: rfcSeed20},
			"otpauth://totp/Gatehouse:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30",
		},
		{
			Key{Issuer: "ACME Co", AccountName: "bob+x&y=z/?#", Secret: rfcSeed20},
			"otpauth://totp/ACME%20Co:bob%2Bx%26y%3Dz%2F%3F%23?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
		},
		{
			Key{AccountName: "carol", Secret: rfcSeed20},
			"otpauth://totp/carol?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30",
		},
		{
			Key{Issuer: "Zoë", AccountName: "δ", Secret: rfcSeed20},
			"otpauth://totp/Zo%C3%AB:%CE%B4?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Zo%C3%AB&algorithm=SHA1&digits=6&period=30",
		},
	}
	for _, tt := range tests {
		if err := tt.key.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", tt.key, err)
		}
		got := tt.key.URI()
		if got != tt.want {
			t.Errorf("URI() =\n%s\nwant\n%s", got, tt.want)
		}
		back, err := ParseURI(got)
		if err != nil {
			t.Errorf("ParseURI(%s): %v", got, err)
			continue
		}
		if !keysEqual(back, tt.key) {
			t.Errorf("ParseURI(URI()) = %+v, want %+v", back, tt.key)
		}
	}
}

func keysEqual(a, b Key) bool {
	return a.Issuer == b.Issuer && a.AccountName == b.AccountName && bytes.Equal(a.Secret, b.Secret)
}

func TestKeyValidate(t *testing.T) {
	s := rfcSeed20
	tests := []struct {
		name string
		key  Key
		err  error
	}{
		{"ok", Key{"Gatehouse", "alice", s}, nil},
		{"no issuer", Key{"", "alice", s}, nil},
		{"empty account", Key{"Gatehouse", "", s}, ErrURI},
		{"colon in issuer", Key{"Gate:house", "alice", s}, ErrURI},
		{"colon in account", Key{"Gatehouse", "a:lice", s}, ErrURI},
		{"control char", Key{"Gatehouse", "al\nice", s}, ErrURI},
		{"surrounding space", Key{"Gatehouse ", "alice", s}, ErrURI},
		{"bad utf8", Key{"Gatehouse", "al\xffice", s}, ErrURI},
		{"long issuer", Key{strings.Repeat("a", MaxIssuerLen+1), "alice", s}, ErrURI},
		{"long account", Key{"G", strings.Repeat("a", MaxAccountNameLen+1), s}, ErrURI},
		{"short secret", Key{"G", "alice", s[:MinSecretSize-1]}, ErrSecret},
		{"nil secret", Key{"G", "alice", nil}, ErrSecret},
	}
	for _, tt := range tests {
		if err := tt.key.Validate(); !errors.Is(err, tt.err) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestParseURI(t *testing.T) {
	const sec = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	want := Key{Issuer: "Example", AccountName: "alice@google.com", Secret: rfcSeed20}
	tests := []struct {
		name string
		uri  string
		want Key // zero: expect an error
	}{
		{"label and param", "otpauth://totp/Example:alice@google.com?secret=" + sec + "&issuer=Example", want},
		{"param order free", "otpauth://totp/Example:alice@google.com?period=30&digits=6&algorithm=SHA1&issuer=Example&secret=" + sec, want},
		{"label only issuer", "otpauth://totp/Example:alice@google.com?secret=" + sec, want},
		{"param only issuer", "otpauth://totp/alice@google.com?secret=" + sec + "&issuer=Example", want},
		{"encoded colon and space", "otpauth://totp/Example%3A%20alice@google.com?secret=" + sec, want},
		{"lower-case secret", "otpauth://totp/Example:alice@google.com?secret=" + strings.ToLower(sec), want},
		{"padded secret", "otpauth://totp/Example:alice@google.com?secret=" + sec + "%3D%3D", want},
		{"no issuer", "otpauth://totp/alice@google.com?secret=" + sec, Key{AccountName: "alice@google.com", Secret: rfcSeed20}},
		{"plus in issuer", "otpauth://totp/alice?secret=" + sec + "&issuer=ACME+Co", Key{Issuer: "ACME Co", AccountName: "alice", Secret: rfcSeed20}},

		{"empty", "", Key{}},
		{"hotp", "otpauth://hotp/Example:alice?secret=" + sec + "&counter=0", Key{}},
		{"upper scheme", "OTPAUTH://totp/Example:alice?secret=" + sec, Key{}},
		{"other scheme", "https://totp/Example:alice?secret=" + sec, Key{}},
		{"no query", "otpauth://totp/Example:alice", Key{}},
		{"no secret", "otpauth://totp/Example:alice?issuer=Example", Key{}},
		{"empty secret", "otpauth://totp/Example:alice?secret=", Key{}},
		{"short secret", "otpauth://totp/Example:alice?secret=GEZDGNBV", Key{}},
		{"bad secret", "otpauth://totp/Example:alice?secret=0000000000000000000000000000", Key{}},
		{"spaced secret", "otpauth://totp/Example:alice?secret=GEZD%20GNBVGY3TQOJQGEZDGNBVGY3TQOJQ", Key{}},
		{"two secrets", "otpauth://totp/Example:alice?secret=" + sec + "&secret=" + sec, Key{}},
		{"issuer mismatch", "otpauth://totp/Example:alice?secret=" + sec + "&issuer=Evil", Key{}},
		{"empty issuer param", "otpauth://totp/alice?secret=" + sec + "&issuer=", Key{}},
		{"empty label issuer", "otpauth://totp/:alice?secret=" + sec, Key{}},
		{"empty account", "otpauth://totp/Example:?secret=" + sec, Key{}},
		{"empty label", "otpauth://totp/?secret=" + sec, Key{}},
		{"two colons", "otpauth://totp/a:b:c?secret=" + sec, Key{}},
		{"sha256", "otpauth://totp/alice?secret=" + sec + "&algorithm=SHA256", Key{}},
		{"8 digits", "otpauth://totp/alice?secret=" + sec + "&digits=8", Key{}},
		{"60 s", "otpauth://totp/alice?secret=" + sec + "&period=60", Key{}},
		{"unknown param", "otpauth://totp/alice?secret=" + sec + "&image=https://x/y.png", Key{}},
		{"fragment", "otpauth://totp/alice?secret=" + sec + "#x", Key{}},
		{"slash in label", "otpauth://totp/a/b?secret=" + sec, Key{}},
		{"user info", "otpauth://u@totp/alice?secret=" + sec, Key{}},
		{"semicolon", "otpauth://totp/alice?secret=" + sec + ";issuer=x", Key{}},
		{"bad escape", "otpauth://totp/al%zzice?secret=" + sec, Key{}},
		{"bad query escape", "otpauth://totp/alice?secret=" + sec + "&issuer=%zz", Key{}},
		{"newline in account", "otpauth://totp/al%0Aice?secret=" + sec, Key{}},
		{"too long", "otpauth://totp/alice?secret=" + sec + "&issuer=" + strings.Repeat("a", MaxURILen), Key{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.uri)
			if tt.want.Secret == nil {
				if err == nil || !(errors.Is(err, ErrURI) || errors.Is(err, ErrSecret)) {
					t.Fatalf("ParseURI(%q) = %+v, %v; want ErrURI or ErrSecret", tt.uri, got, err)
				}
				return
			}
			if err != nil || !keysEqual(got, tt.want) {
				t.Fatalf("ParseURI(%q) = %+v, %v; want %+v", tt.uri, got, err, tt.want)
			}
		})
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add(Key{Issuer: "Gatehouse", AccountName: "alice@example.com", Secret: rfcSeed20}.URI())
	f.Add("otpauth://totp/Example%3A%20alice@google.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example")
	f.Add("otpauth://totp/alice?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq%3D%3D&issuer=ACME+Co&digits=6")
	f.Add("otpauth://totp/a:b:c?secret=&secret=x#y")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrURI) && !errors.Is(err, ErrSecret) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("ParseURI returned an invalid key %+v: %v", k, err)
		}
		u := k.URI()
		back, err := ParseURI(u)
		if err != nil || !keysEqual(back, k) {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, u, back, err)
		}
		if back.URI() != u {
			t.Fatalf("URI not stable: %q then %q", u, back.URI())
		}
	})
}

func TestQRCodePNG(t *testing.T) {
	uri := Key{Issuer: "Gatehouse", AccountName: "alice@example.com", Secret: rfcSeed20}.URI()
	for _, size := range []int{MinQRSize, 256, MaxQRSize} {
		b, err := QRCodePNG(uri, size)
		if err != nil {
			t.Fatalf("QRCodePNG(size=%d): %v", size, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("size %d: not a PNG: %v", size, err)
		}
		bounds := img.Bounds()
		if bounds.Dx() != bounds.Dy() || bounds.Dx() < size {
			t.Errorf("size %d: image is %v", size, bounds)
		}
	}
	// The longest URI accepted still renders, and not too large.
	long := "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=" + strings.Repeat("a", MaxURILen-63)
	long = long[:MaxURILen]
	if b, err := QRCodePNG(long, MinQRSize); err != nil {
		t.Errorf("QRCodePNG(%d-byte URI): %v", len(long), err)
	} else if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() > MaxQRSize {
		t.Errorf("long URI: %v, %v", img.Bounds(), err)
	}
	bad := []struct {
		uri  string
		size int
	}{
		{"", 256}, {uri, MinQRSize - 1}, {uri, MaxQRSize + 1}, {uri, -1}, {uri, 0},
		{strings.Repeat("a", MaxURILen+1), 256},
	}
	for _, tt := range bad {
		if _, err := QRCodePNG(tt.uri, tt.size); !errors.Is(err, ErrQRCode) {
			t.Errorf("QRCodePNG(len %d, size %d) = %v, want ErrQRCode", len(tt.uri), tt.size, err)
		}
	}
}
