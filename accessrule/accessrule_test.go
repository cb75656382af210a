package accessrule_test

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/accessrule"
)

func exampleRules(t testing.TB) *accessrule.Rules {
	t.Helper()
	rs, err := accessrule.Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"empty":                 "",
		"no default":            "rules: []",
		"unknown default":       "default: allow",
		"unknown top key":       "default: deny\nrulez: []",
		"unknown rule key":      "default: deny\nrules:\n  - domains: [a.com]\n    policy: deny\n    path: [/x]",
		"no policy":             "default: deny\nrules:\n  - domains: [a.com]",
		"unknown policy":        "default: deny\nrules:\n  - domains: [a.com]\n    policy: bypass",
		"no domains":            "default: deny\nrules:\n  - policy: public",
		"domain with scheme":    "default: deny\nrules:\n  - domains: [https://a.com]\n    policy: public",
		"domain with port":      "default: deny\nrules:\n  - domains: [a.com:443]\n    policy: public",
		"domain with path":      "default: deny\nrules:\n  - domains: [a.com/x]\n    policy: public",
		"inner wildcard":        "default: deny\nrules:\n  - domains: [\"a.*.com\"]\n    policy: public",
		"bare wildcard":         "default: deny\nrules:\n  - domains: [\"*\"]\n    policy: public",
		"wildcard ip":           "default: deny\nrules:\n  - domains: [\"*.10.0.0.1\"]\n    policy: public",
		"relative path":         "default: deny\nrules:\n  - domains: [a.com]\n    paths: [admin]\n    policy: deny",
		"unnormalized path":     "default: deny\nrules:\n  - domains: [a.com]\n    paths: [/a/../admin]\n    policy: deny",
		"encoded path":          "default: deny\nrules:\n  - domains: [a.com]\n    paths: [/%61dmin]\n    policy: deny",
		"bad regex":             "default: deny\nrules:\n  - domains: [a.com]\n    paths: [\"^/(\"]\n    policy: deny",
		"backreference":         "default: deny\nrules:\n  - domains: [a.com]\n    paths: [\"^/(a)\\\\1\"]\n    policy: deny",
		"long regex":            "default: deny\nrules:\n  - domains: [a.com]\n    paths: [\"^" + strings.Repeat("a", 1100) + "\"]\n    policy: deny",
		"lower-case method":     "default: deny\nrules:\n  - domains: [a.com]\n    methods: [get]\n    policy: deny",
		"bad method":            "default: deny\nrules:\n  - domains: [a.com]\n    methods: [\"GE T\"]\n    policy: deny",
		"bad network":           "default: deny\nrules:\n  - domains: [a.com]\n    networks: [10.0.0.0/33]\n    policy: deny",
		"host bits":             "default: deny\nrules:\n  - domains: [a.com]\n    networks: [10.0.0.1/8]\n    policy: deny",
		"empty role":            "default: deny\nrules:\n  - domains: [a.com]\n    roles: [\"\"]\n    policy: deny",
		"public with roles":     "default: deny\nrules:\n  - domains: [a.com]\n    roles: [admin]\n    policy: public",
		"public with users":     "default: deny\nrules:\n  - domains: [a.com]\n    users: [a@a.com]\n    policy: public",
		"two documents":         "default: deny\n---\ndefault: public",
		"not a map":             "- a\n- b",
		"wrong type":            "default: [deny]",
		"rules not a list":      "default: deny\nrules: {a: b}",
		"control char in user":  "default: deny\nrules:\n  - domains: [a.com]\n    users: [\"a\\x01@a.com\"]\n    policy: deny",
		"too large":             "default: deny\n#" + strings.Repeat("x", accessrule.MaxFileBytes),
		"too many list entries": "default: deny\nrules:\n  - domains: [" + strings.Repeat("a.com,", accessrule.MaxListLen+1) + "]\n    policy: deny",
		"alias bomb":            "default: deny\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			rs, err := accessrule.Parse([]byte(in))
			if !errors.Is(err, accessrule.ErrInvalid) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalid", rs, err)
			}
		})
	}
}

func TestParseErrorNamesRule(t *testing.T) {
	_, err := accessrule.Parse([]byte("default: deny\nrules:\n  - domains: [a.com]\n    policy: public\n  - domains: [a.com]\n    policy: nope\n"))
	if err == nil || !strings.Contains(err.Error(), "rule 2") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error %v does not name rule 2 and the bad policy", err)
	}
}

