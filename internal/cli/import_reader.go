package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/account"
)

// maxImportRecord bounds one line of an import file (one CSV record, which
// may span several lines inside quotes, or one JSON line). Real rows are a
// few hundred bytes.
const maxImportRecord = 64 << 10

// Import file formats.
const (
	importCSV   = "csv"
	importJSONL = "jsonl"
)

// importRecord is one row of an import file.
type importRecord struct {
	// Line is where the row starts (1-based).
	Line int
	Row  account.ImportRow
	// Err, if not nil, says why this row cannot be used (wrong number of
	// CSV fields, invalid UTF-8, malformed JSON...); reading goes on.
	Err error
}

// importFileError is a problem that stops reading the file: what follows
// cannot be told apart into rows (broken CSV quoting, a line too long) or
// the file is not what it should be (UTF-16, no header).
type importFileError struct {
	Line int
	Msg  string
}

func (e *importFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// importReader reads the rows of an import file one at a time, with
// bounded memory.
type importReader struct {
	next func() (importRecord, error)
}

// Next returns the next row; io.EOF at the end, or an *importFileError.
func (r *importReader) Next() (importRecord, error) { return r.next() }

var importUTF8BOM = []byte{0xEF, 0xBB, 0xBF}

// newImportReader reads r as format (importCSV or importJSONL). A UTF-8
// byte order mark is skipped; a UTF-16 one is refused.
func newImportReader(r io.Reader, format string) (*importReader, error) {
	br := bufio.NewReaderSize(r, maxImportRecord)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, importUTF8BOM):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, &importFileError{Msg: "the file is UTF-16; save it as UTF-8"}
	}
	switch format {
	case importCSV:
		return newCSVImportReader(br)
	case importJSONL:
		return newJSONLImportReader(br), nil
	}
	return nil, fmt.Errorf("unknown import format %q (want csv or jsonl)", format)
}

// errImportRecordTooLong is returned by importBoundedReader when a record has grown
// past maxImportRecord.
var errImportRecordTooLong = errors.New("import: record too long")

// importBoundedReader fails once more than max bytes were read past mark, so
// that a CSV record that never ends (an unclosed quote, a binary file)
// cannot make the csv package buffer the whole file.
type importBoundedReader struct {
	r         io.Reader
	n, mark   int64
	max       int64
	exhausted bool
}

func (b *importBoundedReader) Read(p []byte) (int, error) {
	room := b.max - (b.n - b.mark)
	if room <= 0 {
		b.exhausted = true
		return 0, errImportRecordTooLong
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func newCSVImportReader(br *bufio.Reader) (*importReader, error) {
	// The csv package buffers up to 4 KiB ahead of the record it parses.
	bounded := &importBoundedReader{r: br, max: maxImportRecord + 8<<10}
	cr := csv.NewReader(bounded)
	cr.FieldsPerRecord = -1 // counted here, to report the line and carry on
	lastLine := 0           // the line the last complete record ended on
	prevOffset := int64(0)

	read := func() ([]string, int, error) {
		rec, err := cr.Read()
		if bounded.exhausted || errors.Is(err, errImportRecordTooLong) {
			return nil, 0, &importFileError{Line: lastLine + 1,
				Msg: fmt.Sprintf("a row longer than %d KiB (an unclosed quote, or not a CSV file?)", maxImportRecord>>10)}
		}
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, &importFileError{Line: pe.StartLine, Msg: importCSVErrorText(pe)}
		}
		if err != nil {
			return nil, 0, err
		}
		start, _ := cr.FieldPos(0)
		end, _ := cr.FieldPos(len(rec) - 1)
		lastLine = end
		off := cr.InputOffset()
		if off-prevOffset > maxImportRecord {
			return nil, 0, &importFileError{Line: start, Msg: fmt.Sprintf("a row longer than %d KiB", maxImportRecord>>10)}
		}
		prevOffset = off
		bounded.mark = off
		return rec, start, nil
	}

	header, line, err := read()
	if err == io.EOF {
		return nil, &importFileError{Msg: "the file is empty; want a header row: " + strings.Join(account.ImportFields, ",")}
	}
	if err != nil {
		return nil, err
	}
	cols, err := importColumns(header)
	if err != nil {
		return nil, &importFileError{Line: line, Msg: err.Error()}
	}
	return &importReader{next: func() (importRecord, error) {
		rec, line, err := read()
		if err != nil {
			return importRecord{}, err
		}
		r := importRecord{Line: line}
		if len(rec) != len(cols) {
			r.Err = fmt.Errorf("%d fields, but the header has %d", len(rec), len(cols))
			return r, nil
		}
		for _, f := range rec {
			if !utf8.ValidString(f) {
				r.Err = errors.New("not valid UTF-8 (save the file as UTF-8)")
				return r, nil
			}
		}
		for i, c := range cols {
			setImportField(&r.Row, c, rec[i])
		}
		return r, nil
	}}, nil
}

// importCSVErrorText explains a CSV syntax error.
func importCSVErrorText(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote):
		if pe.Line != pe.StartLine {
			return fmt.Sprintf("broken CSV quoting: a quoted field opened on this line is not closed properly (the parser got to line %d)", pe.Line)
		}
		return fmt.Sprintf("broken CSV quoting: a stray \" or an unclosed quote in a quoted field (column %d)", pe.Column)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("broken CSV quoting: a \" inside an unquoted field (column %d); quote the field and double the \"", pe.Column)
	}
	return "broken CSV: " + pe.Err.Error()
}

