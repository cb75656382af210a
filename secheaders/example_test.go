package secheaders_test

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse/secheaders"
)

var page = template.Must(template.New("page").Parse(
	`<script nonce="{{.Nonce}}" src="/static/app.js"></script>`))

func ExampleNew() {
	headers := secheaders.New(
		secheaders.WithHSTS(), // the site is served over https
		secheaders.WithSources("img-src", "https://avatars.example.com"),
	)
	h := headers.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page.Execute(w, map[string]string{"Nonce": secheaders.Nonce(r.Context())})
	}))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	csp := w.Header().Get("Content-Security-Policy")
	nonce := strings.TrimSuffix(strings.TrimPrefix(w.Body.String(), `<script nonce="`), `" src="/static/app.js"></script>`)
	fmt.Println(w.Header().Get("X-Frame-Options"), "|", w.Header().Get("Strict-Transport-Security"))
	fmt.Println(strings.Contains(csp, "'nonce-"+nonce+"' 'strict-dynamic'"))
	// Output:
	// DENY | max-age=31536000; includeSubDomains
	// true
}

func ExampleClearSiteData() {
	logout := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secheaders.ClearSiteData(w) // "cache", "cookies", "storage"
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	w := httptest.NewRecorder()
	logout.ServeHTTP(w, httptest.NewRequest("POST", "/logout", nil))
	fmt.Println(w.Header().Get("Clear-Site-Data"))
	// Output: "cache", "cookies", "storage"
}

func ExampleNoReferrer() {
	resetForm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The URL carries a reset token: keep it out of Referer headers
		// and caches.
		secheaders.NoReferrer(w)
		secheaders.NoStore(w)
	})
	w := httptest.NewRecorder()
	secheaders.New().Handler(resetForm).ServeHTTP(w, httptest.NewRequest("GET", "/password/reset?token=T", nil))
	fmt.Println(w.Header().Get("Referrer-Policy"), w.Header().Get("Cache-Control"))
	// Output: no-referrer no-store
}
