package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/password"
)

// Import command settings.
const (
	defaultImportBatch = 500
	maxImportBatch     = 10000
	// maxImportReported bounds the invalid lines listed one by one; the
	// rest are counted.
	maxImportReported = 1000
	// importCheckProgress: a progress line every so many rows while
	// checking a large file.
	importCheckProgress = 100_000
)

// ImportUsage is the usage line of `gatehouse user import`.
const ImportUsage = "usage: gatehouse user import [--dry-run] [--skip-invalid] [--format csv|jsonl] [--batch N] FILE"

// importOptions are the arguments of `gatehouse user import`.
type importOptions struct {
	file        string
	format      string
	batch       int
	dryRun      bool
	skipInvalid bool
}

// parseImportArgs reads the flags, which may come before or after FILE.
func parseImportArgs(args []string, stderr io.Writer) (importOptions, error) {
	var o importOptions
	fs := flag.NewFlagSet("user import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.dryRun, "dry-run", false, "check the file and report what would happen; write nothing")
	fs.BoolVar(&o.skipInvalid, "skip-invalid", false, "import the valid rows even if some are invalid (default: import nothing then)")
	fs.StringVar(&o.format, "format", "", "csv or jsonl (default: from the file name's extension)")
	fs.IntVar(&o.batch, "batch", defaultImportBatch, "accounts created per transaction")
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, &UsageError{Msg: err.Error() + "\n" + ImportUsage}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return o, &UsageError{Msg: ImportUsage}
	}
	o.file = files[0]
	if o.batch < 1 || o.batch > maxImportBatch {
		return o, &UsageError{Msg: fmt.Sprintf("--batch: want 1 to %d, got %d", maxImportBatch, o.batch)}
	}
	f, err := importFormatOf(o.file, o.format)
	if err != nil {
		return o, err
	}
	o.format = f
	return o, nil
}

// importFormatOf chooses the format: the --format flag, else the file
// name's extension.
func importFormatOf(name, flagValue string) (string, error) {
	switch strings.ToLower(flagValue) {
	case "csv":
		return importCSV, nil
	case "jsonl", "ndjson":
		return importJSONL, nil
	case "":
	default:
		return "", &UsageError{Msg: fmt.Sprintf("--format: want csv or jsonl, got %q", flagValue)}
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return importCSV, nil
	case ".jsonl", ".ndjson":
		return importJSONL, nil
	}
	return "", &UsageError{Msg: fmt.Sprintf("cannot tell the format of %s from its name: use --format csv or --format jsonl", name)}
}

// importCommand runs `gatehouse user import FILE`.
func importCommand(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	o, err := parseImportArgs(args, stderr)
	if err != nil {
		return err
	}
	f, err := os.Open(o.file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("import: %s is not a regular file (it is read twice: once to check it, once to import)", o.file)
	}
	d, err := env.Open(ctx, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	job := &importJob{opts: o, f: f, stdout: stdout, stderr: stderr,
		im: account.NewImporter(account.ImporterConfig{Store: d.DB.Imports(), Hashes: d.Hasher, Now: d.Now})}
	return job.run(ctx)
}

// importJob is one run of the import command.
type importJob struct {
	opts           importOptions
	f              *os.File
	im             *account.Importer
	stdout, stderr io.Writer

	reported int // invalid lines listed so far
}

// importCheck is what the first pass learned about the file.
type importCheck struct {
	rows, valid, invalid int
	// first maps each email key to the first row that has it; dups holds
	// the keys of more than one row, none of which is imported.
	first   map[string]importFirstRow
	dups    map[string]bool
	formats map[password.Format]int
	sum     []byte
	size    int64
	modTime time.Time
}

type importFirstRow struct {
	line   int
	format password.Format
}

// problem lists an invalid line on stderr, up to maxImportReported.
func (j *importJob) problem(line int, msg string) {
	j.reported++
	if j.reported <= maxImportReported {
		fmt.Fprintf(j.stderr, "%s:%d: %s\n", j.opts.file, line, msg)
	} else if j.reported == maxImportReported+1 {
		fmt.Fprintf(j.stderr, "%s: more invalid lines; only the first %d are listed\n", j.opts.file, maxImportReported)
	}
}

// open starts reading the file from the beginning, hashing what is read.
func (j *importJob) open() (*importReader, hash.Hash, error) {
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	h := sha256.New()
	r, err := newImportReader(io.TeeReader(j.f, h), j.opts.format)
	if err != nil {
		return nil, nil, j.fileError(err)
	}
	return r, h, nil
}

// fileError turns an error that stops reading into one naming the file.
func (j *importJob) fileError(err error) error {
	var fe *importFileError
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Errorf("%s:%d: %s; nothing was imported", j.opts.file, fe.Line, fe.Msg)
		}
		return fmt.Errorf("%s: %s; nothing was imported", j.opts.file, fe.Msg)
	}
	return fmt.Errorf("import: reading %s: %w", j.opts.file, err)
}

