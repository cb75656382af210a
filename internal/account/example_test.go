package account_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/password"
)

// The app's wiring: a database, the argon2id worker pool and the policy.
func Example() {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite::memory:", db.WithMigrate())
	if err != nil {
		panic(err)
	}
	defer store.Close()
	h, err := password.NewHasher()
	if err != nil {
		panic(err)
	}
	svc := account.NewService(account.Config{
		Users:  store.Users(),
		Audit:  store.Audit(),
		Hasher: password.NewPool(h),
		Policy: password.Policy{},
	})
	m := account.Meta{IP: "192.0.2.1", UserAgent: "example/1.0"}

	reg, err := svc.Register(ctx, account.RegisterInput{Email: "Ada@example.com", Password: "analytical engine 1843"}, m)
	fmt.Println(reg.User.Email, reg.User.Roles, reg.Existing, err)

	// Registering the same address again looks the same to the requester.
	reg, err = svc.Register(ctx, account.RegisterInput{Email: "ada@EXAMPLE.com", Password: "something else entirely"}, m)
	fmt.Println(reg.Existing, err)

	_, err = svc.Authenticate(ctx, "ada@example.com", "wrong guess here", m)
	fmt.Println(errors.Is(err, account.ErrInvalidCredentials))

	u, err := svc.Authenticate(ctx, "ADA@example.com", "analytical engine 1843", m)
	fmt.Println(u.Email, err)

	_, err = svc.Register(ctx, account.RegisterInput{Email: "bob@example.com", Password: "password"}, m)
	var verr *account.ValidationError
	if errors.As(err, &verr) {
		fmt.Println(verr.Fields[account.FieldPassword])
	}
	// Output:
	// Ada@example.com [user] false <nil>
	// true <nil>
	// true
	// Ada@example.com <nil>
	// This password is too common. Choose one that is harder to guess.
}

// A passkey ceremony in two steps: the options go to the browser's
// navigator.credentials, its answer comes back to the finish step, bound to
// the same session.
func ExamplePasskeys() {
	d, _ := db.Open(context.Background(), "sqlite::memory:", db.WithMigrate())
	defer d.Close()
	h, _ := password.NewHasher()
	accounts := account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(),
		Hasher: password.NewPool(h), Policy: password.Policy{}})
	base, _ := url.Parse("https://login.example.com")
	keys, err := account.NewPasskeys(account.PasskeyConfig{Accounts: accounts, Store: d.Passkeys(), BaseURL: base})
	if err != nil {
		panic(err)
	}
	options, _ := keys.BeginLogin(context.Background(), []byte("a secret kept in the session"))
	fmt.Println(strings.Contains(string(options), `"rpId":"login.example.com"`))
	// The browser's answer; here one that is not accepted.
	_, _, err = keys.FinishLogin(context.Background(), []byte("a secret kept in the session"), []byte(`{}`), account.Meta{})
	fmt.Println(errors.Is(err, account.ErrPasskeyRefused))
	// Output:
	// true
	// true
}
