package realip_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/realip"
)

func Example() {
	trusted, err := realip.ParseTrusted("10.0.0.0/8, ::1") // from TRUSTED_PROXIES
	if err != nil {
		panic(err) // refuse to start
	}
	resolver := realip.New(trusted)

	// Through the proxy at 10.0.0.1: the client wrote a spoofed entry,
	// the proxy appended the address it saw.
	r := httptest.NewRequest("GET", "/login", nil)
	r.RemoteAddr = "10.0.0.1:51234"
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 198.51.100.7")
	fmt.Println(resolver.ClientIP(r))

	// Directly from the internet: the header is ignored.
	r.RemoteAddr = "203.0.113.9:4000"
	fmt.Println(resolver.ClientIP(r))
	// Output:
	// 198.51.100.7
	// 203.0.113.9
}
