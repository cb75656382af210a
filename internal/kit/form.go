package kit

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/mileusna/useragent"
)

// Body limits. Forms are small; uploads have their own, larger limit.
const (
	// MaxFormBytes bounds an urlencoded form body.
	MaxFormBytes = 64 << 10
	// MaxUploadBytes bounds a multipart body (a profile picture and its
	// form).
	MaxUploadBytes = 3 << 20
)

// Field length limits, checked before any work is done.
const (
	MaxEmailField    = 320
	MaxPasswordField = 1024 // the policy allows 256 characters; NFKC may grow them
	MaxNameField     = 256
)

// Why a form was refused before any handler saw it.
var (
	ErrRepeatedField = errors.New("a field was sent more than once")
	ErrBadEncoding   = errors.New("the form holds characters that are not valid UTF-8")
	ErrTooLarge      = errors.New("the request body is too large")
	ErrMediaType     = errors.New("unsupported form encoding")
)

// ParseForm reads an urlencoded form body (at most limit bytes) and the
// query string, refusing repeated fields and invalid UTF-8. Handlers then
// read r.PostForm and r.Form knowing each field has at most one value (a
// name once in the query and once in the body keeps the body's value). A
// form already parsed is checked again at no cost.
func ParseForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/x-www-form-urlencoded", "":
		default:
			return ErrMediaType
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrTooLarge
		}
		return err
	}
	if err := CheckValues(r.Form); !errors.Is(err, ErrRepeatedField) {
		return err
	}
	// A name in both the query and the body (a form posted to its own URL,
	// such as /login?next=/account with a next field) is not a repetition;
	// a name twice in the body, or twice in the query, is. The body's value
	// wins: it is the only one left in r.Form.
	if err := CheckValues(r.PostForm); err != nil {
		return err
	}
	if err := CheckValues(r.URL.Query()); err != nil {
		return err
	}
	for k, vs := range r.Form {
		if len(vs) > 1 {
			r.Form[k] = vs[:1]
		}
	}
	return nil
}

// CheckValues refuses a field sent more than once and names or values that
// are not valid UTF-8.
func CheckValues(vals map[string][]string) error {
	for k, vs := range vals {
		if len(vs) > 1 {
			return ErrRepeatedField
		}
		if !utf8.ValidString(k) {
			return ErrBadEncoding
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return ErrBadEncoding
			}
		}
	}
	return nil
}

// FormError answers a form that could not be read: 413, 415 or 400.
func (k *Kit) FormError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrTooLarge):
		k.ErrorPage(w, r, http.StatusRequestEntityTooLarge, "")
	case errors.Is(err, ErrMediaType):
		k.ErrorPage(w, r, http.StatusUnsupportedMediaType, "Send the form as application/x-www-form-urlencoded.")
	case errors.Is(err, ErrRepeatedField):
		k.ErrorPage(w, r, http.StatusBadRequest, "A field was sent more than once.")
	case errors.Is(err, ErrBadEncoding):
		k.ErrorPage(w, r, http.StatusBadRequest, "The form holds characters that are not valid text.")
	default:
		k.ErrorPage(w, r, http.StatusBadRequest, "")
	}
}

// ReadForm is ParseForm with MaxFormBytes; on failure it has answered and
// returns false.
func (k *Kit) ReadForm(w http.ResponseWriter, r *http.Request) bool {
	if err := ParseForm(w, r, MaxFormBytes); err != nil {
		k.FormError(w, r, err)
		return false
	}
	return true
}

// FormGuard reads and checks every form before CSRF protection or a handler
// sees it: bounded size (413), one value per field and valid UTF-8 (400), and
// only form encodings on browser routes (415). A multipart body is only
// bounded (MaxUploadBytes); its handler reads it.
func (k *Kit) FormGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
				r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes)
				next.ServeHTTP(w, r)
				return
			}
		}
		if !k.ReadForm(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// PathID reads the positive integer path value {id} (at most 19 digits).
func PathID(r *http.Request) (int64, bool) {
	v := r.PathValue("id")
	if len(v) > 19 {
		return 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0
}

// URLValues encodes key/value pairs as a query string, skipping empty
// values.
func URLValues(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v.Encode()
}

// DescribeAgent names the browser (with its major version) and the system
// of a User-Agent header, for people: "Firefox 128", "Linux".
func DescribeAgent(ua string) (browser, os string) {
	if ua == "" {
		return "Unknown browser", "unknown system"
	}
	p := useragent.Parse(ua)
	browser, os = p.Name, p.OS
	if browser == "" {
		browser = "Unknown browser"
	}
	if p.Version != "" {
		if major, _, ok := cutDot(p.Version); ok {
			browser += " " + major
		}
	}
	if os == "" {
		os = "unknown system"
	}
	return browser, os
}

func cutDot(v string) (string, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == '.' {
			return v[:i], v[i+1:], true
		}
	}
	return v, "", v != ""
}
