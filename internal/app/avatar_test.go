package app

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/avatar"
	"github.com/gatehouse/gatehouse/internal/avatar/avatartest"
	"github.com/gatehouse/gatehouse/internal/db"
)

// TestAvatarUploadReplaceDelete walks the feature: no picture, upload, see
// it on the account page, the dashboard and in the header, replace it (the
// URL changes and the old one is gone), delete it; all audited.
func TestAvatarUploadReplaceDelete(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("face@example.com", goodPassword)
	b.signIn("face@example.com", goodPassword)
	if u := b.avatarURL(); u != "" {
		t.Fatalf("new user has picture %q", u)
	}
	page := b.get("/account").want(t, http.StatusOK,
		`<form method="post" action="/account/avatar" enctype="multipart/form-data">`,
		`name="avatar" type="file" accept="image/png,image/jpeg,image/webp"`)
	if strings.Contains(page.body, `action="/account/avatar/delete"`) {
		t.Fatal("delete button shown without a picture")
	}

	b.upload(avatartest.FilePart("face.png", fixture(t, "face.png"))).redirect(t, "/account")
	acct := b.get("/account").want(t, http.StatusOK, "Your picture was updated.", `action="/account/avatar/delete"`)
	first := b.currentPicture()
	if first.url == "" {
		t.Fatalf("no picture after upload:\n%s", trim(acct.body))
	}
	img, format, err := image.Decode(strings.NewReader(first.body))
	if err != nil || format != "png" && format != "jpeg" {
		t.Fatalf("served picture: %v, %q", err, format)
	}
	if bnd := img.Bounds(); bnd.Dx() != 72 || bnd.Dy() != 72 {
		t.Fatalf("served picture is %v, want the centred 72x72 square of a 96x72 image", bnd)
	}
	// Everywhere the name shows: the header of every page and the dashboard.
	dash := b.get("/dashboard").want(t, http.StatusOK)
	for _, want := range []string{`<img class="avatar avatar-small" src="` + first.url + `"`, `<img class="avatar" src="` + first.url + `"`} {
		if !strings.Contains(dash.body, want) {
			t.Fatalf("dashboard lacks %s", want)
		}
	}

	// Replace: a new URL; the old one is gone.
	b.upload(avatartest.FilePart("photo.webp", fixture(t, "photo.webp"))).redirect(t, "/account")
	second := b.currentPicture()
	if second.url == "" || second.url == first.url {
		t.Fatalf("after replace: %q, was %q", second.url, first.url)
	}
	b.get(first.url).want(t, http.StatusNotFound)

	// Delete.
	b.submit("/account", "/account/avatar/delete").redirect(t, "/account")
	b.get("/account").want(t, http.StatusOK, "Your picture was removed.")
	if u := b.avatarURL(); u != "" {
		t.Fatalf("picture %q after delete", u)
	}
	b.get(second.url).want(t, http.StatusNotFound)
	if strings.Contains(b.get("/dashboard").body, "/avatars/") {
		t.Fatal("dashboard still shows a picture")
	}
	// Deleting again is harmless.
	b.submit("/account", "/account/avatar/delete").redirect(t, "/account")
	b.get("/account").want(t, http.StatusOK, "You have no picture to remove.")

	events := avatarEvents(t, ts)
	want := []string{"avatar.upload success", "avatar.upload success", "avatar.delete success"}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Fatalf("audit events %v, want %v", events, want)
	}
}

