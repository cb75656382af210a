package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAvatarPartial renders the account page's picture section with and
// without a picture, and with an upload error.
func TestAvatarPartial(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	render := func(u *UserView, errs map[string]string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		p := &Page{Title: "Account", User: u, CSRFToken: "tok", Form: map[string]string{}, Errors: errs}
		if err := r.Render(rec, http.StatusOK, "account", p); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	form := []string{
		`<form method="post" action="/account/avatar" enctype="multipart/form-data">`,
		`<input type="hidden" name="csrf_token" value="tok">`,
		`<label for="avatar">`,
		`<input id="avatar" name="avatar" type="file" accept="image/png,image/jpeg,image/webp" required`,
	}

	none := render(&UserView{ID: 1, Email: "a@example.com"}, map[string]string{})
	for _, want := range append(form, `id="avatar-none"`) {
		if !strings.Contains(none, want) {
			t.Errorf("without a picture: lacks %s", want)
		}
	}
	if strings.Contains(none, "/account/avatar/delete") || strings.Contains(none, `id="avatar-current"`) {
		t.Error("without a picture: shows a picture or a delete button")
	}

	url := "/avatars/AAAAAAAAAAAAAAAAAAAAAA"
	with := render(&UserView{ID: 1, Email: "a@example.com", AvatarURL: url}, map[string]string{"avatar": `<b>bad</b> picture`})
	for _, want := range append(form,
		`<img class="avatar" id="avatar-current" src="`+url+`"`,
		`<img class="avatar avatar-small" src="`+url+`"`,
		`<form method="post" action="/account/avatar/delete">`,
		`aria-invalid="true"`,
		`<p class="field-error" id="avatar-error" role="alert">&lt;b&gt;bad&lt;/b&gt; picture</p>`,
	) {
		if !strings.Contains(with, want) {
			t.Errorf("with a picture and an error: lacks %s", want)
		}
	}
}
