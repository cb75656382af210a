package kit

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/dashboard"},
		{"/account", "/account"},
		{"/account/sessions?x=1", "/account/sessions?x=1"},
		{"/admin/users?q=a%40b", "/admin/users?q=a%40b"},
		{"//evil.example", "/dashboard"},
		{"///evil.example", "/dashboard"},
		{"/\\evil.example", "/dashboard"},
		{"\\\\evil.example", "/dashboard"},
		{"https://evil.example/", "/dashboard"},
		{"javascript:alert(1)", "/dashboard"},
		{"/%2F%2Fevil.example", "/dashboard"},
		{"/%2f/evil.example", "/dashboard"},
		{"/%5Cevil.example", "/dashboard"},
		{"/%00", "/dashboard"},
		{"/a\r\nLocation: x", "/dashboard"},
		{"/a%0d%0aSet-Cookie:x", "/dashboard"},
		{"/a?b=%0d%0a", "/dashboard"},
		{"/\tevil", "/dashboard"},
		{" /account", "/dashboard"},
		{"/ünicode", "/dashboard"},
		{"account", "/dashboard"},
		{"/login", "/dashboard"},
		{"/logout", "/dashboard"},
		{"/" + strings.Repeat("a", 2000), "/dashboard"},
		{"/@evil.example", "/@evil.example"},
	}
	for _, tt := range tests {
		if got := SafeNext(tt.in); got != tt.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeNext checks that whatever safeNext lets through is a local path
// that no browser would read as another host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/account", "//x", "/\\x", "/%2F%2Fx", "http://x", "/a?b=c#d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeNext(in)
		if out == DefaultNext {
			return
		}
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n\t\x00") {
			t.Fatalf("SafeNext(%q) = %q: not a plain local path", in, out)
		}
		u, err := url.Parse(out)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("SafeNext(%q) = %q parses as %v, %v", in, out, u, err)
		}
		// Resolved against our origin it must stay on our origin.
		base, _ := url.Parse("https://gatehouse.example/")
		if got := base.ResolveReference(u); got.Host != "gatehouse.example" {
			t.Fatalf("SafeNext(%q) = %q resolves to host %q", in, out, got.Host)
		}
	})
}

func TestKitNext(t *testing.T) {
	plain := &Kit{}
	if got := plain.Next("https://app.example.com/"); got != DefaultNext {
		t.Errorf("without ExternalNext: %q", got)
	}
	k := &Kit{cfg: Config{ExternalNext: func(n string) (string, bool) {
		return n, strings.HasPrefix(n, "https://app.example.com/")
	}}}
	for in, want := range map[string]string{
		"/account": "/account", "https://app.example.com/x": "https://app.example.com/x",
		"https://evil.example/": DefaultNext, "//evil.example": DefaultNext, "": DefaultNext, "/login": DefaultNext,
	} {
		if got := k.Next(in); got != want {
			t.Errorf("Next(%q) = %q, want %q", in, got, want)
		}
	}
}
