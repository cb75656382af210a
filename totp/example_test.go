package totp_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/totp"
)

// Setting up TOTP: make a secret, show its URI as a QR code (and the
// base32 text for manual entry), then confirm with a first code.
func Example() {
	secret, err := totp.NewSecret()
	if err != nil {
		panic(err)
	}
	key := totp.Key{Issuer: "Gatehouse", AccountName: "alice@example.com", Secret: secret}
	if err := key.Validate(); err != nil {
		panic(err)
	}
	png, err := totp.QRCodePNG(key.URI(), 256)
	if err != nil {
		panic(err)
	}
	_ = png // serve as data:image/png;base64,... with Cache-Control: no-store
	_ = totp.FormatSecret(secret)

	// The user types the code their app shows.
	now := time.Now()
	typed := totp.Code(secret, now)
	step, err := totp.Verify(secret, typed, now, 0)
	fmt.Println(err == nil, step == totp.Step(now))
	// Output: true true
}

func ExampleVerify() {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	var lastUsed int64 // stored with the secret; 0 before the first use

	step, err := totp.Verify(secret, "050 471", now, lastUsed)
	fmt.Println(step, err)
	lastUsed = step

	// The same code again is refused, even within its 30 seconds.
	_, err = totp.Verify(secret, "050471", now.Add(5*time.Second), lastUsed)
	fmt.Println(errors.Is(err, totp.ErrReplayed), err)

	_, err = totp.Verify(secret, "12345", now, lastUsed)
	fmt.Println(err)
	// Output:
	// 37037037 <nil>
	// true totp: code already used
	// totp: malformed code
}

func ExampleCode() {
	secret := []byte("12345678901234567890")
	fmt.Println(totp.Code(secret, time.Unix(59, 0)))
	// Output: 287082
}

func ExampleKey_URI() {
	key := totp.Key{Issuer: "ACME Co", AccountName: "alice@example.com", Secret: []byte("12345678901234567890")}
	fmt.Println(key.URI())
	// Output: otpauth://totp/ACME%20Co:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30
}

func ExampleParseURI() {
	key, err := totp.ParseURI("otpauth://totp/Example:alice@google.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example")
	fmt.Println(key.Issuer, key.AccountName, string(key.Secret), err)
	_, err = totp.ParseURI("otpauth://totp/Example:alice@google.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8")
	fmt.Println(err)
	// Output:
	// Example alice@google.com 12345678901234567890 <nil>
	// totp: malformed key URI
}

func ExampleDecodeSecret() {
	secret, err := totp.DecodeSecret("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")
	fmt.Println(string(secret), err)
	// Output: 12345678901234567890 <nil>
}

// Recovery codes: show the codes once, store the hashes, and delete a
// hash when its code is used.
func ExampleMatchRecoveryCode() {
	codes, err := totp.NewRecoveryCodes(0) // 10 codes
	if err != nil {
		panic(err)
	}
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = totp.HashRecoveryCode(c)
	}

	typed := codes[3] // as the user types it back, in any case, with or without hyphens
	i, ok := totp.MatchRecoveryCode(typed, hashes)
	fmt.Println(len(codes), i, ok)
	hashes[i] = nil // spent

	_, ok = totp.MatchRecoveryCode(typed, hashes)
	fmt.Println(ok)
	// Output:
	// 10 3 true
	// false
}

func ExampleNormalizeRecoveryCode() {
	norm, err := totp.NormalizeRecoveryCode(" 7K3M A9XZ OQIR BCDE ")
	fmt.Println(norm, err)
	// Output: 7k3m-a9xz-0q1r-bcde <nil>
}
