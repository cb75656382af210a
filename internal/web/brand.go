package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/imagesafe"
)

// DefaultProductName is the name pages and mail show when none is set.
const DefaultProductName = "Gatehouse"

// MaxLogoBytes bounds a logo file (LOGO_FILE).
const MaxLogoBytes = 256 << 10

// Errors of the branding settings. They are returned wrapped.
var (
	// ErrAccent: the accent colour is not a hex colour, or fails WCAG AA
	// contrast against the page background.
	ErrAccent = errors.New("web: accent colour refused")
	// ErrLogo: the logo file is too large, not a PNG or a safe SVG.
	ErrLogo = errors.New("web: logo refused")
)

// Brand is what a team puts of its own on the pages: the product name, a
// logo and an accent colour. The zero value is Gatehouse's own look.
type Brand struct {
	// Name is shown in the header, the page titles and mail;
	// DefaultProductName when empty.
	Name string
	// Accent is the checked accent colour (ParseAccent); zero keeps the
	// stylesheet's own.
	Accent Accent
	// Logo is the checked logo (LoadLogo); nil shows the favicon.
	Logo *Logo
}

// ProductName is b.Name or DefaultProductName.
func (b Brand) ProductName() string {
	if n := strings.TrimSpace(b.Name); n != "" {
		return n
	}
	return DefaultProductName
}

// Accent is an accent colour for light mode and one for dark mode, each
// with the text colour written on it (black or white, whichever contrasts
// more).
type Accent struct {
	Light, Dark     string // "#rrggbb"
	LightFG, DarkFG string
}

// Page backgrounds an accent is checked against: the page and the card
// colours of the stylesheet, in light and dark mode.
var (
	lightBackgrounds = []string{"#f4f5f7", "#ffffff"}
	darkBackgrounds  = []string{"#12151b", "#1b2029"}
)

// minContrast is WCAG 2.2 AA for normal text: links and button labels are
// written in the accent colour or on it.
const minContrast = 4.5

// ParseAccent reads an accent setting: one hex colour ("#1f5eff"), used in
// both colour schemes, or two separated by a comma ("#1f5eff,#7ea6ff"), for
// light and dark mode. Each must reach WCAG AA contrast (4.5:1) against
// the page backgrounds of its scheme and against the text written on it;
// otherwise the error (wrapping ErrAccent) says which and by how much.
func ParseAccent(v string) (Accent, error) {
	parts := strings.Split(strings.TrimSpace(v), ",")
	if len(parts) > 2 {
		return Accent{}, fmt.Errorf("%w: want one hex colour such as #1f5eff, or two (light,dark), got %q", ErrAccent, v)
	}
	light, err := parseHex(parts[0])
	if err != nil {
		return Accent{}, err
	}
	dark := light
	if len(parts) == 2 {
		if dark, err = parseHex(parts[1]); err != nil {
			return Accent{}, err
		}
	}
	a := Accent{Light: light, Dark: dark, LightFG: textOn(light), DarkFG: textOn(dark)}
	for _, c := range []struct {
		scheme, colour string
		bgs            []string
	}{{"light", light, lightBackgrounds}, {"dark", dark, darkBackgrounds}} {
		for _, bg := range c.bgs {
			if r := Contrast(c.colour, bg); r < minContrast {
				hint := "choose a darker colour"
				if c.scheme == "dark" {
					hint = "give a second, lighter colour for dark mode, such as \"" + light + ",#7ea6ff\""
				}
				return Accent{}, fmt.Errorf("%w: %s has a contrast of %.1f:1 against the %s-mode background %s; WCAG AA asks for at least 4.5:1: %s",
					ErrAccent, c.colour, r, c.scheme, bg, hint)
			}
		}
		if r := Contrast(c.colour, textOn(c.colour)); r < minContrast {
			return Accent{}, fmt.Errorf("%w: button text on %s reaches only %.1f:1 (WCAG AA asks 4.5:1)", ErrAccent, c.colour, r)
		}
	}
	return a, nil
}

func parseHex(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	h, ok := strings.CutPrefix(s, "#")
	if ok && len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if !ok || len(h) != 6 {
		return "", fmt.Errorf("%w: want a hex colour such as #1f5eff, got %q", ErrAccent, s)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: want a hex colour such as #1f5eff, got %q", ErrAccent, s)
	}
	return "#" + h, nil
}

// textOn is black-ish or white, whichever contrasts more with bg.
func textOn(bg string) string {
	if Contrast(bg, "#ffffff") >= Contrast(bg, "#0b1020") {
		return "#ffffff"
	}
	return "#0b1020"
}

