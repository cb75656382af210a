// Package imagesafe turns untrusted uploads (profile pictures) into small,
// freshly encoded images, accepting only what it can re-create.
//
// [Process] reads at most [Options.MaxBytes] (plus one byte to detect
// excess), recognises the format by its magic number only (PNG, JPEG or
// WebP; the file name and the declared content type are never consulted),
// reads the pixel dimensions from the header and refuses images that are
// empty or larger than the limits before decoding a single pixel, then
// decodes, crops a centred square, scales it down to at most
// [Options.OutputSize] pixels a side and encodes it again with the standard
// library's PNG or JPEG encoder.
//
// The original bytes are never returned: metadata (EXIF with GPS
// positions, XMP, ICC profiles, comments), trailing data after the image
// and any payload of a polyglot file do not survive re-encoding. SVG, GIF,
// HTML, scripts and everything else that does not start with a real PNG,
// JPEG or WebP header are refused with [ErrUnsupportedType].
//
// # Errors and HTTP statuses
//
//	ErrTooLarge          413  more than MaxBytes
//	ErrUnsupportedType   415  empty input, or not PNG, JPEG or WebP by its bytes
//	ErrTooManyPixels     422  wider than MaxWidth, taller than MaxHeight, or over MaxPixels
//	ErrBadDimensions     422  a zero width or height
//	ErrCorrupt           422  truncated or malformed image data
//
// # Output
//
// With the default [FormatAuto], an image that has any transparent pixel is
// written as PNG (image/png, 8-bit NRGBA), every other image as JPEG
// (image/jpeg, quality 85). [FormatPNG] and [FormatJPEG] force one format;
// forced JPEG puts transparent areas on white.
//
// # Resources
//
// Decoding allocates memory in proportion to the pixel count, which the
// limits bound before decoding starts: about 4 bytes a pixel for PNG and
// WebP, 1.5 to 3 for baseline JPEG, and 7.5 to 15 for progressive JPEG,
// whose decoder keeps every DCT coefficient. A progressive JPEG header of a
// few hundred bytes that claims 4096x4096 makes the decoder allocate about
// 120 MiB (4:2:0) to 240 MiB (4:4:4) before it finds the data missing.
// Servers should therefore run only a few Process calls at a time (a
// semaphore around it) and may lower MaxPixels (or MaxWidth and MaxHeight):
// peak memory is about 15 bytes times MaxPixels per call.
package imagesafe

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Errors of Process. They are returned wrapped; test with errors.Is.
var (
	// ErrTooLarge means the input is longer than Options.MaxBytes.
	ErrTooLarge = errors.New("imagesafe: image too large")
	// ErrUnsupportedType means the input is empty or does not start with a
	// PNG, JPEG or WebP header.
	ErrUnsupportedType = errors.New("imagesafe: unsupported image type")
	// ErrTooManyPixels means the header declares a width or height above
	// Options.MaxWidth or Options.MaxHeight, or more than Options.MaxPixels.
	ErrTooManyPixels = errors.New("imagesafe: image dimensions too large")
	// ErrBadDimensions means the header declares a zero (or negative)
	// width or height.
	ErrBadDimensions = errors.New("imagesafe: bad image dimensions")
	// ErrCorrupt means the image data is truncated or malformed.
	ErrCorrupt = errors.New("imagesafe: corrupt image")
)

// Defaults of Options.
const (
	DefaultMaxBytes    = 2 << 20
	DefaultMaxWidth    = 4096
	DefaultMaxHeight   = 4096
	DefaultOutputSize  = 256
	DefaultJPEGQuality = 85
	// MaxOutputSize caps Options.OutputSize.
	MaxOutputSize = 4096
)

// Format selects the output encoding.
type Format int

const (
	// FormatAuto writes PNG for images with transparency, JPEG otherwise.
	FormatAuto Format = iota
	// FormatPNG always writes PNG.
	FormatPNG
	// FormatJPEG always writes JPEG; transparent areas become white.
	FormatJPEG
)

// Content types of the output.
const (
	ContentTypePNG  = "image/png"
	ContentTypeJPEG = "image/jpeg"
)

// Options bound the work Process does. The zero value gives the defaults.
type Options struct {
	// MaxBytes is the largest input accepted (DefaultMaxBytes, 2 MiB).
	MaxBytes int64
	// MaxWidth and MaxHeight are the largest pixel dimensions accepted
	// (DefaultMaxWidth and DefaultMaxHeight, 4096).
	MaxWidth, MaxHeight int
	// MaxPixels is the largest width*height accepted; by default
	// MaxWidth*MaxHeight. Lower it to bound the memory of one call.
	MaxPixels int64
	// OutputSize is the side of the square output (DefaultOutputSize, 256;
	// at most MaxOutputSize). Smaller images are not enlarged: the output
	// side is min(OutputSize, width, height).
	OutputSize int
	// Format is the output encoding (FormatAuto).
	Format Format
	// JPEGQuality is the JPEG quality, 1 to 100 (DefaultJPEGQuality, 85).
	JPEGQuality int
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxWidth <= 0 {
		o.MaxWidth = DefaultMaxWidth
	}
	if o.MaxHeight <= 0 {
		o.MaxHeight = DefaultMaxHeight
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = int64(o.MaxWidth) * int64(o.MaxHeight)
	}
	if o.OutputSize <= 0 {
		o.OutputSize = DefaultOutputSize
	}
	o.OutputSize = min(o.OutputSize, MaxOutputSize)
	if o.JPEGQuality <= 0 || o.JPEGQuality > 100 {
		o.JPEGQuality = DefaultJPEGQuality
	}
	return o
}

