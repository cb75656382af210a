package imagesafe_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/imagesafe"
)

func ExampleProcess() {
	// An upload: a 640x480 opaque PNG.
	src := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.RGBA{0x20, 0x60, 0xc0, 0xff}), image.Point{}, draw.Src)
	var upload bytes.Buffer
	if err := png.Encode(&upload, src); err != nil {
		log.Fatal(err)
	}

	res, err := imagesafe.Process(&upload, imagesafe.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ContentType, res.Width, res.Height, res.Source, len(res.SHA256))
	// Output:
	// image/jpeg 256 256 png 64
}

func ExampleProcess_refused() {
	for _, upload := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		"GIF89a...",
		"",
	} {
		_, err := imagesafe.Process(strings.NewReader(upload), imagesafe.Options{})
		fmt.Println(errors.Is(err, imagesafe.ErrUnsupportedType))
	}
	// Output:
	// true
	// true
	// true
}

// In an upload handler, map the errors to statuses.
func ExampleProcess_handler() {
	status := func(err error) int {
		switch {
		case err == nil:
			return http.StatusOK
		case errors.Is(err, imagesafe.ErrTooLarge):
			return http.StatusRequestEntityTooLarge
		case errors.Is(err, imagesafe.ErrUnsupportedType):
			return http.StatusUnsupportedMediaType
		default: // ErrTooManyPixels, ErrBadDimensions, ErrCorrupt
			return http.StatusUnprocessableEntity
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.NRGBA{A: 0}) // transparent: the output stays PNG
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	res, err := imagesafe.Process(&b, imagesafe.Options{MaxBytes: 1 << 20})
	fmt.Println(status(err), res.ContentType, res.Ext())
	_, err = imagesafe.Process(strings.NewReader(strings.Repeat("x", 100)), imagesafe.Options{MaxBytes: 10})
	fmt.Println(status(err))
	// Output:
	// 200 image/png .png
	// 413
}
