package onetime_test

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/onetime"
)

// A password-reset flow: store the selector and the purpose hash, mail
// the token, and check it when it comes back.
func Example() {
	type row struct {
		hash    []byte
		expires time.Time
	}
	db := map[string]row{} // stands in for a table keyed by selector
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	tok, err := onetime.New()
	if err != nil {
		panic(err)
	}
	db[tok.Selector()] = row{tok.PurposeHash(onetime.PurposeResetPassword), now.Add(30 * time.Minute)}
	link := "https://example.com/password/reset?token=" + tok.String()
	_ = link // mailed to the user

	// Later, the user presents the token.
	presented := tok.String()
	sel, ver, err := onetime.Parse(presented)
	if err != nil {
		fmt.Println("bad link")
		return
	}
	r, found := db[sel]
	ok := found &&
		onetime.CheckPurpose(onetime.PurposeResetPassword, ver, r.hash) &&
		now.Add(5*time.Minute).Before(r.expires)
	if ok {
		delete(db, sel) // single use: delete before acting
	}
	fmt.Println(ok)

	// The same token cannot be used as an email-verification token.
	fmt.Println(onetime.CheckPurpose(onetime.PurposeVerifyEmail, ver, r.hash))
	// Output:
	// true
	// false
}

func ExampleParse() {
	_, _, err := onetime.Parse("not-a-token")
	fmt.Println(err)

	sel, ver, err := onetime.Parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	fmt.Println(sel, len(ver), err)
	// Output:
	// onetime: malformed token
	// AAAAAAAAAAAAAAAAAAAAAA 32 <nil>
}

func ExampleCheck() {
	tok, err := onetime.New()
	if err != nil {
		panic(err)
	}
	stored := tok.VerifierHash()

	_, ver, _ := onetime.Parse(tok.String())
	fmt.Println(onetime.Check(ver, stored))
	// Output: true
}
