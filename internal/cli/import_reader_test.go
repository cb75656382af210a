package cli

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/password"
)

// readAllImport reads every row; fatal is the error that stopped it.
func readAllImport(data, format string) (recs []importRecord, fatal error) {
	r, err := newImportReader(strings.NewReader(data), format)
	if err != nil {
		return nil, err
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

const importCSVHeader = "email,password_hash,display_name,roles,email_verified,created_at\n"

func TestImportReaderRows(t *testing.T) {
	tests := []struct {
		name, format, data string
		want               []importRecord
	}{
		{"csv", importCSV, importCSVHeader + "a@example.com,h1,Ada,\"user,admin\",true,2020-01-02T03:04:05Z\r\nb@example.com,h2,,,,\n",
			[]importRecord{
				{Line: 2, Row: account.ImportRow{Email: "a@example.com", PasswordHash: "h1", DisplayName: "Ada", Roles: []string{"user", "admin"}, EmailVerified: "true", CreatedAt: "2020-01-02T03:04:05Z"}},
				{Line: 3, Row: account.ImportRow{Email: "b@example.com", PasswordHash: "h2"}},
			}},
		{"csv bom, columns reordered and partial, no final newline", importCSV, "\xEF\xBB\xBF Password_Hash ,EMAIL\nh,a@example.com",
			[]importRecord{{Line: 2, Row: account.ImportRow{Email: "a@example.com", PasswordHash: "h"}}}},
		{"csv quoted newline keeps line numbers", importCSV, importCSVHeader + "a@example.com,h,\"two\nlines\",,,\n\nb@example.com,h,,user admin,,\n",
			[]importRecord{
				{Line: 2, Row: account.ImportRow{Email: "a@example.com", PasswordHash: "h", DisplayName: "two\nlines"}},
				{Line: 5, Row: account.ImportRow{Email: "b@example.com", PasswordHash: "h", Roles: []string{"user", "admin"}}},
			}},
		{"csv wrong field count", importCSV, importCSVHeader + "a@example.com,h\n", []importRecord{{Line: 2, Err: errors.New("2 fields, but the header has 6")}}},
		{"csv not utf-8", importCSV, importCSVHeader + "a@example.com,h,Andr\xe9,,,\n", []importRecord{{Line: 2, Err: errors.New("not valid UTF-8 (save the file as UTF-8)")}}},
		{"jsonl", importJSONL, "\xEF\xBB\xBF{\"email\":\"a@example.com\",\"password_hash\":\"h\",\"roles\":[\"user\",\"admin\"],\"email_verified\":true,\"display_name\":null}\r\n\n  \n" +
			`{"email":"b@example.com","password_hash":"h","roles":"admin","email_verified":"false","created_at":"2020-01-02T03:04:05Z"}`,
			[]importRecord{
				{Line: 1, Row: account.ImportRow{Email: "a@example.com", PasswordHash: "h", Roles: []string{"user", "admin"}, EmailVerified: "true"}},
				{Line: 4, Row: account.ImportRow{Email: "b@example.com", PasswordHash: "h", Roles: []string{"admin"}, EmailVerified: "false", CreatedAt: "2020-01-02T03:04:05Z"}},
			}},
		{"jsonl bad lines", importJSONL, strings.Join([]string{
			`{"email":"a@example.com","password_hash":"h"`,
			`["a@example.com"]`,
			`{"email":"a@example.com","id":7}`,
			`{"email":"a@example.com","email":"b@example.com"}`,
			`{"email":7}`,
			`{"email":["a"]}`,
			`{"roles":[1]}`,
			`{"display_name":true}`,
			`{"email":"a@example.com"} {"email":"b@example.com"}`,
			"{\"email\":\"Andr\xe9@example.com\"}",
			`{"email":"a@example.com",}`,
			`{"roles":{"a":1}}`,
		}, "\n"), []importRecord{
			{Line: 1, Err: errors.New("malformed JSON")},
			{Line: 2, Err: errors.New("not a JSON object")},
			{Line: 3, Err: errors.New(`unknown key "id" (want email, password_hash, display_name, roles, email_verified, created_at)`)},
			{Line: 4, Err: errors.New("key email appears twice")},
			{Line: 5, Err: errors.New("email: want a string, got a number")},
			{Line: 6, Err: errors.New("email: want a string, got an array")},
			{Line: 7, Err: errors.New("roles: want an array of strings")},
			{Line: 8, Err: errors.New("display_name: want a string, got a boolean")},
			{Line: 9, Err: errors.New("more than one JSON value on the line")},
			{Line: 10, Err: errors.New("not valid UTF-8 (save the file as UTF-8)")},
			{Line: 11, Err: errors.New("malformed JSON at byte 25")},
			{Line: 12, Err: errors.New("roles: want a string, got an object")},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAllImport(tc.data, tc.format)
			if err != nil {
				t.Fatalf("fatal error %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Line != w.Line || !importRowsEqual(g.Row, w.Row) && w.Err == nil || (g.Err == nil) != (w.Err == nil) ||
					g.Err != nil && g.Err.Error() != w.Err.Error() {
					t.Errorf("row %d = %+v (err %v)\nwant     %+v (err %v)", i, g, g.Err, w, w.Err)
				}
			}
		})
	}
}

func importRowsEqual(a, b account.ImportRow) bool {
	return a.Email == b.Email && a.PasswordHash == b.PasswordHash && a.DisplayName == b.DisplayName &&
		slices.Equal(a.Roles, b.Roles) && a.EmailVerified == b.EmailVerified && a.CreatedAt == b.CreatedAt
}

func TestImportReaderFileErrors(t *testing.T) {
	long := strings.Repeat("x", maxImportRecord+1)
	tests := []struct {
		name, format, data, want string
	}{
		{"csv empty", importCSV, "", "the file is empty; want a header row: email,password_hash,display_name,roles,email_verified,created_at"},
		{"csv utf-16", importCSV, "\xFF\xFEe\x00m\x00", "the file is UTF-16; save it as UTF-8"},
		{"jsonl utf-16", importJSONL, "\xFE\xFF\x00{", "the file is UTF-16; save it as UTF-8"},
		{"csv unknown column", importCSV, "email,password_hash,id\n", `line 1: unknown column "id" in the header (want email, password_hash, display_name, roles, email_verified, created_at; rename or drop other columns in the export)`},
		{"csv repeated column", importCSV, "email,password_hash,Email\n", "line 1: column email appears twice in the header"},
		{"csv missing column", importCSV, "email,display_name\n", "line 1: the header has no password_hash column (want email,password_hash,display_name,roles,email_verified,created_at)"},
		{"csv header not utf-8", importCSV, "email,password_hash,\xff\n", "line 1: the header is not valid UTF-8"},
		{"csv bare quote", importCSV, importCSVHeader + "a@example.com,h,,,,\nb@example.com,h,Zoe \"Z\",,,\n",
			`line 3: broken CSV quoting: a " inside an unquoted field (column 21); quote the field and double the "`},
		{"csv unclosed quote", importCSV, importCSVHeader + "a@example.com,h,\"Zoe,,,\nb@example.com,h,,,,\n",
			"line 2: broken CSV quoting: a quoted field opened on this line is not closed properly (the parser got to line 3)"},
		{"csv junk after quote", importCSV, importCSVHeader + "a@example.com,h,\"Zoe\"x,,,\n",
			`line 2: broken CSV quoting: a stray " or an unclosed quote in a quoted field (column 21)`},
		{"csv long row", importCSV, importCSVHeader + "a@example.com,h,,,,\nb@example.com,h," + long + ",,,\n", "line 3: a row longer than 64 KiB"},
		{"csv never-ending quote", importCSV, importCSVHeader + "a@example.com,h,\"" + strings.Repeat("x\n", maxImportRecord), "line 2: a row longer than 64 KiB (an unclosed quote, or not a CSV file?)"},
		{"jsonl long line", importJSONL, "{}\n{\"email\":\"" + long + "\"}\n", "line 2: a line longer than 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAllImport(tc.data, tc.format)
			var fe *importFileError
			if !errors.As(err, &fe) || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

// FuzzImportLine feeds arbitrary bytes to the CSV (after a header) and
// JSON Lines readers and validates every row they return: no panic, line
// numbers that only grow, and valid rows that are what the rules promise.
func FuzzImportLine(f *testing.F) {
	for _, s := range []string{
		"a@example.com,pbkdf2:sha256:1000$salt$" + strings.Repeat("0", 64) + ",Ada,\"user,admin\",true,2020-01-02T03:04:05Z\n",
		"\"a\"\"b\",\"x\ny\",,,,\n",
		"a,\"b\n",
		"\xff\xfe,,,\n",
		`{"email":"a@example.com","password_hash":"$2b$04$abcdefghijklmnopqrstuu5SG5MXD8yT0Wm3P9ZbqwbXoGI3aWoHy","roles":["admin"],"email_verified":true}`,
		`{"email":"a","email":"b"}` + "\n" + `{"roles":[[]]}`,
		"{\"display_name\":\"\\u202e\"}\n\n[1,2]\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	h, err := password.NewHasher()
	if err != nil {
		f.Fatal(err)
	}
	im := account.NewImporter(account.ImporterConfig{Store: noImportStore{}, Hashes: h, Now: func() time.Time { return time.Unix(1.8e9, 0) }})
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		format := importJSONL
		if !jsonl {
			format = importCSV
			data = append([]byte(importCSVHeader), data...)
		}
		r, err := newImportReader(bytes.NewReader(data), format)
		if err != nil {
			return
		}
		last := 0
		for range len(data) + 2 {
			rec, err := r.Next()
			if err != nil {
				var fe *importFileError
				if err != io.EOF && !errors.As(err, &fe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if rec.Line <= last {
				t.Fatalf("line %d after line %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Err != nil {
				continue
			}
			u, err := im.Validate(rec.Row)
			if err != nil {
				var ie *account.ImportError
				if !errors.As(err, &ie) || len(ie.Problems) == 0 {
					t.Fatalf("Validate error %T %v", err, err)
				}
				continue
			}
			if _, key, err := account.ParseEmail(u.Email); err != nil || key != u.EmailKey || !utf8.ValidString(u.DisplayName) {
				t.Fatalf("valid row with bad fields: %+v", u)
			}
			if _, err := h.Identify(u.PasswordHash); err != nil || len(u.Roles) == 0 {
				t.Fatalf("valid row with bad hash or roles: %+v", u)
			}
		}
		t.Fatal("reader did not stop")
	})
}

// noImportStore is never reached: the fuzz target only validates.
type noImportStore struct{ account.ImportStore }