// Contrast is the WCAG 2 contrast ratio of two "#rrggbb" colours, from 1
// to 21. A colour that does not parse counts as black.
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c string) float64 {
	h := strings.TrimPrefix(c, "#")
	if len(h) != 6 {
		return 0
	}
	var rgb [3]float64
	for i := range rgb {
		n, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0
		}
		v := float64(n) / 255
		if v <= 0.04045 {
			v /= 12.92
		} else {
			v = math.Pow((v+0.055)/1.055, 2.4)
		}
		rgb[i] = v
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
}

// css is the generated theme stylesheet: only the accent properties.
func (a Accent) css() []byte {
	if a.Light == "" {
		return nil
	}
	return fmt.Appendf(nil, ":root{--accent:%s;--accent-fg:%s}\n@media (prefers-color-scheme: dark){:root{--accent:%s;--accent-fg:%s}}\n",
		a.Light, a.LightFG, a.Dark, a.DarkFG)
}

// Logo is a checked logo file, served at /static/logo.(png|svg).
type Logo struct {
	Data        []byte
	ContentType string // image/png or image/svg+xml
	ext         string
}

// LoadLogo checks a logo file's content (the name does not matter): a PNG
// is decoded and re-encoded by imagesafe (which squares it to at most
// 256×256 pixels, dropping every chunk but the pixels); an SVG must be
// well-formed XML with an <svg> root and no scripts, event handlers,
// foreign objects or references outside the file. At most MaxLogoBytes.
// Errors wrap ErrLogo.
func LoadLogo(r io.Reader) (*Logo, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLogoBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogo, err)
	}
	if len(b) > MaxLogoBytes {
		return nil, fmt.Errorf("%w: the file is larger than %d KiB", ErrLogo, MaxLogoBytes>>10)
	}
	if bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		res, err := imagesafe.Process(bytes.NewReader(b), imagesafe.Options{MaxBytes: MaxLogoBytes, MaxWidth: 2048, MaxHeight: 2048, Format: imagesafe.FormatPNG})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLogo, err)
		}
		return &Logo{Data: res.Data, ContentType: imagesafe.ContentTypePNG, ext: ".png"}, nil
	}
	if err := checkSVG(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogo, err)
	}
	return &Logo{Data: b, ContentType: "image/svg+xml", ext: ".svg"}, nil
}

// checkSVG accepts a self-contained, script-free SVG document.
func checkSVG(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root {
				return errors.New("not a PNG or SVG file")
			}
			return nil
		}
		if err != nil {
			return errors.New("not a PNG or a well-formed SVG file")
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("an SVG with a DOCTYPE or entity declarations is refused")
		case xml.ProcInst:
			if t.Target != "xml" {
				return errors.New("an SVG with processing instructions is refused")
			}
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			if root && name != "svg" {
				return errors.New("not a PNG or SVG file")
			}
			root = false
			switch name {
			case "script", "foreignobject", "iframe", "embed", "object", "audio", "video", "image", "use", "animate", "set":
				return fmt.Errorf("an SVG with <%s> is refused: keep the logo to plain shapes and text", t.Name.Local)
			}
			for _, a := range t.Attr {
				an := strings.ToLower(a.Name.Local)
				val := strings.ToLower(strings.TrimSpace(a.Value))
				if strings.HasPrefix(an, "on") {
					return fmt.Errorf("an SVG with an event handler (%s) is refused", a.Name.Local)
				}
				if (an == "href" || an == "src") && !strings.HasPrefix(val, "#") {
					return errors.New("an SVG that refers to other files or URLs is refused")
				}
				if strings.Contains(val, "url(") && !strings.Contains(val, "url(#") {
					return errors.New("an SVG that refers to other files or URLs is refused")
				}
			}
		case xml.CharData:
			if bytes.Contains(bytes.ToLower(t), []byte("@import")) || bytes.Contains(bytes.ToLower(t), []byte("url(http")) {
				return errors.New("an SVG that refers to other files or URLs is refused")
			}
		}
	}
}

// brandAssets are the generated files of a brand: the theme stylesheet and
// the logo, each under a URL with a content hash.
type brandAssets struct {
	themeURL, logoURL string
	theme             []byte
	logo              *Logo
}

func newBrandAssets(b Brand) brandAssets {
	var a brandAssets
	if css := b.Accent.css(); css != nil {
		a.theme, a.themeURL = css, "/static/theme.css?v="+shortHash(css)
	}
	if b.Logo != nil {
		a.logo, a.logoURL = b.Logo, "/static/logo"+b.Logo.ext+"?v="+shortHash(b.Logo.Data)
	}
	return a
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// serve answers the brand's files; it reports false for any other path.
func (a brandAssets) serve(w http.ResponseWriter, r *http.Request) bool {
	var body []byte
	var ctype string
	switch {
	case r.URL.Path == "/theme.css" && a.theme != nil:
		body, ctype = a.theme, "text/css; charset=utf-8"
	case a.logo != nil && r.URL.Path == "/logo"+a.logo.ext:
		body, ctype = a.logo.Data, a.logo.ContentType
	default:
		return false
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return true
}
