// Package avatartest builds hand-made multipart uploads for the tests of
// profile pictures: headers are written raw, so a test can send what a
// careless or hostile client would. It imports only the standard library.
package avatartest

import (
	"bytes"
	"io"
	"sync/atomic"
)

// Boundary separates the parts of every body Body builds.
const Boundary = "gatehouse-test-boundary-7d1f"

// Part is one part of a hand-made multipart upload. Header, when set,
// replaces the part's whole header block (raw, CR/LF included).
type Part struct {
	Name, Filename, ContentType string
	Data                        []byte
	Header                      string
}

// Body builds a multipart body from parts; it returns the body and its
// Content-Type.
func Body(parts ...Part) ([]byte, string) {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--" + Boundary + "\r\n")
		if p.Header != "" {
			b.WriteString(p.Header)
		} else {
			cd := `form-data; name="` + p.Name + `"`
			if p.Filename != "" {
				cd += `; filename="` + p.Filename + `"`
			}
			b.WriteString("Content-Disposition: " + cd + "\r\n")
			if p.ContentType != "" {
				b.WriteString("Content-Type: " + p.ContentType + "\r\n")
			}
		}
		b.WriteString("\r\n")
		b.Write(p.Data)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + Boundary + "--\r\n")
	return b.Bytes(), "multipart/form-data; boundary=" + Boundary
}

// FilePart is the picture part a browser sends for a chosen file.
func FilePart(name string, data []byte) Part {
	return Part{Name: "avatar", Filename: name, ContentType: "application/octet-stream", Data: data}
}

// Repeat returns n copies of p.
func Repeat(p Part, n int) []Part {
	out := make([]Part, n)
	for i := range out {
		out[i] = p
	}
	return out
}

// Zeros yields N zero bytes without holding them, counting what was read.
// The count is atomic: a client's transport may still be reading after the
// answer arrived.
type Zeros struct {
	N    int64
	read atomic.Int64
}

// Read fills p with zeros until N bytes were read.
func (z *Zeros) Read(p []byte) (int, error) {
	done := z.read.Load()
	if done >= z.N {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.N-done)
	clear(p[:k])
	z.read.Add(k)
	return int(k), nil
}

// Count is how many bytes were read.
func (z *Zeros) Count() int64 { return z.read.Load() }