// auditEvents lists the server's audit events of the given names, oldest
// first within each name, as "name outcome".
func auditEvents(t *testing.T, ts *testServer, names ...account.EventName) []string {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(ts.dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out []string
	for _, name := range names {
		evs, err := d.Audit().ListAudit(context.Background(), account.AuditFilter{Name: name, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(evs) - 1; i >= 0; i-- {
			out = append(out, string(evs[i].Name)+" "+string(evs[i].Outcome))
		}
	}
	return out
}

// avatarEvents lists the picture events of the audit trail.
func avatarEvents(t *testing.T, ts *testServer) []string {
	t.Helper()
	return auditEvents(t, ts, account.EventAvatarUpload, account.EventAvatarDelete)
}

func countEvents(t *testing.T, ts *testServer, name account.EventName) int {
	t.Helper()
	return len(auditEvents(t, ts, name))
}

// TestAvatarServedHeaders checks how a picture is served: exact type, no
// sniffing, a policy that runs nothing, long immutable caching, an ETag
// that answers 304, no session, and 404 for unknown or malformed ids.
func TestAvatarServedHeaders(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("hdr@example.com", goodPassword)
	b.signIn("hdr@example.com", goodPassword)
	b.upload(avatartest.FilePart("gps.jpg", fixture(t, "gps.jpg"))).redirect(t, "/account")
	pic := b.currentPicture()

	anon := ts.browser() // no session needed
	r := anon.get(pic.url).want(t, http.StatusOK)
	want := map[string]string{
		"Content-Type":                 "image/jpeg",
		"X-Content-Type-Options":       "nosniff",
		"Content-Security-Policy":      "default-src 'none'; sandbox",
		"Cache-Control":                "public, max-age=31536000, immutable",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Content-Length":               strconv.Itoa(len(pic.body)),
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	etag := r.Header.Get("Etag")
	if len(etag) != 66 || etag[0] != '"' {
		t.Errorf("ETag %q, want a quoted SHA-256", etag)
	}
	if c := r.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("picture response sets cookies: %v", c)
	}
	if r.body != pic.body {
		t.Error("anonymous and signed-in fetches differ")
	}

	req, _ := http.NewRequest("GET", ts.URL+pic.url, nil)
	req.Header.Set("If-None-Match", etag)
	if nm := anon.do(req); nm.StatusCode != http.StatusNotModified || nm.body != "" {
		t.Errorf("If-None-Match: %d with %d bytes, want 304", nm.StatusCode, len(nm.body))
	}
	req, _ = http.NewRequest("HEAD", ts.URL+pic.url, nil)
	if h := anon.do(req); h.StatusCode != http.StatusOK || h.Header.Get("Content-Type") != "image/jpeg" || h.body != "" {
		t.Errorf("HEAD: %d %q %d bytes", h.StatusCode, h.Header.Get("Content-Type"), len(h.body))
	}

	for _, id := range []string{
		account.NewAvatarID(),    // well formed, unknown
		"AAAAAAAAAAAAAAAAAAAAAB", // non-canonical
		"short",
		strings.Repeat("A", 200),
		"..%2F..%2Fetc%2Fpasswd",
		"%00",
		url.PathEscape("AAAAAAAAAAAAAAAAAAAA\r\n"),
	} {
		r := anon.get("/avatars/" + id)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("/avatars/%s: %d, want 404", id, r.StatusCode)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || strings.HasPrefix(r.Header.Get("Content-Type"), "image/") {
			t.Errorf("/avatars/%s: headers %v", id, r.Header)
		}
	}
	// Other methods and paths.
	b.get("/account/avatar").want(t, http.StatusMethodNotAllowed)
	anon.get("/avatars/").want(t, http.StatusNotFound)
}

// TestAvatarBadInput sends each hostile or broken upload of the issue to a
// user who already has a picture, and checks the answer and that the
// stored picture did not change. Each case has its own user, so that the
// per-user upload limit does not interfere.
func TestAvatarBadInput(t *testing.T) {
	ts := startServer(t, avatarServerArgs...)
	var n atomic.Int64
	face := fixture(t, "face.png")
	jpg := fixture(t, "gps.jpg")
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	const (
		type415   = "Only PNG, JPEG and WebP pictures are accepted"
		pixels422 = "The picture has too many pixels"
		broken422 = "The picture could not be read"
		choose422 = "Choose a picture to upload."
	)
	tests := []struct {
		name   string
		parts  []avatartest.Part
		status int
		msg    string
	}{
		{"script renamed .png", []avatartest.Part{avatartest.FilePart("avatar.png", fixture(t, "script.png"))}, 415, type415},
		{"HTML/PNG polyglot, HTML first", []avatartest.Part{avatartest.FilePart("cat.png", fixture(t, "polyglot.html.png"))}, 415, type415},
		{"SVG with a script", []avatartest.Part{{Name: "avatar", Filename: "evil.svg", ContentType: "image/svg+xml", Data: fixture(t, "evil.svg")}}, 415, "SVG and other formats are refused"},
		{"SVG renamed .png, sent as image/png", []avatartest.Part{{Name: "avatar", Filename: "evil.png", ContentType: "image/png", Data: fixture(t, "evil.svg")}}, 415, type415},
		{"lying Content-Type: HTML sent as image/png", []avatartest.Part{{Name: "avatar", Filename: "a.png", ContentType: "image/png", Data: fixture(t, "script.png")}}, 415, type415},
		{"lying Content-Type: HTML sent as image/jpeg", []avatartest.Part{{Name: "avatar", Filename: "a.jpg", ContentType: "image/jpeg", Data: []byte("<html><script>alert(1)</script>")}}, 415, type415},
		{"GIF", []avatartest.Part{avatartest.FilePart("a.gif", gif)}, 415, type415},
		{"1 KB PNG claiming 100000x100000", []avatartest.Part{avatartest.FilePart("huge.png", fixture(t, "huge.png"))}, 422, pixels422},
		{"progressive JPEG header claiming 4096x4096", []avatartest.Part{avatartest.FilePart("p.jpg", progressiveClaim(t, jpg, 4096, 4096))}, 422, pixels422},
		{"truncated PNG", []avatartest.Part{avatartest.FilePart("half.png", face[:len(face)/2])}, 422, broken422},
		{"truncated JPEG", []avatartest.Part{avatartest.FilePart("half.jpg", jpg[:len(jpg)*2/3])}, 422, broken422},
		{"PNG header, junk data", []avatartest.Part{avatartest.FilePart("junk.png", append(face[:33:33], bytes.Repeat([]byte{0x78}, 500)...))}, 422, broken422},
		{"over the size limit", []avatartest.Part{avatartest.FilePart("big.png", append(append([]byte{}, face...), make([]byte, 2<<20)...))}, 413, "larger than 2 MiB"},
		{"file name with CR/LF", []avatartest.Part{{Header: "Content-Disposition: form-data; name=\"avatar\"; filename=\"a\r\nContent-Type: text/html\r\n.png\"\r\n", Data: face}}, 400, "The upload"},
		{"empty part", []avatartest.Part{avatartest.FilePart("", nil)}, 422, choose422},
		{"empty part with a name", []avatartest.Part{avatartest.FilePart("empty.png", nil)}, 422, choose422},
		{"no avatar part", []avatartest.Part{{Name: "comment", Data: []byte("hello")}}, 422, choose422},
		{"two avatar parts", []avatartest.Part{avatartest.FilePart("a.png", face), avatartest.FilePart("b.png", face)}, 400, "Send one picture at a time."},
		{"two avatar parts, second hostile", []avatartest.Part{avatartest.FilePart("a.png", face), avatartest.FilePart("b.svg", fixture(t, "evil.svg"))}, 400, "Send one picture at a time."},
		{"another file part", []avatartest.Part{avatartest.FilePart("a.png", face), {Name: "other", Filename: "x.sh", Data: []byte("#!/bin/sh")}}, 400, "something other than one picture"},
		{"file part before the picture", []avatartest.Part{{Name: "backup", Filename: "x.png", Data: face}, avatartest.FilePart("a.png", face)}, 400, "something other than one picture"},
		{"part without a form name", []avatartest.Part{{Header: "Content-Disposition: attachment; filename=\"a.png\"\r\n", Data: face}}, 400, "something other than one picture"},
		{"long extra field", []avatartest.Part{{Name: "note", Data: bytes.Repeat([]byte("x"), 2000)}, avatartest.FilePart("a.png", face)}, 400, "something other than one picture"},
		{"too many parts", append(avatartest.Repeat(avatartest.Part{Name: "x", Data: []byte("1")}, 10), avatartest.FilePart("a.png", face)), 400, "something other than one picture"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newAvatarUser(ts, &n)
			before := b.withPicture()
			b.upload(tc.parts...).want(t, tc.status, tc.msg, `id="avatar-error"`)
			b.mustUnchanged(before)
		})
	}

	// Bodies that are not a well-formed form at all.
	raw := []struct {
		name, ctype string
		body        string
		status      int
	}{
		{"urlencoded", "application/x-www-form-urlencoded", "avatar=%89PNG", 415},
		{"no boundary", "multipart/form-data", "--x\r\n\r\n--x--\r\n", 415},
		{"JSON", "application/json", `{"avatar":"iVBORw0KGgo="}`, 415},
		{"raw PNG body", "image/png", string(face), 415},
		{"unterminated", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"avatar\"\r\n\r\n\x89PNG", 400},
		{"garbage: no part at all", "multipart/form-data; boundary=x", "\x00\x01\x02 not multipart", 422},
	}
	for _, tc := range raw {
		t.Run("body "+tc.name, func(t *testing.T) {
			b := newAvatarUser(ts, &n)
			before := b.withPicture()
			b.hdr.Set("X-CSRF-Token", b.token("/account"))
			b.postUpload(strings.NewReader(tc.body), tc.ctype, int64(len(tc.body))).want(t, tc.status)
			b.hdr.Del("X-CSRF-Token")
			b.mustUnchanged(before)
		})
	}

	t.Run("50 MB body", func(t *testing.T) {
		b := newAvatarUser(ts, &n)
		before := b.withPicture()
		head, _ := avatartest.Body(avatartest.Part{Name: avatar.TokenField, Data: []byte(b.token("/account"))})
		head = head[:bytes.LastIndex(head, []byte("--gatehouse-test-boundary-7d1f--"))]
		head = append(head, "--gatehouse-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"big.png\"\r\n\r\n\x89PNG\r\n\x1a\n"...)
		z := &avatartest.Zeros{N: 50 << 20}
		body := io.MultiReader(bytes.NewReader(head), z, strings.NewReader("\r\n--gatehouse-test-boundary-7d1f--\r\n"))
		r := b.postUpload(body, "multipart/form-data; boundary=gatehouse-test-boundary-7d1f", -1)
		r.want(t, http.StatusRequestEntityTooLarge, "larger than 2 MiB")
		if sent := z.Count(); sent >= z.N {
			t.Errorf("the server read all %d bytes; it should stop at the limit", sent)
		}
		t.Logf("client sent %d of %d bytes before the answer", z.Count(), z.N)
		b.mustUnchanged(before)
	})
}

// TestAvatarAcceptedInputIsRemade: a real picture is accepted whatever its
// name or declared type, and what is served is always our own encoding:
// the name is used nowhere, a polyglot loses its payload.
func TestAvatarAcceptedInputIsRemade(t *testing.T) {
	ts := startServer(t, avatarServerArgs...)
	var n atomic.Int64
	face := fixture(t, "face.png")
	poly := fixture(t, "polyglot.png")
	tests := []struct {
		name    string
		part    avatartest.Part
		payload string // must not be served
	}{
		{"file name with ../", avatartest.Part{Name: "avatar", Filename: "../../../../../tmp/gatehouse-avatar-test.png", ContentType: "image/png", Data: face}, "gatehouse-avatar-test"},
		{"encoded file name with ../ and CR/LF", avatartest.Part{Header: "Content-Disposition: form-data; name=\"avatar\"; filename*=UTF-8''..%2F..%2Fx%0D%0ASet-Cookie%3A%20a%3Db.png\r\n", Data: face}, "Set-Cookie"},
		{"real PNG sent as text/html", avatartest.Part{Name: "avatar", Filename: "index.html", ContentType: "text/html", Data: face}, "html"},
		{"HTML/PNG polyglot, PNG first", avatartest.Part{Name: "avatar", Filename: "poly.png", ContentType: "image/png", Data: poly}, "<script"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newAvatarUser(ts, &n)
			b.upload(tc.part).redirect(t, "/account")
			pic := b.currentPicture()
			if pic.url == "" {
				t.Fatal("no picture")
			}
			r := b.get(pic.url)
			if ct := r.Header.Get("Content-Type"); ct != "image/png" && ct != "image/jpeg" {
				t.Fatalf("served as %q", ct)
			}
			if strings.Contains(pic.body, tc.payload) || strings.Contains(pic.url, tc.payload) || bytes.Equal([]byte(pic.body), tc.part.Data) {
				t.Fatalf("served picture carries the input (%q)", tc.payload)
			}
			if strings.Contains(r.Header.Get("Content-Disposition"), "..") {
				t.Fatal("file name echoed")
			}
		})
	}
	if _, err := os.Stat("/tmp/gatehouse-avatar-test.png"); err == nil {
		t.Fatal("a file appeared at the client's path")
	}
}

// TestAvatarEXIFGPSRemoved uploads a JPEG carrying an Exif GPS position and
// proves the served picture carries no Exif (nor any metadata segment).
func TestAvatarEXIFGPSRemoved(t *testing.T) {
	in := fixture(t, "gps.jpg")
	segs, gps := jpegMetadata(in)
	if !gps || !bytes.Contains(in, []byte("Exif\x00\x00")) {
		t.Fatalf("fixture must carry Exif GPS: segments %v, gps %v", segs, gps)
	}
	if _, err := jpeg.Decode(bytes.NewReader(in)); err != nil {
		t.Fatalf("fixture is not a valid JPEG: %v", err)
	}
	ts := startServer(t)
	b := ts.browser()
	b.register("gps@example.com", goodPassword)
	b.signIn("gps@example.com", goodPassword)
	b.upload(avatartest.FilePart("holiday.jpg", in)).redirect(t, "/account")
	pic := b.currentPicture()
	out := []byte(pic.body)
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("served picture is not a JPEG: %v", err)
	}
	segs, gps = jpegMetadata(out)
	if gps || bytes.Contains(out, []byte("Exif")) || bytes.Contains(out, []byte{0xff, 0xe1}) {
		t.Fatalf("served picture keeps Exif: segments %v, gps %v", segs, gps)
	}
	for _, s := range segs {
		if s != "E0" { // the JFIF header the encoder may write is all that may remain
			t.Fatalf("served picture keeps metadata segment APP/COM %s", s)
		}
	}
	// The GPS rationals of the fixture (48°51'29.98") are gone too.
	if bytes.Contains(out, []byte{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1}) {
		t.Fatal("served picture keeps the GPS latitude")
	}
}

