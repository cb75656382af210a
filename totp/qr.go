package totp

import (
	"errors"
	"fmt"

	"github.com/skip2/go-qrcode"
)

// Bounds on QR code images, in pixels per side.
const (
	// MinQRSize is the smallest image QRCodePNG makes.
	MinQRSize = 64
	// MaxQRSize is the largest image QRCodePNG makes.
	MaxQRSize = 1024
)

// ErrQRCode is returned by QRCodePNG for an empty or over-long URI or a
// size outside MinQRSize..MaxQRSize.
var ErrQRCode = errors.New("totp: cannot make QR code")

// QRCodePNG renders uri (normally Key.URI) as a square PNG image of size
// by size pixels, with medium (15%) error recovery. The image is made
// locally, so it can be served from the application's own origin or as a
// data: URI without any third party seeing the secret. If the code needs
// more pixels than size, the image is larger than asked (at most a few
// hundred pixels for a URI of MaxURILen bytes).
//
// The image carries the secret: serve it with Cache-Control: no-store.
func QRCodePNG(uri string, size int) ([]byte, error) {
	if uri == "" || len(uri) > MaxURILen || size < MinQRSize || size > MaxQRSize {
		return nil, ErrQRCode
	}
	png, err := qrcode.Encode(uri, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQRCode, err)
	}
	return png, nil
}
