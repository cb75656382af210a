package web

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestContrast(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54},
	} {
		if got := Contrast(tt.a, tt.b); got < tt.want-0.01 || got > tt.want+0.01 {
			t.Errorf("Contrast(%s, %s) = %.2f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseAccent(t *testing.T) {
	for _, tt := range []struct {
		in, light, dark string
		bad             string // part of the error, "" for none
	}{
		{"#1f5eff,#7ea6ff", "#1f5eff", "#7ea6ff", ""},
		{" #1F5EFF , #7EA6FF ", "#1f5eff", "#7ea6ff", ""},
		{"#1f5eff", "", "", "dark-mode background"},          // too dark for dark mode
		{"#ffcc00,#ffcc00", "", "", "light-mode background"}, // too light on white
		{"#777", "", "", "4.5:1"},
		{"1f5eff", "", "", "hex colour"},
		{"#12345g", "", "", "hex colour"},
		{"red", "", "", "hex colour"},
		{"#1f5eff,#7ea6ff,#000000", "", "", "two"},
	} {
		a, err := ParseAccent(tt.in)
		if tt.bad != "" {
			if !errors.Is(err, ErrAccent) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("ParseAccent(%q) = %v, want an error about %q", tt.in, err, tt.bad)
			}
			continue
		}
		if err != nil || a.Light != tt.light || a.Dark != tt.dark {
			t.Errorf("ParseAccent(%q) = %+v, %v", tt.in, a, err)
		}
		if Contrast(a.Light, a.LightFG) < 4.5 || Contrast(a.Dark, a.DarkFG) < 4.5 {
			t.Errorf("ParseAccent(%q): button text %+v lacks contrast", tt.in, a)
		}
	}
}

// TestPaletteContrast reads the theme of style.css, in light and dark mode,
// and checks WCAG AA: text 4.5:1 on the page and on cards, input borders
// and the focus ring 3:1 against what they sit on.
func TestPaletteContrast(t *testing.T) {
	css, err := files.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`(?s):root \{(.*?)\n\s*\}`).FindAllSubmatch(css, 2)
	if len(blocks) != 2 {
		t.Fatalf("want the light and the dark :root blocks, found %d", len(blocks))
	}
	prop := regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6})`)
	for i, scheme := range []string{"light", "dark"} {
		v := map[string]string{}
		for _, m := range prop.FindAllSubmatch(blocks[i][1], -1) {
			v[string(m[1])] = string(m[2])
		}
		check := func(fg, bg string, min float64) {
			if v[fg] == "" || v[bg] == "" {
				t.Errorf("%s: --%s or --%s missing", scheme, fg, bg)
				return
			}
			if r := Contrast(v[fg], v[bg]); r < min {
				t.Errorf("%s: --%s %s on --%s %s: %.2f:1, want %.1f:1", scheme, fg, v[fg], bg, v[bg], r, min)
			}
		}
		for _, bg := range []string{"bg", "card", "soft"} {
			for _, fg := range []string{"fg", "muted", "accent", "bad", "good", "warn", "info"} {
				check(fg, bg, 4.5)
			}
		}
		for _, bg := range []string{"bad-bg", "good-bg", "warn-bg"} {
			check("fg", bg, 4.5)
		}
		check("bad", "bad-bg", 4.5)
		check("accent-fg", "accent", 4.5)
		check("card", "bad", 4.5) // danger buttons
		for _, bg := range []string{"bg", "card", "field"} {
			check("field-line", bg, 3)
			check("accent", bg, 3)
		}
	}
}

func TestLoadLogo(t *testing.T) {
	var pngBuf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	img.Set(1, 1, color.NRGBA{R: 200, A: 255})
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, data, ctype, bad string
	}{
		{"png", pngBuf.String(), "image/png", ""},
		{"svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><defs><linearGradient id="g"/></defs><rect width="10" height="10" fill="url(#g)"/></svg>`, "image/svg+xml", ""},
		{"script", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "", "<script>"},
		{"handler", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "", "event handler"},
		{"external", `<svg xmlns="http://www.w3.org/2000/svg"><a href="https://evil.example/">x</a></svg>`, "", "refers to"},
		{"xlink", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="x.png"/></svg>`, "", "<image>"},
		{"css url", `<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:url(http://e/x)}</style></svg>`, "", "refers to"},
		{"entity", `<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>`, "", "DOCTYPE"},
		{"html", `<html><body>hi</body></html>`, "", "not a PNG or SVG"},
		{"empty", ``, "", "not a PNG or SVG"},
		{"broken png", "\x89PNG\r\n\x1a\nnope", "", ""},
		{"too large", "<svg>" + strings.Repeat(" ", MaxLogoBytes) + "</svg>", "", "larger than"},
	} {
		l, err := LoadLogo(strings.NewReader(tt.data))
		if tt.ctype != "" {
			if err != nil || l.ContentType != tt.ctype {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrLogo) || !strings.Contains(err.Error(), tt.bad) {
			t.Errorf("%s: got %v, want an error about %q", tt.name, err, tt.bad)
		}
	}
}

func TestBrandedRenderer(t *testing.T) {
	accent, err := ParseAccent("#1f5eff,#7ea6ff")
	if err != nil {
		t.Fatal(err)
	}
	logo, err := LoadLogo(strings.NewReader(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewBrandedRenderer(Brand{Name: "Acme ID", Accent: accent, Logo: logo})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 200, "home", &Page{Title: "Welcome"}); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	themeURL := regexp.MustCompile(`href="(/static/theme\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(body)
	logoURL := regexp.MustCompile(`src="(/static/logo\.svg\?v=[0-9a-f]+)"`).FindStringSubmatch(body)
	if !strings.Contains(body, "<title>Welcome · Acme ID</title>") || themeURL == nil || logoURL == nil || strings.Contains(body, "style=") {
		t.Fatalf("branded page:\n%s", body)
	}
	h := r.Static()
	for _, tt := range []struct{ url, ctype, has string }{
		{themeURL[1], "text/css; charset=utf-8", "--accent:#1f5eff"},
		{logoURL[1], "image/svg+xml", "<svg"},
		{"/style.css", "text/css; charset=utf-8", "--accent"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", strings.TrimPrefix(tt.url, "/static"), nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tt.ctype || !strings.Contains(rec.Body.String(), tt.has) {
			t.Errorf("%s: %d %q %q", tt.url, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
	}
	// Without a brand there is no theme and no logo file.
	rec = httptest.NewRecorder()
	plain, _ := NewRenderer()
	plain.Static().ServeHTTP(rec, httptest.NewRequest("GET", "/theme.css", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("theme.css without an accent: %d", rec.Code)
	}
}

func TestDevMailLinks(t *testing.T) {
	m := DevMail{Text: "Open https://auth.example.com/verify-email?token=abc.\nOr (https://auth.example.com/x), javascript:alert(1) https://auth.example.com/x"}
	got := m.Links()
	if len(got) != 2 || got[0] != "https://auth.example.com/verify-email?token=abc" || got[1] != "https://auth.example.com/x" {
		t.Fatalf("Links() = %q", got)
	}
}

func FuzzParseAccent(f *testing.F) {
	for _, s := range []string{"#1f5eff", "#1f5eff,#7ea6ff", "#fff", "", ",", "#", "#zzzzzz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAccent(s)
		if err != nil {
			if !errors.Is(err, ErrAccent) {
				t.Fatalf("error %v does not wrap ErrAccent", err)
			}
			return
		}
		for _, c := range []string{a.Light, a.Dark} {
			if len(c) != 7 || c[0] != '#' || strings.ContainsAny(c, ";{}<>") {
				t.Fatalf("accepted %q as %q", s, c)
			}
		}
	})
}

func FuzzLoadLogo(f *testing.F) {
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	f.Add([]byte(`<svg><script/></svg>`))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := LoadLogo(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrLogo) {
				t.Fatalf("error %v does not wrap ErrLogo", err)
			}
			return
		}
		if l.ContentType == "image/svg+xml" && bytes.Contains(bytes.ToLower(l.Data), []byte("<script")) {
			t.Fatalf("accepted a script: %q", b)
		}
	})
}

func ExampleParseAccent() {
	_, err := ParseAccent("#1f5eff")
	fmt.Println(err)
	a, _ := ParseAccent("#1f5eff,#7ea6ff")
	fmt.Println(a.Light, a.LightFG, a.Dark, a.DarkFG)
	// Output:
	// web: accent colour refused: #1f5eff has a contrast of 3.6:1 against the dark-mode background #12151b; WCAG AA asks for at least 4.5:1: give a second, lighter colour for dark mode, such as "#1f5eff,#7ea6ff"
	// #1f5eff #ffffff #7ea6ff #0b1020
}
