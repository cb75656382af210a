package csrf_test

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/keyring"
)

var page = template.Must(template.New("form").Parse(
	`<form method="post" action="/account/password">{{.CSRF}}<button>Save</button></form>`))

func ExampleNew() {
	keys := keyring.Ephemeral() // a *keyring.File in a real server
	protect := csrf.New(keys,
		// Bind tokens to the session, so they change at sign-in.
		csrf.WithBinding(func(r *http.Request) string { return r.Header.Get("X-Session-Hash") }),
		// Bearer-token JSON APIs need no CSRF token.
		csrf.WithExempt(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }),
	)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /account/password", func(w http.ResponseWriter, r *http.Request) {
		page.Execute(w, map[string]any{"CSRF": protect.Field(r)})
	})
	mux.HandleFunc("POST /account/password", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	h := protect.Handler(mux)

	// A cross-site form post is refused before reaching the handler.
	r := httptest.NewRequest("POST", "https://example.com/account/password", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output: 403
}

func ExampleProtector_Token() {
	protect := csrf.New(keyring.Ephemeral())
	h := protect.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// For scripts: send it back in the X-CSRF-Token header.
		w.Header().Set("X-CSRF-Token", protect.Token(r))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://example.com/", nil))
	fmt.Println(len(w.Header().Get("X-CSRF-Token")) == csrf.TokenLen, w.Result().Cookies()[0].Name)
	// Output: true __Host-gatehouse-csrf
}

func ExampleFailureReason() {
	protect := csrf.New(keyring.Ephemeral(), csrf.WithErrorHandler(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			// Log the reason; show the user a friendly page.
			fmt.Println("refused:", csrf.FailureReason(r))
			http.Error(w, "Please reload the page and try again.", http.StatusForbidden)
		})))
	h := protect.Handler(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "https://example.com/logout", nil))
	// Output: refused: csrf: token missing
}
