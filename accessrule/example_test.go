package accessrule_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
)

func Example() {
	rules, err := accessrule.Parse([]byte(`
default: deny
rules:
  - domains: [app.example.com]
    paths: [/public]
    policy: public
  - domains: [app.example.com]
    paths: [/admin]
    roles: [admin]
    policy: two_factor
  - domains: ["*.example.com"]
    policy: signed_in
`))
	if err != nil {
		panic(err) // refuse to start
	}
	alice := &accessrule.Identity{ID: "1", Email: "alice@example.com", Roles: []string{"admin"}}
	for _, req := range []accessrule.Request{
		{Method: "GET", Host: "app.example.com", Path: "/public/logo.png"},
		{Method: "GET", Host: "app.example.com", Path: "/public/../admin", User: alice},
		{Method: "GET", Host: "app.example.com", Path: "/administrator", User: alice},
		{Method: "GET", Host: "app.example.com", Path: "//admin", User: alice},
		{Method: "GET", Host: "example.com", Path: "/"},
	} {
		d := rules.Decide(req)
		fmt.Printf("%s %s: %s (%s)\n", req.Host, req.Path, d.Policy, d.RuleName())
	}
	// Output:
	// app.example.com /public/logo.png: public (rule 1)
	// app.example.com /public/../admin: two_factor (rule 2)
	// app.example.com /administrator: signed_in (rule 3)
	// app.example.com //admin: deny (malformed)
	// example.com /: deny (default)
}

func ExampleNormalizePath() {
	for _, p := range []string{"/a/./b/../c/", "/%61dmin", "/admin;x", "/admin%2Fx"} {
		n, err := accessrule.NormalizePath(p)
		fmt.Printf("%q %q %v\n", p, n, err)
	}
	// Output:
	// "/a/./b/../c/" "/a/c/" <nil>
	// "/%61dmin" "/admin" <nil>
	// "/admin;x" "" accessrule: malformed request: ';' in path
	// "/admin%2Fx" "" accessrule: malformed request: encoded '/' (%2F) in path
}

func ExampleParseURL() {
	t, err := accessrule.ParseURL("https://App.Example.com:443/public/%2e%2e/admin?tab=1")
	fmt.Println(t.Origin(), t.Path, t.RawQuery, err)
	_, err = accessrule.ParseURL("https://app.example.com@evil.example/")
	fmt.Println(err)
	// Output:
	// https://app.example.com /admin tab=1 <nil>
	// accessrule: malformed request: user information or escapes in the URL's host
}

func ExampleExplain() {
	rules, err := accessrule.Load("testdata/example.yaml")
	if err != nil {
		panic(err)
	}
	user := &accessrule.Identity{Email: "root@example.com", Roles: []string{"admin"}}
	accessrule.Explain(os.Stdout, rules, "https://app.example.com/admin/users", "GET", user, netip.MustParseAddr("10.0.0.7"))
	// Output:
	// GET https://app.example.com/admin/users
	//   user: root@example.com (roles admin)
	//   normalized: host app.example.com, path /admin/users
	//   decided by: rule 3
	//   reason: rule 3 matches (domains app.example.com; paths /admin; networks 10.0.0.0/8; roles admin -> two_factor)
	//   policy: two_factor: a session signed in with two factors is needed
}

func ExampleCheckCookieDomain() {
	fmt.Println(accessrule.CheckCookieDomain("example.com", "auth.example.com"))
	_, err := accessrule.CheckCookieDomain("co.uk", "auth.example.co.uk")
	fmt.Println(err)
	// Output:
	// example.com <nil>
	// accessrule: invalid COOKIE_DOMAIN: "co.uk" is a public suffix: the cookie would be sent to every site under it
}

func ExampleWatcher() {
	dir, err := os.MkdirTemp("", "rules")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := dir + "/rules.yaml"
	if err := os.WriteFile(path, []byte("default: signed_in\n"), 0o600); err != nil {
		panic(err)
	}
	w, err := accessrule.NewWatcher(path) // the server refuses to start on error
	if err != nil {
		panic(err)
	}
	// In the server: go w.Run(ctx, 0); every decision reads w.Rules().
	if err := os.WriteFile(path, []byte("default: allow-all\n"), 0o600); err != nil {
		panic(err)
	}
	_ = os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	_, err = w.Check()
	fmt.Println(w.Rules().Default, err != nil, w.Ready() != nil)
	// Output:
	// signed_in true true
}
