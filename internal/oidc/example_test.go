package oidc_test

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/oidc"
)

// A redirect URI must be https, or http on a loopback address; a public
// (native) client may also use a private-use scheme.
func ExampleValidRedirectURI() {
	fmt.Println(oidc.ValidRedirectURI("https://grafana.example.com/login/generic_oauth", false) == nil)
	fmt.Println(oidc.ValidRedirectURI("http://127.0.0.1:8250/oidc/callback", true) == nil)
	fmt.Println(oidc.ValidRedirectURI("http://grafana.example.com/login", false) == nil)
	fmt.Println(oidc.ValidRedirectURI("https://app.example.com/cb#x", false) == nil)
	// Output:
	// true
	// true
	// false
	// false
}

// The scopes a client may request, in the order the consent page shows them.
func ExampleAllScopes() {
	fmt.Println(oidc.AllScopes())
	// Output: [openid profile email groups offline_access]
}