// TestAvatarCSRF: uploads need a valid token, in the csrf_token part (before
// or after the picture) or the X-CSRF-Token header, and a same-origin
// request; a refused upload leaves the picture alone and is audited.
func TestAvatarCSRF(t *testing.T) {
	ts := startServer(t)
	var n atomic.Int64
	b := newAvatarUser(ts, &n)
	before := b.withPicture()
	send := func(parts []avatartest.Part, hdr map[string]string) *response {
		body, ctype := avatartest.Body(parts...)
		b.hdr = http.Header{}
		for k, v := range hdr {
			b.hdr.Set(k, v)
		}
		defer func() { b.hdr = http.Header{} }()
		return b.postUpload(bytes.NewReader(body), ctype, int64(len(body)))
	}
	foreign := newAvatarUser(ts, &n).token("/account")
	pic := avatartest.FilePart("x.webp", fixture(t, "photo.webp"))
	refused := []struct {
		name   string
		parts  []avatartest.Part
		hdr    map[string]string
		status int
	}{
		{"no token", []avatartest.Part{pic}, nil, 403},
		{"empty token", []avatartest.Part{{Name: avatar.TokenField}, pic}, nil, 403},
		{"bad token", []avatartest.Part{{Name: avatar.TokenField, Data: []byte("bad")}, pic}, nil, 403},
		{"another session's token", []avatartest.Part{{Name: avatar.TokenField, Data: []byte(foreign)}, pic}, nil, 403},
		{"bad header token", []avatartest.Part{pic}, map[string]string{"X-CSRF-Token": "bad"}, 403},
		{"cross-site", []avatartest.Part{{Name: avatar.TokenField, Data: []byte(b.token("/account"))}, pic}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"token twice", []avatartest.Part{{Name: avatar.TokenField, Data: []byte(b.token("/account"))}, {Name: avatar.TokenField, Data: []byte(b.token("/account"))}, pic}, nil, 400},
	}
	for _, tc := range refused {
		send(tc.parts, tc.hdr).want(t, tc.status)
		b.mustUnchanged(before)
	}
	if got := countEvents(t, ts, account.EventCSRFRefused); got != 6 {
		t.Errorf("csrf.refused events: %d, want 6", got)
	}
	// Forged uploads leave nothing in the user's picture trail; the one with
	// a valid token (sent twice) is a real, failed attempt.
	if evs := strings.Join(avatarEvents(t, ts), ","); evs != "avatar.upload success,avatar.upload failure" {
		t.Errorf("avatar events after forged uploads: %v", evs)
	}
	// No cookies at all: not signed in, sent to sign in.
	body, ctype := avatartest.Body(pic)
	ts.browser().postUpload(bytes.NewReader(body), ctype, int64(len(body))).redirect(t, "/login")

	// Accepted: the token after the picture, or in the header.
	send([]avatartest.Part{pic, {Name: avatar.TokenField, Data: []byte(b.token("/account"))}}, nil).redirect(t, "/account")
	second := b.currentPicture()
	if second == before {
		t.Fatal("token after the picture: picture unchanged")
	}
	send([]avatartest.Part{avatartest.FilePart("f.png", fixture(t, "face.png"))}, map[string]string{"X-CSRF-Token": b.token("/account")}).redirect(t, "/account")
	if b.currentPicture() == second {
		t.Fatal("header token: picture unchanged")
	}
}

