package secheaders

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// serve runs h around a handler that records the nonce, returning the
// response headers and the nonce.
func serve(h *Headers) (http.Header, string) {
	var nonce string
	w := httptest.NewRecorder()
	h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce = Nonce(r.Context())
	})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	return w.Header(), nonce
}

func TestDefaultHeaders(t *testing.T) {
	hdr, nonce := serve(New())
	tests := []struct{ name, want string }{
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "strict-origin-when-cross-origin"},
		{"X-Frame-Options", "DENY"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Cross-Origin-Resource-Policy", "same-origin"},
		{"Permissions-Policy", PermissionsPolicy},
		{"Strict-Transport-Security", ""},
		{"Content-Security-Policy", "default-src 'none'; script-src 'nonce-" + nonce + "' 'strict-dynamic'; " +
			"style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; " +
			"frame-ancestors 'none'; base-uri 'none'; object-src 'none'"},
	}
	for _, tt := range tests {
		if got := hdr.Values(tt.name); strings.Join(got, "|") != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, feature := range []string{"camera", "microphone", "geolocation", "payment", "usb", "interest-cohort"} {
		if !strings.Contains(PermissionsPolicy, feature+"=()") {
			t.Errorf("Permissions-Policy leaves %s on", feature)
		}
	}
}

func TestNonce(t *testing.T) {
	h := New()
	seen := map[string]bool{}
	for range 100 {
		hdr, nonce := serve(h)
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(nonce) {
			t.Fatalf("nonce %q is not 128 bits of base64url", nonce)
		}
		if seen[nonce] {
			t.Fatalf("nonce %q repeated", nonce)
		}
		seen[nonce] = true
		if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "'nonce-"+nonce+"'") {
			t.Fatalf("CSP %q lacks the nonce %q", csp, nonce)
		}
	}
	if n := Nonce(httptest.NewRequest("GET", "/", nil).Context()); n != "" {
		t.Errorf("Nonce outside the handler = %q", n)
	}
}

func TestHSTS(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"off by default", nil, ""},
		{"enabled", []Option{WithHSTS()}, "max-age=31536000; includeSubDomains"},
		{"preload", []Option{WithHSTSPreload()}, "max-age=31536000; includeSubDomains; preload"},
		{"preload then plain keeps preload", []Option{WithHSTSPreload(), WithHSTS()}, HSTSPreloadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, _ := serve(New(tt.opts...))
			if got := hdr.Get("Strict-Transport-Security"); got != tt.want {
				t.Fatalf("Strict-Transport-Security = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSources(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		want    []string // substrings of the CSP
		wantXFO string
	}{
		{"image host", []Option{WithSources("img-src", "https://avatars.example.com")},
			[]string{"img-src 'self' data: https://avatars.example.com;"}, "DENY"},
		{"replaces none", []Option{WithSources("object-src", "'self'")},
			[]string{"object-src 'self'"}, "DENY"},
		{"script host after strict-dynamic", []Option{WithSources("script-src", "https://cdn.example.com")},
			[]string{"' 'strict-dynamic' https://cdn.example.com;"}, "DENY"},
		{"new directive appended", []Option{WithSources("frame-src", "https://www.youtube-nocookie.com")},
			[]string{"object-src 'none'; frame-src https://www.youtube-nocookie.com"}, "DENY"},
		{"no duplicates", []Option{WithSources("style-src", "'self'", "https://a.example")},
			[]string{"style-src 'self' https://a.example;"}, "DENY"},
		{"frame self", []Option{WithSources("frame-ancestors", "'self'")},
			[]string{"frame-ancestors 'self';"}, "SAMEORIGIN"},
		{"frame other site drops XFO", []Option{WithSources("frame-ancestors", "https://portal.example")},
			[]string{"frame-ancestors https://portal.example;"}, ""},
		{"insecure inline styles", []Option{InsecureWithSources("style-src", "'unsafe-inline'")},
			[]string{"style-src 'self' 'unsafe-inline';"}, "DENY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, _ := serve(New(tt.opts...))
			csp := hdr.Get("Content-Security-Policy")
			for _, w := range tt.want {
				if !strings.Contains(csp, w) {
					t.Errorf("CSP %q lacks %q", csp, w)
				}
			}
			if got := hdr.Get("X-Frame-Options"); got != tt.wantXFO {
				t.Errorf("X-Frame-Options = %q, want %q", got, tt.wantXFO)
			}
		})
	}
}

func TestOptionsRefuse(t *testing.T) {
	tests := []struct {
		name string
		opt  func() Option
	}{
		{"unsafe-inline", func() Option { return WithSources("style-src", "'unsafe-inline'") }},
		{"unsafe-eval", func() Option { return WithSources("script-src", "'UNSAFE-EVAL'") }},
		{"wasm-unsafe-eval", func() Option { return WithSources("script-src", "'wasm-unsafe-eval'") }},
		{"wildcard", func() Option { return WithSources("img-src", "*") }},
		{"https scheme", func() Option { return WithSources("connect-src", "https:") }},
		{"data scripts", func() Option { return WithSources("script-src", "data:") }},
		{"plain http host", func() Option { return WithSources("img-src", "http://x.example") }},
		{"header injection", func() Option { return InsecureWithSources("img-src", "x; script-src *") }},
		{"newline", func() Option { return InsecureWithSources("img-src", "a\r\nSet-Cookie: x") }},
		{"space", func() Option { return InsecureWithSources("img-src", "a b") }},
		{"empty source", func() Option { return InsecureWithSources("img-src", "") }},
		{"bad directive", func() Option { return InsecureWithSources("img-src;", "'self'") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("option accepted")
				}
			}()
			tt.opt()
		})
	}
	// Still fine: subdomain wildcard and data: images.
	New(WithSources("img-src", "https://*.example.com", "*.example.org", "data:"))
}

func TestHandlerMayOverride(t *testing.T) {
	w := httptest.NewRecorder()
	New().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		NoReferrer(w)
		NoStore(w)
		ClearSiteData(w)
		w.Header().Add("X-Frame-Options", "extra")
	})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	tests := []struct{ name, want string }{
		{"Referrer-Policy", "no-referrer"},
		{"Cache-Control", "no-store"},
		{"Pragma", "no-cache"},
		{"Clear-Site-Data", `"cache", "cookies", "storage"`},
	}
	for _, tt := range tests {
		if got := w.Header().Get(tt.name); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
	// Appending to one header must not spill into the next one's shared
	// backing array.
	if got := w.Header().Values("Cross-Origin-Opener-Policy"); len(got) != 1 || got[0] != "same-origin" {
		t.Errorf("Cross-Origin-Opener-Policy = %q after appending to X-Frame-Options", got)
	}
}

func TestClearSiteData(t *testing.T) {
	tests := []struct {
		types []string
		want  string
	}{
		{nil, `"cache", "cookies", "storage"`},
		{[]string{"cookies"}, `"cookies"`},
		{[]string{"cookies", "bogus\r\n"}, `"cookies"`},
		{[]string{"bogus"}, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		ClearSiteData(w, tt.types...)
		if got := w.Header().Get("Clear-Site-Data"); got != tt.want {
			t.Errorf("ClearSiteData(%q) = %q, want %q", tt.types, got, tt.want)
		}
	}
}

func TestSetWithoutHandler(t *testing.T) {
	hdr := http.Header{}
	nonce := New().Set(hdr)
	if !strings.Contains(hdr.Get("Content-Security-Policy"), nonce) || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("Set gave %v", hdr)
	}
}

func BenchmarkHandler(b *testing.B) {
	h := New(WithHSTS()).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, r)
	}
}
