package accessrule

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// ErrCookieDomain is wrapped by CheckCookieDomain's errors.
var ErrCookieDomain = errors.New("accessrule: invalid COOKIE_DOMAIN")

// CheckCookieDomain validates COOKIE_DOMAIN against the base URL's host and
// returns it normalized (lower case, no leading or trailing dot). It
// refuses an IP address, a public suffix ("com", "co.uk", "github.io": the
// cookie would go to every site under it), and a domain the base URL's host
// is not equal to or under (the browser would refuse the cookie).
func CheckCookieDomain(domain, baseHost string) (string, error) {
	d := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), "."), ".")
	norm, port, err := splitHost(d)
	if err != nil || port != "" || norm != d {
		return "", fmt.Errorf("%w: %q is not a domain name", ErrCookieDomain, domain)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("%w: %q is an IP address, not a domain", ErrCookieDomain, domain)
	}
	if suffix, _ := publicsuffix.PublicSuffix(d); suffix == d {
		return "", fmt.Errorf("%w: %q is a public suffix: the cookie would be sent to every site under it", ErrCookieDomain, domain)
	}
	host, err := NormalizeHost(baseHost)
	if err != nil || !UnderDomain(host, d) {
		return "", fmt.Errorf("%w: the base URL's host %q is not %q or under it", ErrCookieDomain, baseHost, d)
	}
	return d, nil
}

// UnderDomain reports whether the normalized host is domain or one of its
// subdomains.
func UnderDomain(host, domain string) bool {
	return domain != "" && (host == domain || strings.HasSuffix(host, "."+domain))
}