// TestAvatarRateLimit: ten uploads an hour per user, then 429 with
// Retry-After and the picture unchanged. Another user is not affected.
func TestAvatarRateLimit(t *testing.T) {
	ts := startServer(t)
	b := ts.browser()
	b.register("many@example.com", goodPassword)
	b.signIn("many@example.com", goodPassword)
	face := fixture(t, "face.png")
	for i := range 10 {
		if i%2 == 0 {
			b.upload(avatartest.FilePart("face.png", face)).redirect(t, "/account")
		} else {
			// Refused pictures count too: each one was decoded.
			b.upload(avatartest.FilePart("bad.png", face[:100])).want(t, http.StatusUnprocessableEntity)
		}
	}
	before := b.currentPicture()
	r := b.upload(avatartest.FilePart("face.png", face)).want(t, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	b.mustUnchanged(before)
	// Deleting is never limited.
	b.submit("/account", "/account/avatar/delete").redirect(t, "/account")

	other := ts.browser()
	other.register("few@example.com", goodPassword)
	other.signIn("few@example.com", goodPassword)
	other.upload(avatartest.FilePart("face.png", face)).redirect(t, "/account")
}

// TestAvatarMaxBytesSetting: AVATAR_MAX_BYTES sets the limit (413 above it,
// with the limit in the message) and is validated at start.
func TestAvatarMaxBytesSetting(t *testing.T) {
	face := fixture(t, "face.png") // 689 bytes
	jpg := fixture(t, "gps.jpg")   // 1410 bytes
	ts := startServer(t, "--avatar-max-bytes=1024")
	b := ts.browser()
	b.register("small@example.com", goodPassword)
	b.signIn("small@example.com", goodPassword)
	b.upload(avatartest.FilePart("face.png", face)).redirect(t, "/account")
	before := b.currentPicture()
	b.upload(avatartest.FilePart("gps.jpg", jpg)).want(t, http.StatusRequestEntityTooLarge, "larger than 1 KiB")
	b.mustUnchanged(before)

	for _, v := range []string{"0", "1023", "3145728", "-1", "2MiB", "99999999999"} {
		_, _, err := ParseConfig([]string{"--dev", "--avatar-max-bytes", v}, func(string) string { return "" }, io.Discard)
		if err == nil {
			t.Errorf("--avatar-max-bytes=%s accepted", v)
		}
	}
	cfg, _, err := ParseConfig([]string{"--dev"}, func(k string) string {
		if k == "GATEHOUSE_AVATAR_MAX_BYTES" {
			return "500000"
		}
		return ""
	}, io.Discard)
	if err != nil || cfg.AvatarMaxBytes != 500000 {
		t.Fatalf("GATEHOUSE_AVATAR_MAX_BYTES=500000: %v, %v", cfg, err)
	}
	if def, _, err := ParseConfig([]string{"--dev"}, func(string) string { return "" }, io.Discard); err != nil || def.AvatarMaxBytes != 2<<20 {
		t.Fatalf("default: %v", err)
	}
}

// TestAvatarFixtures guards the test files: each is what its name says.
func TestAvatarFixtures(t *testing.T) {
	huge := fixture(t, "huge.png")
	if cfg, err := png.DecodeConfig(bytes.NewReader(huge)); err != nil || cfg.Width != 100000 || cfg.Height != 100000 || len(huge) > 1100 {
		t.Errorf("huge.png: %v, %dx%d, %d bytes; want a ~1 KB PNG claiming 100000x100000", err, cfg.Width, cfg.Height, len(huge))
	}
	poly := fixture(t, "polyglot.png")
	if _, err := png.Decode(bytes.NewReader(poly)); err != nil || !bytes.Contains(poly, []byte("<script>")) || !bytes.HasSuffix(poly, []byte("</html>")) {
		t.Errorf("polyglot.png must be a valid PNG carrying HTML with a script, inside and after it (%v)", err)
	}
	htmlFirst := fixture(t, "polyglot.html.png")
	if !bytes.HasPrefix(htmlFirst, []byte("<!doctype html>")) || !bytes.Contains(htmlFirst, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("polyglot.html.png must be HTML holding a PNG")
	}
	if s := fixture(t, "evil.svg"); !bytes.Contains(s, []byte("<svg")) || !bytes.Contains(s, []byte("<script")) {
		t.Error("evil.svg must be an SVG with a script")
	}
	if s := fixture(t, "script.png"); !bytes.Contains(s, []byte("<script>")) {
		t.Error("script.png must be HTML with a script")
	}
	if _, err := png.Decode(bytes.NewReader(fixture(t, "face.png"))); err != nil {
		t.Errorf("face.png: %v", err)
	}
}
