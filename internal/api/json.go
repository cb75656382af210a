package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSON bodies and RFC 9457 problem answers of the JSON API.

// maxJSONBytes bounds a JSON request body.
const maxJSONBytes = 16 << 10

// Problem is one kind of API error: its RFC 9457 type, title and
// status, and the default detail. The texts never carry internal detail.
type Problem struct {
	Type   string
	Title  string
	Status int
	Detail string
}

// problemBase prefixes the types of Gatehouse's own problems
// (docs/api.md lists them). Generic HTTP errors use "about:blank".
const problemBase = "urn:gatehouse:problem:"

// The problems the API answers with. docs/openapi.yaml documents them.
var (
	ProblemInvalidToken = Problem{"about:blank", "Unauthorized", http.StatusUnauthorized,
		"The access token is missing, invalid or expired."}
	ProblemInvalidRefresh = Problem{"about:blank", "Unauthorized", http.StatusUnauthorized,
		"The refresh token is invalid, expired or revoked. Sign in again."}
	ProblemCredentials = Problem{problemBase + "invalid-credentials", "Invalid credentials", http.StatusUnauthorized,
		"The email address, password or code is not correct."}
	ProblemSecondFactor = Problem{problemBase + "second-factor-required", "Second factor required", http.StatusUnauthorized,
		"This account uses two-factor authentication: send the current code from the authenticator app, or a recovery code, in totp_code."}
	ProblemUnverified = Problem{problemBase + "email-unverified", "Email address not verified", http.StatusForbidden,
		"Verify your email first: follow the link we sent you, then ask for a token again."}
	ProblemMalformed = Problem{problemBase + "malformed-json", "Malformed JSON body", http.StatusBadRequest,
		"The body must be a single JSON object whose values are strings."}
	ProblemUnknownField = Problem{problemBase + "unknown-field", "Unknown field", http.StatusBadRequest, ""}
	ProblemMissingField = Problem{problemBase + "missing-field", "Missing field", http.StatusBadRequest, ""}
	ProblemMediaType    = Problem{"about:blank", "Unsupported Media Type", http.StatusUnsupportedMediaType,
		"Send the body as application/json."}
	ProblemTooLarge = Problem{"about:blank", "Content Too Large", http.StatusRequestEntityTooLarge,
		"The body is larger than 16 KiB."}
	ProblemTooMany = Problem{"about:blank", "Too Many Requests", http.StatusTooManyRequests,
		"Too many attempts. Wait as long as Retry-After says, then try again."}
	ProblemNotFound = Problem{"about:blank", "Not Found", http.StatusNotFound,
		"There is no API resource at this address."}
	ProblemMethod = Problem{"about:blank", "Method Not Allowed", http.StatusMethodNotAllowed,
		"This resource does not accept that method; see the Allow header."}
	ProblemUnavailable = Problem{"about:blank", "Service Unavailable", http.StatusServiceUnavailable,
		"The service is busy or briefly unavailable. Try again in a moment."}
	ProblemInternal = Problem{"about:blank", "Internal Server Error", http.StatusInternalServerError,
		"Something went wrong on our side. Try again."}
)

// ProblemBody is the JSON of a problem answer.
type ProblemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// writeProblem answers with p as application/problem+json; detail, if not
// empty, replaces p's default detail. It must be a fixed text, never input
// or an internal error.
func writeProblem(w http.ResponseWriter, p Problem, detail string) {
	if detail == "" {
		detail = p.Detail
	}
	body, _ := json.Marshal(ProblemBody{Type: p.Type, Title: p.Title, Status: p.Status, Detail: detail})
	writeBody(w, p.Status, "application/problem+json", body)
}

// writeJSON answers 200 with v as application/json.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, ProblemInternal, "")
		return
	}
	writeBody(w, http.StatusOK, "application/json", body)
}

// writeBody answers a JSON body, never cached: API answers carry tokens or
// personal data.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// invalidToken answers 401 with the one Bearer challenge and body that
// every refused access or refresh token gets, whatever the reason.
func invalidToken(w http.ResponseWriter, p Problem) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeProblem(w, p, "")
}

// Reasons a JSON body is refused (see decodeJSONFields).
var (
	errJSONSyntax    = errors.New("app: body is not valid JSON")
	errJSONNotObject = errors.New("app: body is not a single JSON object")
	errJSONTrailing  = errors.New("app: data after the JSON object")
	errJSONEncoding  = errors.New("app: body is not valid UTF-8")
	errJSONType      = errors.New("app: a field is not a string")
	errJSONDuplicate = errors.New("app: a field appears twice")
	errJSONUnknown   = errors.New("app: unknown field")
)

// jsonProblemDetails are the fixed details of the errors above.
var jsonProblemDetails = map[error]string{
	errJSONSyntax:    "The body is not valid JSON.",
	errJSONNotObject: "The body must be a single JSON object.",
	errJSONTrailing:  "The body must hold one JSON object and nothing after it.",
	errJSONEncoding:  "The body is not valid UTF-8.",
	errJSONType:      "Every field must be a JSON string.",
	errJSONDuplicate: "A field appears more than once.",
}

// decodeJSONFields parses data as one JSON object whose members are all
// strings, named only from allowed, each at most once, with nothing but
// whitespace after it. It never panics and does work linear in len(data).
func decodeJSONFields(data []byte, allowed ...string) (map[string]string, error) {
	if !utf8.Valid(data) {
		return nil, errJSONEncoding
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errJSONNotObject
		}
		return nil, errJSONSyntax
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errJSONNotObject // an array or a scalar
	}
	fields := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errJSONSyntax
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errJSONSyntax
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, errJSONSyntax
		}
		value, ok := tok.(string)
		if !ok {
			return nil, errJSONType
		}
		if !containsString(allowed, name) {
			return nil, errJSONUnknown
		}
		if _, dup := fields[name]; dup {
			return nil, errJSONDuplicate
		}
		fields[name] = value
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errJSONSyntax
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, errJSONTrailing
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, errJSONTrailing
		}
		return nil, errJSONSyntax
	}
	return fields, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readJSONFields reads the request body as decodeJSONFields does, after
// checking its media type (415) and size (413). On failure it has answered
// with a problem and returns false.
func readJSONFields(w http.ResponseWriter, r *http.Request, allowed ...string) (map[string]string, bool) {
	if !isJSONMediaType(r.Header.Values("Content-Type")) {
		writeProblem(w, ProblemMediaType, "")
		return nil, false
	}
	if r.ContentLength > maxJSONBytes {
		writeProblem(w, ProblemTooLarge, "")
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, ProblemTooLarge, "")
		} else {
			writeProblem(w, ProblemMalformed, "The body could not be read.")
		}
		return nil, false
	}
	fields, err := decodeJSONFields(data, allowed...)
	switch {
	case errors.Is(err, errJSONUnknown):
		writeProblem(w, ProblemUnknownField, "This endpoint accepts only the fields "+quoteList(allowed)+".")
		return nil, false
	case err != nil:
		writeProblem(w, ProblemMalformed, jsonProblemDetails[err])
		return nil, false
	}
	return fields, true
}

// isJSONMediaType reports whether the Content-Type header is exactly one
// application/json, with at most a UTF-8 charset parameter.
func isJSONMediaType(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// requireFields answers 400 missing-field unless every named field is
// present and not empty.
func requireFields(w http.ResponseWriter, fields map[string]string, names ...string) bool {
	for _, n := range names {
		if strings.TrimSpace(fields[n]) == "" {
			writeProblem(w, ProblemMissingField, "This endpoint needs the fields "+quoteList(names)+", each a non-empty string.")
			return false
		}
	}
	return true
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