func TestDecide(t *testing.T) {
	rs := exampleRules(t)
	admin := &accessrule.Identity{ID: "u1", Email: "root@example.com", Roles: []string{"admin"}}
	ops := &accessrule.Identity{ID: "u2", Email: "OPS@example.com"}
	bob := &accessrule.Identity{ID: "u3", Email: "bob@example.com", Roles: []string{"user"}}
	inside := netip.MustParseAddr("10.1.2.3")
	outside := netip.MustParseAddr("203.0.113.5")
	cases := []struct {
		name   string
		req    accessrule.Request
		policy accessrule.Policy
		rule   int
	}{
		{"public host", accessrule.Request{Method: "POST", Host: "public.example.com", Path: "/x"}, accessrule.Public, 0},
		{"public host any case and port", accessrule.Request{Method: "get", Host: "PUBLIC.example.com:8443", Path: "/"}, accessrule.Public, 0},
		{"public prefix", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/public"}, accessrule.Public, 1},
		{"public prefix subpath", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/public/a/b"}, accessrule.Public, 1},
		{"not a segment boundary", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/publicity", User: bob}, accessrule.SignedIn, 5},
		{"public regex", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/static/app.css"}, accessrule.Public, 1},
		{"regex is anchored at the end too", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/static/app.css/x", User: bob}, accessrule.SignedIn, 5},
		{"public needs GET", accessrule.Request{Method: "POST", Host: "app.example.com", Path: "/public", User: bob}, accessrule.SignedIn, 5},
		{"admin anonymous inside", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/admin", ClientIP: inside}, accessrule.TwoFactor, 2},
		{"admin role inside", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/admin/users", ClientIP: inside, User: admin}, accessrule.TwoFactor, 2},
		{"admin role outside", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/admin", ClientIP: outside, User: admin}, accessrule.Deny, 3},
		{"admin no ip", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/admin", User: admin}, accessrule.Deny, 3},
		{"admin wrong role", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/admin", ClientIP: inside, User: bob}, accessrule.Deny, 3},
		{"administrator is not admin", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/administrator", User: bob}, accessrule.SignedIn, 5},
		{"user rule anonymous", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/", User: nil}, accessrule.TwoFactor, 4},
		{"user rule matches any case", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/", User: ops}, accessrule.TwoFactor, 4},
		{"user rule other user", accessrule.Request{Method: "GET", Host: "app.example.com", Path: "/", User: bob}, accessrule.SignedIn, 5},
		{"wildcard subdomain", accessrule.Request{Method: "GET", Host: "wiki.example.com", Path: "/"}, accessrule.SignedIn, 5},
		{"wildcard deep subdomain", accessrule.Request{Method: "GET", Host: "a.b.example.com", Path: "/"}, accessrule.SignedIn, 5},
		{"wildcard not the apex", accessrule.Request{Method: "GET", Host: "example.com", Path: "/"}, accessrule.Deny, accessrule.NoRule},
		{"wildcard not a suffix trick", accessrule.Request{Method: "GET", Host: "evilexample.com", Path: "/"}, accessrule.Deny, accessrule.NoRule},
		{"other host default", accessrule.Request{Method: "GET", Host: "other.test", Path: "/"}, accessrule.Deny, accessrule.NoRule},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := rs.Decide(c.req)
			if d.Policy != c.policy || d.Rule != c.rule || d.Malformed || d.Reason == "" {
				t.Fatalf("Decide = %+v; want %s by rule index %d", d, c.policy, c.rule)
			}
		})
	}
}

// TestDecideAttacks: every path trick of the list is either denied
// as malformed or decided by the rule of the path the app will serve.
func TestDecideAttacks(t *testing.T) {
	rs := exampleRules(t)
	bob := &accessrule.Identity{ID: "u3", Email: "bob@example.com"}
	cases := []struct {
		name, uri string
		policy    accessrule.Policy // when not malformed
		malformed bool
	}{
		{"dot segments", "/public/../admin", accessrule.Deny, false},
		{"encoded dot segments", "/public/%2e%2e/admin", accessrule.Deny, false},
		{"mixed dot segments", "/public/.%2E/admin", accessrule.Deny, false},
		{"semicolon", "/admin;x", "", true},
		{"semicolon on public", "/public;/../admin", "", true},
		{"double slash", "//admin", "", true},
		{"encoded slash", "/admin%2F", "", true},
		{"encoded slash in public", "/public%2F..%2Fadmin", "", true},
		{"encoded backslash", "/public%5C..%5Cadmin", "", true},
		{"backslash", "/public\\..\\admin", "", true},
		{"fragment (CVE-2025-54576)", "/admin#/public", "", true},
		{"encoded fragment", "/public/..%23/admin", "", true},
		{"query is not the path (CVE-2026-41059)", "/admin?/public", accessrule.Deny, false},
		{"query with public path", "/admin?x=/public/../public", accessrule.Deny, false},
		{"encoded question mark", "/admin%3F/public", "", true},
		{"double encoding", "/public/%252e%252e/admin", "", true},
		{"null byte", "/public%00/../admin", "", true},
		{"newline", "/public%0a/admin", "", true},
		{"invalid UTF-8", "/public/%c0%ae%c0%ae/admin", "", true},
		{"climb above root", "/../admin", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, _, err := accessrule.SplitURI(c.uri)
			if c.malformed {
				if err == nil {
					t.Fatalf("SplitURI(%q) = %q; want refused", c.uri, path)
				}
				d := rs.Decide(accessrule.Request{Method: "GET", Host: "app.example.com", Path: c.uri, User: bob})
				if d.Policy != accessrule.Deny || !d.Malformed {
					t.Fatalf("Decide on the raw URI = %+v; want malformed deny", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitURI(%q): %v", c.uri, err)
			}
			d := rs.Decide(accessrule.Request{Method: "GET", Host: "app.example.com", Path: path, User: bob})
			if d.Policy != c.policy {
				t.Fatalf("Decide(%q -> %q) = %+v; want %s", c.uri, path, d, c.policy)
			}
		})
	}
	for _, host := range []string{"app.example.com/admin", "app.example.com@evil", "evil.example\\app.example.com", "app.example.com\x00", ""} {
		if d := rs.Decide(accessrule.Request{Method: "GET", Host: host, Path: "/public"}); d.Policy != accessrule.Deny || !d.Malformed {
			t.Errorf("host %q: %+v; want malformed deny", host, d)
		}
	}
	for _, m := range []string{"", "GET /public", "G\x00T"} {
		if d := rs.Decide(accessrule.Request{Method: m, Host: "public.example.com", Path: "/"}); d.Policy != accessrule.Deny || !d.Malformed {
			t.Errorf("method %q: %+v; want malformed deny", m, d)
		}
	}
}

func TestPublicDefault(t *testing.T) {
	rs, err := accessrule.Parse([]byte("default: public\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rs.Decide(accessrule.Request{Method: "GET", Host: "a.test", Path: "//x"}); d.Policy != accessrule.Deny {
		t.Fatalf("malformed path under a public default: %+v", d)
	}
	if d := rs.Decide(accessrule.Request{Method: "GET", Host: "a.test", Path: "/x"}); d.Policy != accessrule.Public || d.RuleName() != "default" {
		t.Fatalf("%+v", d)
	}
}

func TestCoversHost(t *testing.T) {
	rs := exampleRules(t)
	for host, want := range map[string]bool{"app.example.com": true, "APP.example.com:443": true, "x.y.example.com": true,
		"example.com": false, "evil.com": false, "app.example.com.evil.com": false, "a b": false} {
		if got := rs.CoversHost(host); got != want {
			t.Errorf("CoversHost(%q) = %v", host, got)
		}
	}
	if got := strings.Join(rs.Domains(), " "); got != "public.example.com app.example.com *.example.com" {
		t.Errorf("Domains = %q", got)
	}
}

func TestCheckCookieDomain(t *testing.T) {
	ok := []struct{ domain, base, want string }{
		{"example.com", "auth.example.com", "example.com"},
		{".Example.com", "auth.example.com:8443", "example.com"},
		{"example.com", "example.com", "example.com"},
		{"corp.example.co.uk", "auth.corp.example.co.uk", "corp.example.co.uk"},
	}
	for _, c := range ok {
		if got, err := accessrule.CheckCookieDomain(c.domain, c.base); err != nil || got != c.want {
			t.Errorf("CheckCookieDomain(%q, %q) = %q, %v", c.domain, c.base, got, err)
		}
	}
	bad := [][2]string{
		{"com", "auth.example.com"}, {"co.uk", "auth.example.co.uk"}, {"github.io", "me.github.io"},
		{"example.com", "auth.example.org"}, {"example.com", "authexample.com"}, {"auth.example.com", "example.com"},
		{"10.0.0.1", "10.0.0.1"}, {"example.com:443", "auth.example.com"}, {"*.example.com", "auth.example.com"}, {"", "auth.example.com"},
		{"exa mple.com", "auth.example.com"},
	}
	for _, c := range bad {
		if got, err := accessrule.CheckCookieDomain(c[0], c[1]); !errors.Is(err, accessrule.ErrCookieDomain) {
			t.Errorf("CheckCookieDomain(%q, %q) = %q, %v; want ErrCookieDomain", c[0], c[1], got, err)
		}
	}
}

func TestCheckFileAndExplain(t *testing.T) {
	var out strings.Builder
	if err := accessrule.CheckFile(&out, "testdata/example.yaml"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "6 rules") || !strings.Contains(out.String(), "rule 3: domains app.example.com; paths /admin; networks 10.0.0.0/8; roles admin -> two_factor") {
		t.Fatalf("CheckFile printed:\n%s", out.String())
	}
	bad := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("default: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := accessrule.CheckFile(&out, bad); !errors.Is(err, accessrule.ErrInvalid) {
		t.Fatalf("CheckFile(bad) = %v", err)
	}
	if err := accessrule.CheckFile(&out, t.TempDir()); err == nil {
		t.Fatal("CheckFile(directory) succeeded")
	}

	rs := exampleRules(t)
	out.Reset()
	d := accessrule.Explain(&out, rs, "https://app.example.com/public/../admin", "", &accessrule.Identity{Email: "bob@example.com"}, netip.Addr{})
	if d.Policy != accessrule.Deny || d.Rule != 3 || !strings.Contains(out.String(), "decided by: rule 4") || !strings.Contains(out.String(), "path /admin") {
		t.Fatalf("Explain = %+v\n%s", d, out.String())
	}
	out.Reset()
	d = accessrule.Explain(&out, rs, "https://app.example.com//admin", "GET", nil, netip.Addr{})
	if d.Policy != accessrule.Deny || !d.Malformed || !strings.Contains(out.String(), "decided by: malformed") {
		t.Fatalf("Explain malformed = %+v\n%s", d, out.String())
	}
}
