package avatar

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/kit"
)

// Reading a picture upload. The body is streamed part by part with
// multipart.Reader: nothing is written to disk, the picture is held in
// memory only up to the size limit, and the client's file name and
// Content-Type are never read into anything we keep.

// Field names of the upload form.
const (
	// Field is the picture's field.
	Field = "avatar"
	// TokenField is the CSRF token's field.
	TokenField = "csrf_token"
)

// Bounds on the parts of an upload besides the picture.
const (
	avatarMaxParts      = 8    // parts in one body
	avatarMaxTokenBytes = 256  // the csrf_token value
	avatarMaxOtherBytes = 1024 // any other (ignored) text field
)

// Why an upload body was refused before its picture was looked at.
var (
	errAvatarTooLarge   = errors.New("avatar: picture too large")
	errAvatarMissing    = errors.New("avatar: no picture in the form")
	errAvatarEmpty      = errors.New("avatar: empty picture")
	errAvatarTwice      = errors.New("avatar: more than one picture")
	errAvatarUnexpected = errors.New("avatar: unexpected part")
	errAvatarMalformed  = errors.New("avatar: malformed multipart body")
)

// avatarForm is what an upload carried.
type avatarForm struct {
	image []byte // the avatar part: 1 to maxBytes bytes
	token string // the csrf_token field; "" when absent
}

// readAvatarForm reads a multipart upload: exactly one non-empty "avatar"
// part of at most maxBytes bytes, at most one short "csrf_token" field, and
// a few short text fields that are ignored. Any other file part, a repeated
// field, an oversized field or a malformed body is an error. It stops
// reading at the first error, so an oversized picture costs at most
// maxBytes+1 bytes of memory. onToken, when not nil, is called with the
// csrf_token value as soon as it is read; an error from it ends the read
// and is returned as is.
func readAvatarForm(mr *multipart.Reader, maxBytes int64, onToken func(string) error) (avatarForm, error) {
	var (
		f                   avatarForm
		haveImage, haveTokn bool
	)
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return avatarForm{}, bodyError(err)
		}
		if n >= avatarMaxParts {
			return avatarForm{}, errAvatarUnexpected
		}
		// FileName is only asked whether it is there: a file part. Its value
		// is never used.
		isFile := part.FileName() != ""
		switch name := part.FormName(); {
		case name == Field:
			if haveImage {
				return avatarForm{}, errAvatarTwice
			}
			haveImage = true
			img, over, err := readLimited(part, maxBytes)
			switch {
			case err != nil:
				return avatarForm{}, err
			case over:
				return avatarForm{}, errAvatarTooLarge
			case len(img) == 0:
				return avatarForm{}, errAvatarEmpty
			}
			f.image = img
		case name == TokenField && !isFile:
			if haveTokn {
				return avatarForm{}, kit.ErrRepeatedField
			}
			haveTokn = true
			v, over, err := readLimited(part, avatarMaxTokenBytes)
			switch {
			case err != nil:
				return avatarForm{}, err
			case over:
				return avatarForm{}, errAvatarUnexpected
			}
			f.token = string(v)
			if onToken != nil {
				if err := onToken(f.token); err != nil {
					return avatarForm{}, err
				}
			}
		case name == "" || isFile:
			// Not form data, or a file we did not ask for.
			return avatarForm{}, errAvatarUnexpected
		default:
			// A text field the form does not have (a named submit button,
			// say): tolerated if short, never kept.
			_, over, err := readLimited(part, avatarMaxOtherBytes)
			switch {
			case err != nil:
				return avatarForm{}, err
			case over:
				return avatarForm{}, errAvatarUnexpected
			}
		}
	}
	if !haveImage {
		return avatarForm{}, errAvatarMissing
	}
	return f, nil
}

// readLimited reads all of r if it holds at most max bytes; otherwise it
// stops after max+1 bytes and reports over.
func readLimited(r io.Reader, max int64) (data []byte, over bool, err error) {
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, false, bodyError(err)
	}
	return b.Bytes(), n > max, nil
}

// bodyError tells a body over the request limit (413) from a malformed one.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errAvatarTooLarge
	}
	return errAvatarMalformed
}
