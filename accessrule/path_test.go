package accessrule_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/accessrule"
)

func TestNormalizePath(t *testing.T) {
	ok := []struct{ in, want string }{
		{"/", "/"},
		{"/admin", "/admin"},
		{"/admin/", "/admin/"},
		{"/public/../admin", "/admin"},
		{"/public/%2e%2e/admin", "/admin"},
		{"/public/%2E%2E/admin", "/admin"},
		{"/public/.%2e/admin", "/admin"},
		{"/./admin", "/admin"},
		{"/admin/.", "/admin/"},
		{"/admin/x/..", "/admin/"},
		{"/a/..", "/"},
		{"/%61dmin", "/admin"},
		{"/caf%C3%A9", "/café"},
		{"/café", "/café"},
		{"/a:b@c", "/a:b@c"},
	}
	for _, c := range ok {
		got, err := accessrule.NormalizePath(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", "admin", "//admin", "/admin//x", "/admin;x", "/admin;jsessionid=1", "/admin%3Bx",
		"/admin%2F", "/admin%2fx", "/admin%5C", "/admin\\x", "\\admin", "/admin%25", "/%252e%252e/admin",
		"/admin#x", "/admin%23", "/admin?x", "/admin%3F", "/ad min", "/admin%20", "/admin\x00", "/admin%00",
		"/admin%0a", "/admin\t", "/admin\x7f", "/%ff", "/\xff", "/%C3", "/admin%", "/admin%2", "/admin%zz",
		"/..", "/../admin", "/a/../../admin", "/%2e%2e/admin", strings.Repeat("/a", accessrule.MaxPathBytes),
	}
	for _, in := range bad {
		if got, err := accessrule.NormalizePath(in); !errors.Is(err, accessrule.ErrMalformed) {
			t.Errorf("NormalizePath(%q) = %q, %v; want ErrMalformed", in, got, err)
		}
	}
}

func TestSplitURI(t *testing.T) {
	ok := []struct{ in, path, query string }{
		{"/admin?x=1", "/admin", "x=1"},
		{"/public?next=/admin", "/public", "next=/admin"},
		{"/public?/../admin", "/public", "/../admin"},
		{"/?", "/", ""},
	}
	for _, c := range ok {
		p, q, err := accessrule.SplitURI(c.in)
		if err != nil || p != c.path || q != c.query {
			t.Errorf("SplitURI(%q) = %q, %q, %v", c.in, p, q, err)
		}
	}
	for _, in := range []string{"/public#/../admin", "/admin#", "/public?x#y", "/a?b c", "/a?b\x00", "//admin?x", "/admin;x?y"} {
		if _, _, err := accessrule.SplitURI(in); !errors.Is(err, accessrule.ErrMalformed) {
			t.Errorf("SplitURI(%q): %v, want ErrMalformed", in, err)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	ok := map[string]string{
		"App.Example.COM": "app.example.com", "app.example.com.": "app.example.com", "app.example.com:8443": "app.example.com",
		"127.0.0.1:80": "127.0.0.1", "[::1]:8080": "::1", "[2001:DB8::1]": "2001:db8::1", "localhost": "localhost",
	}
	for in, want := range ok {
		if got, err := accessrule.NormalizeHost(in); err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a b", "a_b.com", "evil.com/x", "a@b", "-a.com", "a..com", "app.example.com:", "app.example.com:0",
		"app.example.com:99999", "app.example.com:+1", "[::1", "[::1]x", "[fe80::1%eth0]", "::1", "[1.2.3.4]", "é.com", "a\x00.com",
		strings.Repeat("a", 300)} {
		if got, err := accessrule.NormalizeHost(in); !errors.Is(err, accessrule.ErrMalformed) {
			t.Errorf("NormalizeHost(%q) = %q, %v; want ErrMalformed", in, got, err)
		}
	}
}

func TestNormalizeMethod(t *testing.T) {
	if m, err := accessrule.NormalizeMethod("get"); err != nil || m != "GET" {
		t.Errorf("get: %q %v", m, err)
	}
	for _, in := range []string{"", "GE T", "GET\r\n", "G/T", strings.Repeat("A", 40)} {
		if _, err := accessrule.NormalizeMethod(in); !errors.Is(err, accessrule.ErrMalformed) {
			t.Errorf("NormalizeMethod(%q): %v", in, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	ok := []struct{ in, origin, host, path, url string }{
		{"https://app.example.com/admin?x=1", "https://app.example.com", "app.example.com", "/admin", "https://app.example.com/admin?x=1"},
		{"https://App.Example.com:443/", "https://app.example.com", "app.example.com", "/", "https://app.example.com/"},
		{"http://app.example.com:8080", "http://app.example.com:8080", "app.example.com", "/", "http://app.example.com:8080/"},
		{"https://app.example.com?x", "https://app.example.com", "app.example.com", "/", "https://app.example.com/?x"},
		{"HTTPS://[::1]:8443/a/../b", "https://[::1]:8443", "::1", "/b", "https://[::1]:8443/b"},
	}
	for _, c := range ok {
		tg, err := accessrule.ParseURL(c.in)
		if err != nil || tg.Origin() != c.origin || tg.Host != c.host || tg.Path != c.path || tg.URL() != c.url {
			t.Errorf("ParseURL(%q) = %+v (%s), %v", c.in, tg, tg.URL(), err)
		}
	}
	// Authelia CVE-2021-32637 answered 200 for a malformed X-Original-URL.
	for _, in := range []string{"", "garbage", "/admin", "app.example.com/admin", "ftp://app.example.com/", "javascript://x/%0aalert(1)",
		"https://a@evil.example/", "https://app.example.com@evil.example/", "https:/\\evil.example", "https://\\evil.example/",
		"https://evil.example\\@app.example.com/", "https:///admin", "https://app.example.com/admin#x", "https://app.example.com//admin",
		"https://app.example.com/%2e%2e/admin%2F", "https://app example.com/", "https://app.example.com:x/", "https://%61pp.example.com/",
		"https://app.example.com/\x00", " https://app.example.com/", "https://app.example.com/ x", strings.Repeat("x", 9000)} {
		if tg, err := accessrule.ParseURL(in); !errors.Is(err, accessrule.ErrMalformed) {
			t.Errorf("ParseURL(%q) = %+v, %v; want ErrMalformed", in, tg, err)
		}
	}
}

func TestExternalNext(t *testing.T) {
	rs := mustParse(t, "default: deny\nrules:\n  - domains: [app.example.com, \"*.apps.example.com\"]\n    policy: signed_in\n")
	allowed := func(h string) bool { return rs.CoversHost(h) || accessrule.UnderDomain(h, "corp.example.com") }
	for _, ok := range []string{"https://app.example.com/", "https://app.example.com/page?x=1", "https://wiki.apps.example.com/a",
		"https://x.corp.example.com/", "https://corp.example.com", "https://APP.example.com:8443/x"} {
		if got, good := accessrule.ExternalNext(ok, allowed, false); !good || got != ok {
			t.Errorf("ExternalNext(%q) = %q, %v", ok, got, good)
		}
	}
	if _, good := accessrule.ExternalNext("http://app.example.com/", allowed, true); !good {
		t.Error("http refused in development")
	}
	for _, bad := range []string{"", "/dashboard", "http://app.example.com/", "https://evil.example/", "https://a@evil.example",
		"https://app.example.com@evil.example/", "https:/\\evil.example", "https:\\\\evil.example", "//evil.example", "https://evil.example\\@app.example.com/",
		"https://app.example.com/ x", " https://app.example.com/", "https://app.example.com/\tx", "https://app.example.com/\r\nSet-Cookie:x",
		"https://app.example.com/#frag", "javascript://app.example.com/%0aalert(1)", "https://apps.example.com/", "https://app.example.com.evil.example/",
		"https://app.example.com//evil.example", "https://app.example.com/caf\u00e9", "HTTPS://app.example.com/", "https://[::1]/",
		"https://app.example.com/" + strings.Repeat("a", 3000)} {
		if got, good := accessrule.ExternalNext(bad, allowed, false); good {
			t.Errorf("ExternalNext(%q) accepted: %q", bad, got)
		}
	}
}

func mustParse(t *testing.T, s string) *accessrule.Rules {
	t.Helper()
	rs, err := accessrule.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
