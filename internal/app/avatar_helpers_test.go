package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/avatar"
	"github.com/gatehouse/gatehouse/internal/avatar/avatartest"
)

// postUpload sends body as a same-origin browser would, without adding a
// token: tests put the csrf_token part (or header) in themselves.
func (b *browser) postUpload(body io.Reader, ctype string, size int64) *response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.ts.URL+"/account/avatar", body)
	req.ContentLength = size
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Origin", b.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// upload posts parts after a csrf_token part taken from /account.
func (b *browser) upload(parts ...avatartest.Part) *response {
	b.t.Helper()
	all := append([]avatartest.Part{{Name: avatar.TokenField, Data: []byte(b.token("/account"))}}, parts...)
	body, ctype := avatartest.Body(all...)
	return b.postUpload(bytes.NewReader(body), ctype, int64(len(body)))
}

var avatarSrc = regexp.MustCompile(`<img class="avatar" id="avatar-current" src="(/avatars/[A-Za-z0-9_-]{22})"`)

// avatarURL is the picture URL the account page shows, or "".
func (b *browser) avatarURL() string {
	b.t.Helper()
	r := b.get("/account").want(b.t, http.StatusOK)
	if m := avatarSrc.FindStringSubmatch(r.body); m != nil {
		return m[1]
	}
	if !strings.Contains(r.body, `id="avatar-none"`) {
		b.t.Fatalf("account page shows neither a picture nor its absence:\n%s", trim(r.body))
	}
	return ""
}

// picture is a served picture: its URL and bytes.
type picture struct {
	url  string
	body string
}

// currentPicture fetches the picture the account page shows.
func (b *browser) currentPicture() picture {
	b.t.Helper()
	u := b.avatarURL()
	if u == "" {
		return picture{}
	}
	r := b.get(u).want(b.t, http.StatusOK)
	return picture{url: u, body: r.body}
}

// mustUnchanged fails unless the user's picture is still want.
func (b *browser) mustUnchanged(want picture) {
	b.t.Helper()
	if got := b.currentPicture(); got != want {
		b.t.Fatalf("the stored picture changed: %q (%d bytes), was %q (%d bytes)", got.url, len(got.body), want.url, len(want.body))
	}
}

// fixture reads a file of testdata/avatar.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "avatar", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newAvatarUser registers and signs in a fresh user.
func newAvatarUser(ts *testServer, n *atomic.Int64) *browser {
	ts.t.Helper()
	b := ts.browser()
	email := fmt.Sprintf("pic%d@example.com", n.Add(1))
	b.register(email, goodPassword)
	b.signIn(email, goodPassword)
	return b
}

// withPicture uploads face.png for b's user and returns the stored picture.
func (b *browser) withPicture() picture {
	b.t.Helper()
	b.upload(avatartest.FilePart("face.png", fixture(b.t, "face.png"))).redirect(b.t, "/account")
	pic := b.currentPicture()
	if pic.url == "" {
		b.t.Fatal("no picture after upload")
	}
	return pic
}

// avatarServerArgs lift the per-IP limits that a test making many users
// from one address would meet.
var avatarServerArgs = []string{"--register-limit=10000/hour", "--login-ip-limit=10000/hour"}

// progressiveClaim turns a baseline JPEG into a tiny progressive one whose
// header claims w x h pixels and that carries almost no data.
func progressiveClaim(t testing.TB, jpg []byte, w, h int) []byte {
	t.Helper()
	b := append([]byte{}, jpg...)
	i := bytes.Index(b, []byte{0xff, 0xc0})
	j := bytes.Index(b, []byte{0xff, 0xda})
	if i < 0 || j < 0 {
		t.Fatal("fixture has no SOF0 or SOS")
	}
	b[i+1] = 0xc2
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	n := int(binary.BigEndian.Uint16(b[j+2:]))
	b[j+2+n-3], b[j+2+n-2] = 0, 0 // a DC-only first scan
	return b[:j+2+n+16]
}

// jpegMetadata lists the APPn and COM segments of a JPEG, and reports
// whether an Exif segment holds a GPS IFD pointer (tag 0x8825) in IFD0.
func jpegMetadata(b []byte) (segments []string, gps bool) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, false
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return segments, gps
		}
		m := b[i+1]
		if m == 0xda || m == 0xd9 { // start of scan: no more metadata
			return segments, gps
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return segments, gps
		}
		seg := b[i+4 : i+2+n]
		if m >= 0xe0 && m <= 0xef || m == 0xfe {
			segments = append(segments, fmt.Sprintf("%02X", m))
		}
		if m == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			gps = gps || tiffHasGPS(seg[6:])
		}
		i += 2 + n
	}
	return segments, gps
}

func tiffHasGPS(t []byte) bool {
	if len(t) < 8 {
		return false
	}
	var bo binary.ByteOrder = binary.BigEndian
	if string(t[:2]) == "II" {
		bo = binary.LittleEndian
	}
	off := int(bo.Uint32(t[4:]))
	if off+2 > len(t) {
		return false
	}
	n := int(bo.Uint16(t[off:]))
	for k := 0; k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return false
		}
		if bo.Uint16(t[e:]) == 0x8825 {
			return true
		}
	}
	return false
}
