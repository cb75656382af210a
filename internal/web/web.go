// Package web holds Gatehouse's HTML templates and static files, embedded in
// the binary, and a renderer that executes a page into a buffer before
// writing it, so a template error never leaves half a page on the wire.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

//go:embed templates static
var files embed.FS

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // "success", "error" or "info"
	Text string
	// Mail is true for a message saying that mail was sent; in
	// development mode the page then links to the dev outbox.
	Mail bool
}

// UserView is what a template may know about the signed-in user: never a
// password hash or a secret.
type UserView struct {
	ID            int64
	Email         string
	DisplayName   string
	EmailVerified bool
	IsAdmin       bool
	AvatarURL     string
	CreatedAt     time.Time
}

// Name is the display name, or the email when there is none.
func (u *UserView) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Email
}

// Page is the data every page template receives.
type Page struct {
	Title         string
	User          *UserView // nil when nobody is signed in
	Pending       bool      // the password step is done, the second factor is not
	CSRFToken     string
	Nonce         string // the CSP nonce of this response
	Flashes       []Flash
	Banner        string            // a notice across the top of every page
	Form          map[string]string // the user's input, shown again (never a password)
	Errors        map[string]string // a message per field
	Error         string            // a message for the whole form
	Data          any               // the page's own data
	Dev           bool
	StylesheetURL string
	// Path is the request's path; the navigation marks the current page.
	Path string
	// Product is the product name (PRODUCT_NAME); ThemeURL and LogoURL
	// are the brand's stylesheet and logo, "" when there are none. The
	// renderer fills them.
	Product  string
	ThemeURL string
	LogoURL  string
	// BannerMail adds a button to send the confirmation link again to the
	// banner (shown to a signed-in user whose address is not confirmed).
	BannerMail bool
}

// Current reports whether the page is at prefix or below it, for
// aria-current in the navigation: Current "/account" is true on
// /account/sessions.
func (p *Page) Current(prefix string) bool {
	return p.Path == prefix || strings.HasPrefix(p.Path, strings.TrimSuffix(prefix, "/")+"/")
}

// Renderer executes the embedded page templates.
type Renderer struct {
	pages      map[string]*template.Template
	stylesheet string // URL with a content hash, so browsers may cache it for long
	brand      Brand
	assets     brandAssets
	bufs       sync.Pool
}

// NewRenderer parses every page under templates/pages with the layout,
// with Gatehouse's own name and look.
func NewRenderer() (*Renderer, error) { return NewBrandedRenderer(Brand{}) }

// NewBrandedRenderer is NewRenderer with a team's product name, logo and
// accent colour.
func NewBrandedRenderer(b Brand) (*Renderer, error) {
	// Partials are small named templates that pages include; each feature
	// keeps its own file there.
	layout, err := template.New("layout").ParseFS(files, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: make(map[string]*template.Template, len(names)), brand: b, assets: newBrandAssets(b)}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	for _, n := range names {
		t, err := template.Must(layout.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", n, err)
		}
		r.pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	css, err := files.ReadFile("static/style.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	r.stylesheet = "/static/style.css?v=" + hex.EncodeToString(sum[:6])
	return r, nil
}

// Has reports whether a page template of that name exists.
func (r *Renderer) Has(name string) bool { _, ok := r.pages[name]; return ok }

// Render writes the named page with the status code. The page is executed
// into a buffer first; on a template error nothing has been written and the
// error is returned for the caller to answer with a 500 page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	if p.StylesheetURL == "" {
		p.StylesheetURL = r.stylesheet
	}
	p.Product, p.ThemeURL, p.LogoURL = r.brand.ProductName(), r.assets.themeURL, r.assets.logoURL
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			r.bufs.Put(buf)
		}
	}()
	if err := t.ExecuteTemplate(buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Brand is the brand the renderer was built with.
func (r *Renderer) Brand() Brand { return r.brand }

// Static serves the embedded static files and the brand's theme
// stylesheet and logo.
func (r *Renderer) Static() http.Handler {
	files := Static()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.assets.serve(w, req) {
			files.ServeHTTP(w, req)
		}
	})
}

// Static serves the embedded static files. Their URLs carry a content hash,
// so they may be cached for a year.
func Static() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No directory listings; and a path the file system cannot name
		// (invalid UTF-8, NUL, backslashes, dot segments) is simply not
		// there: http.FileServerFS would answer such paths with a 500.
		name := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasSuffix(r.URL.Path, "/") || !utf8.ValidString(name) || !fs.ValidPath(name) || strings.ContainsAny(name, "\\\x00") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		fsrv.ServeHTTP(w, r)
	})
}
