package accessrule

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// CheckFile validates the rules file at path, for "gatehouse rules check
// FILE": it prints the default and every rule in order to w and returns the
// validation error, if any.
func CheckFile(w io.Writer, path string) error {
	rs, err := Load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: valid, %d rules, first match wins\n", path, len(rs.Rules))
	for i := range rs.Rules {
		fmt.Fprintf(w, "  rule %d: %s\n", i+1, rs.Describe(i))
	}
	fmt.Fprintf(w, "  otherwise: %s\n", rs.Default)
	return nil
}

// Explain evaluates an absolute URL against the rules, for "gatehouse rules
// test URL [--email E] [--method M]", and prints to w which rule decides
// and why. user is nil for a request without a session; clientIP may be
// the zero Addr (rules with networks then do not match). A URL that cannot
// be normalized is explained as denied.
func Explain(w io.Writer, rs *Rules, rawURL, method string, user *Identity, clientIP netip.Addr) Decision {
	if method == "" {
		method = "GET"
	}
	who := "not signed in"
	if user != nil {
		who = user.Email
		if len(user.Roles) > 0 {
			who += " (roles " + strings.Join(user.Roles, ",") + ")"
		}
	}
	fmt.Fprintf(w, "%s %s\n  user: %s\n", method, rawURL, who)
	t, err := ParseURL(rawURL)
	var d Decision
	if err != nil {
		d = refused(err)
	} else {
		fmt.Fprintf(w, "  normalized: host %s, path %s\n", t.Host, t.Path)
		d = rs.Decide(Request{Method: method, Host: t.Host, Path: t.Path, ClientIP: clientIP, User: user})
	}
	fmt.Fprintf(w, "  decided by: %s\n  reason: %s\n  policy: %s: %s\n", d.RuleName(), d.Reason, d.Policy, meaning(d.Policy))
	return d
}

func meaning(p Policy) string {
	switch p {
	case Public:
		return "let through without a sign-in"
	case SignedIn:
		return "a signed-in session is needed"
	case TwoFactor:
		return "a session signed in with two factors is needed"
	default:
		return "refused (403)"
	}
}
