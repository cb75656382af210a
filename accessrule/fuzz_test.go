package accessrule_test

import (
	"errors"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/accessrule"
)

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(string(data))
	}
	f.Add("default: deny\nrules:\n  - domains: [a.com]\n    paths: [\"^/x\"]\n    policy: public\n")
	f.Add("default: deny\nrules:\n  - domains: ['*.a.com']\n    networks: [10.0.0.0/8, ::1]\n    policy: deny\n")
	f.Add("default: &x deny\nrules: [*x]")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := accessrule.Parse([]byte(in))
		if err != nil {
			if !errors.Is(err, accessrule.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		d := rs.Decide(accessrule.Request{Method: "GET", Host: "a.com", Path: "/x"})
		if !d.Policy.Valid() {
			t.Fatalf("invalid policy %q", d.Policy)
		}
	})
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/public/%2e%2e/admin", "//x", "/a;b", "/%2F", "/caf%C3%A9/", "/a/./", "/%252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := accessrule.NormalizePath(in)
		if err != nil {
			if !errors.Is(err, accessrule.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		again, err := accessrule.NormalizePath(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if !strings.HasPrefix(out, "/") || strings.Contains(out, "//") || strings.ContainsAny(out, "\\;?#%\x00") {
			t.Fatalf("unsafe result %q from %q", out, in)
		}
		for seg := range strings.SplitSeq(out, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("dot segment left in %q from %q", out, in)
			}
		}
	})
}

func FuzzDecide(f *testing.F) {
	rs, err := accessrule.Load("testdata/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "app.example.com", "/public/../admin", "10.0.0.1", "ops@example.com", "admin")
	f.Add("POST", "APP.example.com:443", "/admin%2F", "", "", "")
	f.Add("get", "x.example.com", "//admin", "::ffff:10.0.0.1", "a", "b")
	f.Fuzz(func(t *testing.T, method, host, path, ip, email, role string) {
		var user *accessrule.Identity
		if email != "" {
			user = &accessrule.Identity{ID: "1", Email: email, Roles: []string{role}}
		}
		addr, _ := netip.ParseAddr(ip)
		req := accessrule.Request{Method: method, Host: host, Path: path, ClientIP: addr, User: user}
		d := rs.Decide(req)
		if !d.Policy.Valid() || d.Reason == "" {
			t.Fatalf("bad decision %+v", d)
		}
		// A path that cannot be normalized is always denied.
		if _, err := accessrule.NormalizePath(path); err != nil && d.Policy != accessrule.Deny {
			t.Fatalf("malformed path %q got %+v", path, d)
		}
		// Deciding on the normalized path gives the same answer.
		if np, err := accessrule.NormalizePath(path); err == nil && !d.Malformed {
			req.Path = np
			if d2 := rs.Decide(req); d2 != d {
				t.Fatalf("%q and %q decided differently: %+v, %+v", path, np, d, d2)
			}
		}
	})
}

func FuzzExternalNext(f *testing.F) {
	for _, s := range []string{"https://app.example.com/x", "https://a@evil.example", "https:/\\evil.example", "https://app.example.com//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got, ok := accessrule.ExternalNext(next, func(h string) bool { return h == "app.example.com" }, false)
		if !ok {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Hostname(), "app.example.com") || u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted %q: %+v %v", got, u, err)
		}
	})
}
