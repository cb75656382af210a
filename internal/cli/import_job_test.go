package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/password"
)

// A file that changes between the check and the import stops the import.
func TestImportFileChangedBetweenPasses(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "g.db"), db.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h, err := password.NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	bc := importFixtureHash(t, "csv-bcrypt-2b@Example.com")
	content := importCSVHeader + "aaa@example.com," + bc + ",,,,\n" + "bbb@example.com," + bc + ",,,,\n"
	mtime := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	tests := []struct {
		name   string
		change func(p string)
		want   string
	}{
		{"size and time", func(p string) {
			if err := os.WriteFile(p, []byte(content+"ccc@example.com,"+bc+",,,,\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "changed after it was checked; nothing was imported"},
		{"same size and time, other address", func(p string) {
			if err := os.WriteFile(p, []byte(strings.Replace(content, "bbb@", "ccc@", 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}, "changed while it was being imported: 0 accounts were created before this was noticed"},
		{"same size and time, a row now invalid", func(p string) {
			if err := os.WriteFile(p, []byte(strings.Replace(content, ",,,,\n", ",X,,,\n", 1)[:len(content)-1]+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}, "changed while it was being imported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "users.csv")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out, errb bytes.Buffer
			j := &importJob{opts: importOptions{file: p, format: importCSV, batch: 500}, f: f, stdout: &out, stderr: &errb,
				im: account.NewImporter(account.ImporterConfig{Store: d.Imports(), Hashes: h})}
			c, err := j.check(ctx)
			if err != nil || c.valid != 2 {
				t.Fatalf("check = %+v, %v", c, err)
			}
			tc.change(p)
			err = j.write(ctx, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("write = %v, want %q", err, tc.want)
			}
			var n int
			if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d users written (%v)", n, err)
			}
		})
	}
}

// importFixtureHash returns the hash of a fixture user, for building files.
func importFixtureHash(t *testing.T, email string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "users.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := newImportReader(f, importCSV)
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := rd.Next()
		if err != nil {
			t.Fatalf("no fixture %s: %v", email, err)
		}
		if rec.Row.Email == email {
			return rec.Row.PasswordHash
		}
	}
}