func (j *importJob) run(ctx context.Context) error {
	c, err := j.check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(j.stdout, "%s: %s (%s): %d valid, %d invalid\n", j.opts.file, importPlural(c.rows, "row"), j.opts.format, c.valid, c.invalid)
	if len(c.formats) > 0 {
		fmt.Fprintf(j.stdout, "hash formats: %s\n", importFormatTally(c.formats))
	}
	stop := c.invalid > 0 && !j.opts.skipInvalid
	if j.opts.dryRun {
		return j.dryRun(ctx, c, stop)
	}
	if stop {
		return fmt.Errorf("%s: %s; nothing was imported (fix them, or use --skip-invalid to import only the valid rows)", j.opts.file, importPlural(c.invalid, "invalid row"))
	}
	return j.write(ctx, c)
}

// check is the first pass: it reads and validates the whole file, lists
// every invalid line and finds addresses that appear more than once.
func (j *importJob) check(ctx context.Context) (*importCheck, error) {
	fi, err := j.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	c := &importCheck{first: map[string]importFirstRow{}, dups: map[string]bool{}, formats: map[password.Format]int{},
		size: fi.Size(), modTime: fi.ModTime()}
	r, h, err := j.open()
	if err != nil {
		return nil, err
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, j.fileError(err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.rows++
		if c.rows%importCheckProgress == 0 {
			fmt.Fprintf(j.stderr, "checked %d rows…\n", c.rows)
		}
		if rec.Err != nil {
			c.invalid++
			j.problem(rec.Line, rec.Err.Error())
			continue
		}
		u, err := j.im.Validate(rec.Row)
		if err != nil {
			c.invalid++
			j.problem(rec.Line, err.Error())
			continue
		}
		first, seen := c.first[u.EmailKey]
		if !seen {
			c.first[u.EmailKey] = importFirstRow{line: rec.Line, format: u.Format}
			c.valid++
			c.formats[u.Format]++
			continue
		}
		if !c.dups[u.EmailKey] {
			// The first row turns out to be a duplicate too.
			c.dups[u.EmailKey] = true
			c.valid--
			c.invalid++
			c.formats[first.format]--
			if c.formats[first.format] == 0 {
				delete(c.formats, first.format)
			}
			j.problem(first.line, fmt.Sprintf("email: the same address (ignoring case) is on line %d too; none of its rows is imported", rec.Line))
		}
		c.invalid++
		j.problem(rec.Line, fmt.Sprintf("email: the same address (ignoring case) as line %d; none of its rows is imported", first.line))
	}
	if c.rows == 0 {
		return nil, fmt.Errorf("%s: no rows to import", j.opts.file)
	}
	c.sum = h.Sum(nil)
	return c, nil
}

// dryRun reports what an import would do, reading the database only.
func (j *importJob) dryRun(ctx context.Context, c *importCheck, stop bool) error {
	existing := 0
	batch := make([]account.ImportUser, 0, 1000)
	count := func() error {
		n, err := j.im.CountExisting(ctx, batch)
		existing += n
		batch = batch[:0]
		return err
	}
	for k := range c.first {
		if c.dups[k] {
			continue
		}
		batch = append(batch, account.ImportUser{EmailKey: k})
		if len(batch) == cap(batch) {
			if err := count(); err != nil {
				return err
			}
		}
	}
	if err := count(); err != nil {
		return err
	}
	msg := fmt.Sprintf("dry run: would create %s and skip %s (left unchanged)", importPlural(c.valid-existing, "account"), importPlural(existing, "existing account"))
	switch {
	case stop:
		msg = fmt.Sprintf("dry run: %s would stop the import, so nothing would be written (fix them, or use --skip-invalid); "+
			"without them it would create %s and skip %s", importPlural(c.invalid, "invalid row"), importPlural(c.valid-existing, "account"), importPlural(existing, "existing account"))
	case c.invalid > 0:
		msg += ", and leave out " + importPlural(c.invalid, "invalid row")
	}
	fmt.Fprintln(j.stdout, msg+". Nothing was written.")
	if stop {
		return fmt.Errorf("%s: %s", j.opts.file, importPlural(c.invalid, "invalid row"))
	}
	return nil
}

// write is the second pass: it reads the file again and creates the
// accounts in transactions of opts.batch rows.
func (j *importJob) write(ctx context.Context, c *importCheck) error {
	if c.valid == 0 {
		fmt.Fprintln(j.stdout, "nothing to import")
		return nil
	}
	if fi, err := j.f.Stat(); err != nil || fi.Size() != c.size || !fi.ModTime().Equal(c.modTime) {
		return fmt.Errorf("%s changed after it was checked; nothing was imported: run the command again", j.opts.file)
	}
	r, h, err := j.open()
	if err != nil {
		return err
	}
	var (
		total    account.ImportResult
		seen     int
		batch    = make([]account.ImportUser, 0, j.opts.batch)
		progress = c.valid > j.opts.batch
	)
	changed := func() error {
		return fmt.Errorf("%s changed while it was being imported: %s created before this was noticed; "+
			"check the file and run the command again (accounts already imported are skipped)", j.opts.file, importPlural(total.Created, "account was", "accounts were"))
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := j.im.Import(ctx, batch, Meta)
		if err != nil {
			return fmt.Errorf("%s: importing %s to %s: %w; %s created before (and kept): fix the problem and run the same command again (accounts already imported are skipped)",
				j.opts.file, batch[0].Source, batch[len(batch)-1].Source, err, importPlural(total.Created, "account was", "accounts were"))
		}
		total.Created += res.Created
		total.Skipped += res.Skipped
		batch = batch[:0]
		if progress {
			fmt.Fprintf(j.stderr, "imported %d of %d rows: %d created, %d skipped\n", total.Created+total.Skipped, c.valid, total.Created, total.Skipped)
		}
		return nil
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if total.Created > 0 || len(batch) > 0 {
				return changed()
			}
			return j.fileError(err)
		}
		var u account.ImportUser
		if rec.Err == nil {
			u, err = j.im.Validate(rec.Row)
		}
		if rec.Err != nil || err != nil {
			if c.invalid == 0 { // it was valid a moment ago
				return changed()
			}
			continue
		}
		if c.dups[u.EmailKey] {
			continue
		}
		if c.first[u.EmailKey].line != rec.Line {
			return changed()
		}
		seen++
		u.Source = fmt.Sprintf("%s line %d", filepath.Base(j.opts.file), rec.Line)
		batch = append(batch, u)
		if len(batch) == j.opts.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if seen != c.valid || !slices.Equal(h.Sum(nil), c.sum) {
		return changed() // the last batch is not written
	}
	if err := flush(); err != nil {
		return err
	}
	msg := fmt.Sprintf("created %s, skipped %s (left unchanged)", importPlural(total.Created, "account"), importPlural(total.Skipped, "existing account"))
	if c.invalid > 0 {
		msg += ", left out " + importPlural(c.invalid, "invalid row")
	}
	fmt.Fprintln(j.stdout, msg)
	return nil
}

// importPlural says "1 row" or "2 rows"; an irregular importPlural is given.
func importPlural(n int, one string, many ...string) string {
	if n == 1 {
		return "1 " + one
	}
	if len(many) > 0 {
		return fmt.Sprintf("%d %s", n, many[0])
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// importFormatTally lists hash formats by count, most common first.
func importFormatTally(m map[password.Format]int) string {
	fs := make([]password.Format, 0, len(m))
	for f := range m {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b password.Format) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s %d", f, m[f])
	}
	return strings.Join(parts, ", ")
}