// Result is a re-encoded image.
type Result struct {
	// Data is the new image; it shares nothing with the input.
	Data []byte
	// ContentType is ContentTypePNG or ContentTypeJPEG.
	ContentType string
	// Width and Height of Data, in pixels (equal: the output is square).
	Width, Height int
	// SHA256 is the hex SHA-256 of Data, usable in URLs and ETags.
	SHA256 string
	// Source is the detected input format: "png", "jpeg" or "webp".
	Source string
}

// Ext returns the file extension of the output: ".png" or ".jpg".
func (r Result) Ext() string {
	if r.ContentType == ContentTypePNG {
		return ".png"
	}
	return ".jpg"
}

type codec struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var (
	pngCodec  = codec{"png", png.DecodeConfig, png.Decode}
	jpegCodec = codec{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	webpCodec = codec{"webp", webp.DecodeConfig, webp.Decode}
)

// sniff recognises the format from the first bytes only.
func sniff(b []byte) (codec, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return pngCodec, true
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return jpegCodec, true
	case len(b) >= 16 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" &&
		(string(b[12:16]) == "VP8 " || string(b[12:16]) == "VP8L" || string(b[12:16]) == "VP8X"):
		return webpCodec, true
	}
	return codec{}, false
}

// Process reads an untrusted image from r and returns it re-encoded as a
// square of at most opts.OutputSize pixels a side. It reads at most
// opts.MaxBytes+1 bytes from r. See the package documentation for the
// errors and the output format.
func Process(r io.Reader, opts Options) (Result, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return Result{}, fmt.Errorf("imagesafe: read: %w", err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return Result{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, opts.MaxBytes)
	}
	c, ok := sniff(data)
	if !ok {
		return Result{}, fmt.Errorf("%w: not PNG, JPEG or WebP", ErrUnsupportedType)
	}
	if w, h, ok := pngIHDR(data); ok {
		// Judge the declared size before the decoder does, so that a zero
		// or huge IHDR gets the precise error.
		if err := checkDims(w, h, opts); err != nil {
			return Result{}, err
		}
	}
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s header: %v", ErrCorrupt, c.name, err)
	}
	if err := checkDims(int64(cfg.Width), int64(cfg.Height), opts); err != nil {
		return Result{}, err
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, c.name, err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return Result{}, fmt.Errorf("%w: %s: header says %dx%d, pixels are %dx%d", ErrCorrupt, c.name, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}

	side := min(b.Dx(), b.Dy())
	src := image.Rect(0, 0, side, side).Add(b.Min).Add(image.Pt((b.Dx()-side)/2, (b.Dy()-side)/2))
	n := min(opts.OutputSize, side)
	format := opts.Format
	if format == FormatAuto {
		format = FormatJPEG
		if !opaque(img) {
			format = FormatPNG
		}
	}
	var buf bytes.Buffer
	res := Result{Width: n, Height: n, Source: c.name}
	switch format {
	case FormatPNG:
		dst := image.NewNRGBA(image.Rect(0, 0, n, n))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, src, draw.Src, nil)
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		err = enc.Encode(&buf, dst)
		res.ContentType = ContentTypePNG
	default:
		dst := image.NewRGBA(image.Rect(0, 0, n, n))
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, src, draw.Over, nil)
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: opts.JPEGQuality})
		res.ContentType = ContentTypeJPEG
	}
	if err != nil {
		return Result{}, fmt.Errorf("imagesafe: encode: %w", err)
	}
	res.Data = buf.Bytes()
	sum := sha256.Sum256(res.Data)
	res.SHA256 = hex.EncodeToString(sum[:])
	return res, nil
}

func checkDims(w, h int64, opts Options) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %dx%d", ErrBadDimensions, w, h)
	}
	if w > int64(opts.MaxWidth) || h > int64(opts.MaxHeight) {
		return fmt.Errorf("%w: %dx%d is over %dx%d", ErrTooManyPixels, w, h, opts.MaxWidth, opts.MaxHeight)
	}
	if w*h > opts.MaxPixels {
		return fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooManyPixels, w, h, opts.MaxPixels)
	}
	return nil
}

// pngIHDR returns the dimensions a PNG declares in its first chunk, when
// that chunk is a well-formed IHDR.
func pngIHDR(b []byte) (w, h int64, ok bool) {
	if len(b) < 24 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) ||
		binary.BigEndian.Uint32(b[8:12]) != 13 || string(b[12:16]) != "IHDR" {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint32(b[16:20])), int64(binary.BigEndian.Uint32(b[20:24])), true
}

// opaque reports whether every pixel of img is fully opaque.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return false
			}
		}
	}
	return true
}
