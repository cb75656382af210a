package app

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg" // decoders for checking served pictures
	_ "image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/avatar"
	"github.com/gatehouse/gatehouse/internal/avatar/avatartest"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// avatarHarness is an in-process server with one signed-in user, for
// driving the real upload handler many times (no per-user limit).
type avatarHarness struct {
	d     *deps
	url   string
	c     *http.Client
	token string
	user  int64
	last  string // the user's picture id, "" for none
}

func newAvatarHarness(tb testing.TB) *avatarHarness {
	tb.Helper()
	ctx := context.Background()
	args := append([]string{"--dev", "--metrics-addr=", "--database-url", "sqlite:" + filepath.Join(tb.TempDir(), "g.db")}, fastHashArgs...)
	cfg, _, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := openDeps(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	if _, err := d.db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	d.avatars.SetUploadLimit(ratelimit.PerSecond(1_000_000))
	_, h, err := NewServer(d)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hs := &avatarHarness{d: d, url: srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	const email = "fuzz@example.com"
	for _, step := range []struct{ page, action string }{{"/register", "/register"}, {"/login", "/login"}} {
		form := url.Values{"email": {email}, "password": {goodPassword}, "csrf_token": {hs.pageToken(tb, step.page)}}
		req, _ := http.NewRequest("POST", srv.URL+step.action, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := hs.do(tb, req)
		if resp.StatusCode != http.StatusSeeOther {
			tb.Fatalf("%s: %d", step.action, resp.StatusCode)
		}
	}
	hs.token = hs.pageToken(tb, "/account")
	u, err := d.accounts.UserByEmail(ctx, email)
	if err != nil {
		tb.Fatal(err)
	}
	hs.user = u.ID
	return hs
}

func (hs *avatarHarness) do(tb testing.TB, req *http.Request) *http.Response {
	tb.Helper()
	req.Header.Set("Origin", hs.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := hs.c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (hs *avatarHarness) pageToken(tb testing.TB, path string) string {
	tb.Helper()
	resp, err := hs.c.Get(hs.url + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(body)
	if m == nil {
		tb.Fatalf("no token on %s (%d)", path, resp.StatusCode)
	}
	return string(m[1])
}

// post sends a multipart body with the session's token in the header.
func (hs *avatarHarness) post(tb testing.TB, body []byte) int {
	tb.Helper()
	req, _ := http.NewRequest("POST", hs.url+"/account/avatar", bytes.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+avatartest.Boundary)
	req.Header.Set("X-CSRF-Token", hs.token)
	return hs.do(tb, req).StatusCode
}

// check verifies the stored picture after an answer: changed and sane
// after 303, unchanged otherwise.
func (hs *avatarHarness) check(tb testing.TB, status int, input []byte) {
	tb.Helper()
	id, err := hs.d.avatars.Store().AvatarIDForUser(context.Background(), hs.user)
	if errors.Is(err, account.ErrNotFound) {
		id, err = "", nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	switch status {
	case http.StatusSeeOther:
		if id == "" || id == hs.last {
			tb.Fatalf("303 but the picture is %q (was %q)", id, hs.last)
		}
		a, err := hs.d.avatars.Store().AvatarByID(context.Background(), id)
		if err != nil {
			tb.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(a.Data))
		if err != nil || "image/"+format != a.ContentType || cfg.Width != cfg.Height || cfg.Width > avatar.OutputSize {
			tb.Fatalf("stored picture: %v, %q as %q, %dx%d", err, format, a.ContentType, cfg.Width, cfg.Height)
		}
		if len(input) > 64 && bytes.Contains(a.Data, input) {
			tb.Fatal("the input survived into the stored picture")
		}
		hs.last = id
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		if id != hs.last {
			tb.Fatalf("answer %d but the picture changed from %q to %q", status, hs.last, id)
		}
	default:
		tb.Fatalf("answer %d", status)
	}
}

// FuzzAvatarUpload runs the whole upload pipeline (multipart parsing, CSRF
// check, limits, imagesafe, storage) through the real handler on arbitrary
// bytes: either as the whole multipart body, or as the picture inside a
// well-formed form. Every answer must be 303 with a sane new picture, or a
// 4xx with the stored picture unchanged; never a 5xx or a panic.
func FuzzAvatarUpload(f *testing.F) {
	for _, name := range []string{"face.png", "gps.jpg", "photo.webp", "evil.svg", "script.png", "polyglot.png", "polyglot.html.png"} {
		b := fixture(f, name)
		f.Add(b, true)
		body, _ := avatartest.Body(avatartest.FilePart(name, b))
		f.Add(body, false)
	}
	f.Add(fixture(f, "huge.png"), true)
	f.Add([]byte{}, true)
	f.Add([]byte{}, false)
	twice, _ := avatartest.Body(avatartest.FilePart("a", []byte("x")), avatartest.FilePart("b", []byte("y")))
	f.Add(twice, false)
	f.Add([]byte("--"+avatartest.Boundary+"\r\nContent-Disposition: form-data; name=\"avatar\"\r\n\r\n\x89PNG"), false)

	hs := newAvatarHarness(f)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		body := data
		if wrap {
			body, _ = avatartest.Body(avatartest.FilePart("x", data))
		}
		status := hs.post(t, body)
		hs.check(t, status, data)
	})
}
