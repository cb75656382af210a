package password_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/password"
)

func Example() {
	h, err := password.NewHasher() // argon2id, m=19456 KiB, t=2, p=1
	if err != nil {
		panic(err)
	}
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		panic(err)
	}
	fmt.Println(encoded[:31])

	needsRehash, err := h.Verify("correct horse battery staple", encoded)
	fmt.Println(needsRehash, err)

	_, err = h.Verify("Tr0ub4dor&3", encoded)
	fmt.Println(errors.Is(err, password.ErrMismatch))
	// Output:
	// $argon2id$v=19$m=19456,t=2,p=1$
	// false <nil>
	// true
}

// Upgrade on login: a hash imported from Django verifies, reports
// needsRehash, and is replaced with argon2id.
func ExampleHasher_Verify_upgrade() {
	h, _ := password.NewHasher()
	stored := "pbkdf2_sha256$1000$rawsalt$BIM6S6OAWa5CfM0PStU6oolL74xQKFmR491aDaZgE0w="
	pw := "ﬁsh ｆｕｌｌｗｉｄｔｈ Ⅻ"

	needsRehash, err := h.Verify(pw, stored)
	if err != nil {
		fmt.Println("login failed")
		return
	}
	if needsRehash {
		stored, _ = h.Hash(pw) // save stored to the user's record
	}
	f, _ := password.Identify(stored)
	fmt.Println(needsRehash, f)
	// Output: true argon2id
}

func ExampleIdentify() {
	for _, s := range []string{
		"$2b$12$GPH1.kmZxFKshMe1NkJu3uvTvQJ0ZInrIoBy0Hkr9XWr4QmqMomBS",
		"$2b$20$GPH1.kmZxFKshMe1NkJu3uvTvQJ0ZInrIoBy0Hkr9XWr4QmqMomBS",
		"md5$salt$0123",
	} {
		f, err := password.Identify(s)
		fmt.Printf("%q %v\n", f, err)
	}
	// Output:
	// "bcrypt" <nil>
	// "" password: hash parameters over limits: bcrypt cost 20 over limit 14
	// "" password: unsupported hash: unknown format
}

func ExamplePolicy_Check() {
	var p password.Policy // 8 to 256 characters, no common passwords
	for _, pw := range []string{"short", "Password1", "alice-2024!", "horse staple correct"} {
		err := p.Check(pw, "alice@example.com")
		var pe *password.PolicyError
		if errors.As(err, &pe) {
			fmt.Printf("%s: %s\n", pe.Rule, pe.Reason)
			continue
		}
		fmt.Println("ok")
	}
	// Output:
	// too_short: Use at least 8 characters.
	// common: This password is too common. Choose one that is harder to guess.
	// contains_email: Do not use your email address in your password.
	// ok
}

func ExamplePool() {
	h, _ := password.NewHasher()
	pool := password.NewPool(h,
		password.WithWorkers(2),             // default runtime.NumCPU()
		password.WithMaxWait(2*time.Second), // default
		password.WithWaitObserver(func(waited time.Duration, admitted bool) {
			// e.g. a Prometheus histogram and a counter of refusals
		}))

	login := func(w http.ResponseWriter, r *http.Request, stored string, found bool) {
		pw := r.PostFormValue("password")
		var err error
		if found {
			_, err = pool.Verify(r.Context(), pw, stored)
		} else {
			err = pool.VerifyDummy(r.Context(), pw) // same work: no account enumeration by timing
		}
		switch {
		case errors.Is(err, password.ErrBusy):
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "wrong email or password", http.StatusUnauthorized)
		}
	}
	_ = login

	encoded, err := pool.Hash(context.Background(), "horse staple correct")
	fmt.Println(len(encoded) > 0, err, pool.Workers(), pool.QueueLen())
	// Output: true <nil> 2 0
}