// importColumns maps a CSV header to field names: known, not repeated,
// with email and password_hash present.
func importColumns(header []string) ([]string, error) {
	known := map[string]bool{}
	for _, f := range account.ImportFields {
		known[f] = true
	}
	seen := map[string]bool{}
	cols := make([]string, len(header))
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, errors.New("the header is not valid UTF-8")
		}
		c := strings.ToLower(strings.TrimSpace(h))
		switch {
		case !known[c]:
			return nil, fmt.Errorf("unknown column %s in the header (want %s; rename or drop other columns in the export)",
				strconv.Quote(account.Sanitize(h, 40)), strings.Join(account.ImportFields, ", "))
		case seen[c]:
			return nil, fmt.Errorf("column %s appears twice in the header", c)
		}
		seen[c] = true
		cols[i] = c
	}
	for _, req := range []string{account.ImportEmail, account.ImportPasswordHash} {
		if !seen[req] {
			return nil, fmt.Errorf("the header has no %s column (want %s)", req, strings.Join(account.ImportFields, ","))
		}
	}
	return cols, nil
}

// setImportField stores a CSV value. Roles are separated by commas or
// spaces ("user,admin", "user admin").
func setImportField(r *account.ImportRow, col, v string) {
	switch col {
	case account.ImportEmail:
		r.Email = v
	case account.ImportPasswordHash:
		r.PasswordHash = v
	case account.ImportDisplayName:
		r.DisplayName = v
	case account.ImportRoles:
		r.Roles = strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
	case account.ImportEmailVerified:
		r.EmailVerified = v
	case account.ImportCreatedAt:
		r.CreatedAt = v
	}
}

func newJSONLImportReader(br *bufio.Reader) *importReader {
	line := 0
	return &importReader{next: func() (importRecord, error) {
		for {
			b, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				return importRecord{}, &importFileError{Line: line + 1, Msg: fmt.Sprintf("a line longer than %d KiB", maxImportRecord>>10)}
			}
			if err != nil && err != io.EOF {
				return importRecord{}, err
			}
			if len(b) == 0 && err == io.EOF {
				return importRecord{}, io.EOF
			}
			line++
			b = bytes.TrimSpace(b)
			if len(b) == 0 {
				if err == io.EOF {
					return importRecord{}, io.EOF
				}
				continue // blank lines are allowed
			}
			row, perr := parseImportJSON(b)
			return importRecord{Line: line, Row: row, Err: perr}, nil
		}
	}}
}

// parseImportJSON parses one JSON Lines row: an object with the keys of
// account.ImportFields, each at most once. Values are strings or null;
// roles may also be an array of strings, email_verified a boolean.
func parseImportJSON(b []byte) (account.ImportRow, error) {
	var row account.ImportRow
	if !utf8.Valid(b) {
		return row, errors.New("not valid UTF-8 (save the file as UTF-8)")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return row, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return row, importJSONSyntax(err)
		}
		key, _ := t.(string)
		known := false
		for _, f := range account.ImportFields {
			known = known || key == f
		}
		if !known {
			return row, fmt.Errorf("unknown key %s (want %s)", strconv.Quote(account.Sanitize(key, 40)), strings.Join(account.ImportFields, ", "))
		}
		if seen[key] {
			return row, fmt.Errorf("key %s appears twice", key)
		}
		seen[key] = true
		if err := setImportJSON(dec, &row, key); err != nil {
			return row, err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return row, importJSONSyntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return row, errors.New("more than one JSON value on the line")
	}
	return row, nil
}

func importJSONSyntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d", se.Offset)
	}
	return errors.New("malformed JSON")
}

// setImportJSON reads the value of key into row.
func setImportJSON(dec *json.Decoder, row *account.ImportRow, key string) error {
	t, err := dec.Token()
	if err != nil {
		return importJSONSyntax(err)
	}
	switch v := t.(type) {
	case nil:
		return nil
	case string:
		if key == account.ImportRoles {
			row.Roles = strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
			return nil
		}
		setImportField(row, key, v)
		return nil
	case bool:
		if key != account.ImportEmailVerified {
			return fmt.Errorf("%s: want a string, got a boolean", key)
		}
		row.EmailVerified = strconv.FormatBool(v)
		return nil
	case json.Delim:
		if v != '[' || key != account.ImportRoles {
			return fmt.Errorf("%s: want a string, got %s", key, importJSONKind(v))
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return importJSONSyntax(err)
			}
			s, ok := t.(string)
			if !ok {
				return errors.New("roles: want an array of strings")
			}
			row.Roles = append(row.Roles, s)
		}
		if t, err := dec.Token(); err != nil || t != json.Delim(']') {
			return importJSONSyntax(err)
		}
		return nil
	}
	return fmt.Errorf("%s: want a string, got a number", key)
}

func importJSONKind(d json.Delim) string {
	if d == '[' {
		return "an array"
	}
	return "an object"
}
