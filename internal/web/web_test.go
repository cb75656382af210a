package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRenderEveryPage(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	user := &UserView{ID: 1, Email: "a@example.com", IsAdmin: true}
	sample := samplePageData
	for name := range r.pages {
		t.Run(name, func(t *testing.T) {
			for _, u := range []*UserView{nil, user} {
				rec := httptest.NewRecorder()
				p := &Page{Title: "T", User: u, CSRFToken: "tok<en>", Form: map[string]string{"email": `"><script>`}, Data: sample[name]}
				if err := r.Render(rec, http.StatusOK, name, p); err != nil {
					// Pages that need a signed-in user may fail without one; the
					// app never renders them so. They must render with one.
					if u != nil {
						t.Fatalf("render with user: %v", err)
					}
					continue
				}
				body := rec.Body.String()
				if strings.Contains(body, "<script>") {
					t.Fatalf("unescaped input in %s", name)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Fatalf("content type %q", ct)
				}
			}
		})
	}
}

// samplePageData holds, per page name, data a page needs to render. Each
// feature's _test.go file adds its pages in an init function.
var samplePageData = map[string]any{
	"sessions":    Sessions{CanList: true, Sessions: []SessionRow{{Handle: "h", Browser: "Firefox", Current: true}}},
	"admin_users": AdminUsers{Users: []AdminUser{{ID: 1, Email: "a@example.com"}, {ID: 2, Email: "<b>@example.com", Disabled: true}}},
}

func TestRenderUnknownPage(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 200, "nope", &Page{}); err == nil {
		t.Fatal("want error")
	}
	if rec.Body.Len() != 0 {
		t.Fatal("wrote something for an unknown page")
	}
}

func TestStaticNoListing(t *testing.T) {
	h := Static()
	for path, want := range map[string]int{"/style.css": 200, "/": 404, "/nope.js": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
