package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAPIDecodeJSONFields(t *testing.T) {
	allowed := []string{"email", "password", "totp_code"}
	tests := []struct {
		in   string
		want map[string]string
		err  error
	}{
		{`{"email":"a@b.c","password":"p"}`, map[string]string{"email": "a@b.c", "password": "p"}, nil},
		{" \n{ \"email\" : \"x\" }\n\t ", map[string]string{"email": "x"}, nil},
		{`{}`, map[string]string{}, nil},
		{`{"email":"\u00e9\ud83d\ude00"}`, map[string]string{"email": "é😀"}, nil},
		{``, nil, errJSONNotObject},
		{`   `, nil, errJSONNotObject},
		{`null`, nil, errJSONNotObject},
		{`"email"`, nil, errJSONNotObject},
		{`12`, nil, errJSONNotObject},
		{`[]`, nil, errJSONNotObject},
		{`[{"email":"x"}]`, nil, errJSONNotObject},
		{`{`, nil, errJSONSyntax},
		{`{"email"}`, nil, errJSONSyntax},
		{`{"email":"x",}`, nil, errJSONSyntax},
		{`{"email":"x" "password":"y"}`, nil, errJSONSyntax},
		{`{email:"x"}`, nil, errJSONSyntax},
		{`{'email':'x'}`, nil, errJSONSyntax},
		{`{"email":"x"`, nil, errJSONSyntax},
		{`{"email":"x"}}`, nil, errJSONTrailing},
		{`{"email":"x"}{}`, nil, errJSONTrailing},
		{`{"email":"x"} 1`, nil, errJSONTrailing},
		{`{"email":"x"} x`, nil, errJSONTrailing},
		{`{"email":1}`, nil, errJSONType},
		{`{"email":true}`, nil, errJSONType},
		{`{"email":null}`, nil, errJSONType},
		{`{"email":["x"]}`, nil, errJSONType},
		{`{"email":{"x":"y"}}`, nil, errJSONType},
		{`{"email":"x","email":"y"}`, nil, errJSONDuplicate},
		{`{"Email":"x"}`, nil, errJSONUnknown},
		{`{"admin":"true"}`, nil, errJSONUnknown},
		{`{"email":"x","csrf_token":"t"}`, nil, errJSONUnknown},
		{"{\"email\":\"\xff\"}", nil, errJSONEncoding},
		{"\xef\xbb\xbf{}", nil, errJSONSyntax}, // a byte order mark is not JSON
	}
	for _, tc := range tests {
		got, err := decodeJSONFields([]byte(tc.in), allowed...)
		if !errors.Is(err, tc.err) || (tc.err == nil && !equalFields(got, tc.want)) {
			t.Errorf("decodeJSONFields(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && got != nil {
			t.Errorf("decodeJSONFields(%q) returned fields with an error", tc.in)
		}
		if err != nil && err != errJSONUnknown && jsonProblemDetails[err] == "" {
			t.Errorf("no problem detail for %v", err)
		}
	}
	// Deep nesting is refused at the first value, without recursion.
	deep := `{"email":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	if _, err := decodeJSONFields([]byte(deep), allowed...); !errors.Is(err, errJSONType) {
		t.Errorf("deep nesting: %v", err)
	}
}

func equalFields(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAPIJSONMediaType(t *testing.T) {
	tests := []struct {
		in   []string
		want bool
	}{
		{[]string{"application/json"}, true},
		{[]string{"Application/JSON"}, true},
		{[]string{"application/json; charset=utf-8"}, true},
		{[]string{"application/json;charset=UTF-8"}, true},
		{nil, false},
		{[]string{""}, false},
		{[]string{"application/json", "application/json"}, false},
		{[]string{"application/json; charset=latin1"}, false},
		{[]string{"application/json; boundary=x"}, false},
		{[]string{"application/problem+json"}, false},
		{[]string{"text/json"}, false},
		{[]string{"application/x-www-form-urlencoded"}, false},
		{[]string{"text/plain"}, false},
		{[]string{"application/json;"}, true},
		{[]string{"application/json; charset"}, false},
	}
	for _, tc := range tests {
		if got := isJSONMediaType(tc.in); got != tc.want {
			t.Errorf("isJSONMediaType(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzAPIDecodeJSONFields checks that the strict body decoder never panics,
// accepts only what encoding/json also reads as an object of strings, and
// returns only allowed fields.
func FuzzAPIDecodeJSONFields(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","password":"p"}`, `{"refresh_token":"x"}`, `{}`, `[]`, `{"email":1}`,
		`{"email":"x","email":"y"}`, `{"email":"x"} {}`, "{\"email\":\"\\ud800\"}", `{"a":{"b":[1,2,{"c":null}]}}`} {
		f.Add([]byte(s))
	}
	allowed := []string{"email", "password", "totp_code", "refresh_token"}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSONFields(data, allowed...)
		if err != nil {
			if got != nil {
				t.Fatal("fields returned with an error")
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted invalid UTF-8")
		}
		var ref map[string]any
		if err := json.Unmarshal(data, &ref); err != nil || ref == nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if len(ref) != len(got) {
			t.Fatalf("accepted %q with %d fields, encoding/json sees %d", data, len(got), len(ref))
		}
		for k, v := range got {
			if !containsString(allowed, k) {
				t.Fatalf("returned unknown field %q", k)
			}
			if s, ok := ref[k].(string); !ok || s != v {
				t.Fatalf("field %q = %q, encoding/json reads %v", k, v, ref[k])
			}
		}
	})
}
