package avatar

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"testing"

	"github.com/gatehouse/gatehouse/internal/avatar/avatartest"
	"github.com/gatehouse/gatehouse/internal/kit"
)

// readForm runs readAvatarForm over body (built by avBody), recording the
// tokens handed to onToken.
func readForm(body []byte, max int64, onToken func(string) error) (avatarForm, error) {
	return readAvatarForm(multipart.NewReader(bytes.NewReader(body), avatartest.Boundary), max, onToken)
}

func TestAvatarReadForm(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nrest")
	tok := avatartest.Part{Name: TokenField, Data: []byte("tok")}
	tests := []struct {
		name      string
		parts     []avatartest.Part
		wantErr   error
		wantImage string
		wantToken string
	}{
		{"picture and token", []avatartest.Part{tok, avatartest.FilePart("a.png", png)}, nil, string(png), "tok"},
		{"picture without a file name", []avatartest.Part{{Name: Field, Data: png}}, nil, string(png), ""},
		{"token after picture", []avatartest.Part{avatartest.FilePart("a.png", png), tok}, nil, string(png), "tok"},
		{"short extra field ignored", []avatartest.Part{{Name: "submit", Data: []byte("Upload")}, avatartest.FilePart("a.png", png)}, nil, string(png), ""},
		{"exactly the limit", []avatartest.Part{avatartest.FilePart("a.png", bytes.Repeat([]byte{1}, 64))}, nil, string(bytes.Repeat([]byte{1}, 64)), ""},
		{"one byte over", []avatartest.Part{avatartest.FilePart("a.png", bytes.Repeat([]byte{1}, 65))}, errAvatarTooLarge, "", ""},
		{"no parts", nil, errAvatarMissing, "", ""},
		{"empty picture", []avatartest.Part{avatartest.FilePart("", nil)}, errAvatarEmpty, "", ""},
		{"two pictures", []avatartest.Part{avatartest.FilePart("a.png", png), avatartest.FilePart("b.png", png)}, errAvatarTwice, "", ""},
		{"two tokens", []avatartest.Part{tok, tok, avatartest.FilePart("a.png", png)}, kit.ErrRepeatedField, "", ""},
		{"token as a file", []avatartest.Part{{Name: TokenField, Filename: "t.txt", Data: []byte("tok")}, avatartest.FilePart("a.png", png)}, errAvatarUnexpected, "", ""},
		{"long token", []avatartest.Part{{Name: TokenField, Data: bytes.Repeat([]byte("t"), avatarMaxTokenBytes+1)}, avatartest.FilePart("a.png", png)}, errAvatarUnexpected, "", ""},
		{"other file", []avatartest.Part{avatartest.FilePart("a.png", png), {Name: "x", Filename: "x", Data: png}}, errAvatarUnexpected, "", ""},
		{"long other field", []avatartest.Part{{Name: "x", Data: bytes.Repeat([]byte("x"), avatarMaxOtherBytes+1)}, avatartest.FilePart("a.png", png)}, errAvatarUnexpected, "", ""},
		{"no form name", []avatartest.Part{{Header: "Content-Disposition: form-data\r\n", Data: png}}, errAvatarUnexpected, "", ""},
		{"not form-data", []avatartest.Part{{Header: "Content-Disposition: attachment; name=\"avatar\"\r\n", Data: png}}, errAvatarUnexpected, "", ""},
		{"CR/LF in the file name", []avatartest.Part{{Header: "Content-Disposition: form-data; name=\"avatar\"; filename=\"a\r\n.png\"\r\n", Data: png}}, errAvatarMalformed, "", ""},
		{"too many parts", append(avatartest.Repeat(avatartest.Part{Name: "x", Data: []byte("1")}, avatarMaxParts), avatartest.FilePart("a.png", png)), errAvatarUnexpected, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := avatartest.Body(tc.parts...)
			var tokens []string
			f, err := readForm(body, 64, func(s string) error { tokens = append(tokens, s); return nil })
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if string(f.image) != tc.wantImage || f.token != tc.wantToken {
				t.Fatalf("form = %q, %q; want %q, %q", f.image, f.token, tc.wantImage, tc.wantToken)
			}
			if err == nil && tc.wantToken != "" && (len(tokens) != 1 || tokens[0] != tc.wantToken) {
				t.Fatalf("onToken saw %q", tokens)
			}
		})
	}
}

// The token callback runs before the picture is read, and its error ends
// the read: a forged upload is refused without reading the picture.
func TestAvatarReadFormStopsOnBadToken(t *testing.T) {
	body, _ := avatartest.Body(avatartest.Part{Name: TokenField, Data: []byte("forged")}, avatartest.FilePart("a.png", bytes.Repeat([]byte{1}, 1<<20)))
	r := &countingReader{r: bytes.NewReader(body)}
	forged := errors.New("forged")
	_, err := readAvatarForm(multipart.NewReader(r, avatartest.Boundary), 2<<20, func(string) error { return forged })
	if !errors.Is(err, forged) {
		t.Fatalf("err = %v", err)
	}
	if r.n > 64<<10 {
		t.Fatalf("read %d bytes after a bad token", r.n)
	}
}

// An oversized picture is not read past the limit.
func TestAvatarReadFormStopsAtTheLimit(t *testing.T) {
	head := []byte("--" + avatartest.Boundary + "\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\n")
	z := &avatartest.Zeros{N: 50 << 20}
	r := &countingReader{r: io.MultiReader(bytes.NewReader(head), z)}
	_, err := readAvatarForm(multipart.NewReader(r, avatartest.Boundary), 1<<20, nil)
	if !errors.Is(err, errAvatarTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if r.n > 1<<20+64<<10 {
		t.Fatalf("read %d bytes for a 1 MiB limit", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestAvatarFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{2 << 20: "2 MiB", 1024: "1 KiB", 1536 << 10: "1536 KiB", 3000000: "3000000 bytes", 0: "0 bytes"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
