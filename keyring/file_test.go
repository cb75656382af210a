package keyring

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// mustOpen opens a keys file or fails the test.
func mustOpen(t testing.TB, path string, opts ...Option) *File {
	t.Helper()
	f, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return f
}

func keysPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "keys.json")
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestOpenCreates(t *testing.T) {
	path := keysPath(t)
	f := mustOpen(t, path, WithClock(fixedClock(t0)))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("new keys file has mode %04o, want 0600", perm)
	}
	keys := f.Ring().Keys()
	if len(keys) != 1 || !keys[0].Created.Equal(t0) || !keys[0].Active() {
		t.Fatalf("new keys file holds %v, want one active key created at %v", keys, t0)
	}
	if f.Path() != path {
		t.Errorf("Path() = %q", f.Path())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	again := mustOpen(t, path)
	if again.Ring().Current().ID != keys[0].ID || again.Ring().Current().secret != keys[0].secret {
		t.Fatal("reopening the file gave a different key")
	}
}

func TestOpenRefusesLooseMode(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o644, false},
		{0o640, false},
		{0o604, false},
		{0o660, false},
		{0o666, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := keysPath(t)
			mustOpen(t, path)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if tt.ok {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInsecureMode) {
				t.Fatalf("Open: %v, want ErrInsecureMode", err)
			}
			msg := err.Error()
			for _, want := range []string{path, "chmod 600 " + path, "mode 0" + octal(tt.mode)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func octal(m fs.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestOpenRefusesCorrupt(t *testing.T) {
	good := `{"version":1,"keys":[{"id":"0123abcd","secret":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","created":"2026-01-01T00:00:00Z"}]}`
	tests := []struct {
		name    string
		content string
		err     error
	}{
		{"valid", good, nil},
		{"empty", "", ErrCorrupt},
		{"truncated", good[:40], ErrCorrupt},
		{"array", "[]", ErrCorrupt},
		{"version 2", strings.Replace(good, `"version":1`, `"version":2`, 1), ErrCorrupt},
		{"no version", strings.Replace(good, `"version":1,`, ``, 1), ErrCorrupt},
		{"unknown field", strings.Replace(good, `"version":1`, `"version":1,"x":1`, 1), ErrCorrupt},
		{"trailing data", good + "{}", ErrCorrupt},
		{"short secret", strings.Replace(good, "Hh8=", "", 1), ErrCorrupt},
		{"secret not base64", strings.Replace(good, "AAEC", "!!!!", 1), ErrCorrupt},
		{"bad id", strings.Replace(good, "0123abcd", "xyz", 1), ErrInvalidKey},
		{"no keys", `{"version":1,"keys":[]}`, ErrNoActiveKey},
		{"all retired", strings.Replace(good, `"created"`, `"retired":"2026-02-01T00:00:00Z","created"`, 1), ErrNoActiveKey},
		{"zero retired time", strings.Replace(good, `"created"`, `"retired":"0001-01-01T00:00:00Z","created"`, 1), ErrCorrupt},
		{"too large", good + strings.Repeat(" ", MaxFileSize), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := keysPath(t)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Open: %v, want %v", err, tt.err)
			}
			if err != nil && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path)) {
				t.Errorf("error %q should be ErrCorrupt and name the path", err)
			}
		})
	}
}

func TestOpenRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open(dir): %v", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope", "keys.json"))
	if err == nil || !strings.HasPrefix(err.Error(), "keyring: ") {
		t.Fatalf("Open in a missing directory: %v", err)
	}
}

func TestRotateRetireReload(t *testing.T) {
	path := keysPath(t)
	now := t0
	clock := func() time.Time { return now }
	a := mustOpen(t, path, WithClock(clock), WithStagingDelay(0))
	b := mustOpen(t, path)
	first := a.Ring().Current()

	now = t0.Add(time.Hour)
	second, err := a.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got := a.Ring().Current(); got.ID != second.ID || !got.Created.Equal(now) {
		t.Fatalf("after Rotate, Current() = %v, want %v", got, second)
	}
	if _, ok := a.Ring().Find(first.ID); !ok {
		t.Fatal("the old key stopped verifying after a rotation")
	}

	if b.Ring().Current().ID != first.ID {
		t.Fatal("the second instance changed before Reload")
	}
	if changed, err := b.Reload(); err != nil || !changed {
		t.Fatalf("Reload() = %v, %v; want true, nil", changed, err)
	}
	if b.Ring().Current().ID != second.ID {
		t.Fatal("the second instance does not see the rotation after Reload")
	}
	if changed, err := b.Reload(); err != nil || changed {
		t.Fatalf("second Reload() = %v, %v; want false, nil", changed, err)
	}

	now = t0.Add(2 * time.Hour)
	if err := b.Retire(first.ID); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if _, ok := b.Ring().Find(first.ID); ok {
		t.Fatal("a retired key is still found")
	}
	a.Reload()
	keys := a.Ring().Keys()
	if len(keys) != 2 || keys[0].Active() || keys[0].ID != first.ID {
		t.Fatalf("after Retire the file holds %v", keys)
	}

	tests := []struct {
		id  string
		err error
	}{
		{first.ID, ErrAlreadyRetired},
		{"ffffffff", ErrUnknownKey},
		{"", ErrUnknownKey},
		{second.ID, ErrLastKey},
	}
	for _, tt := range tests {
		if err := a.Retire(tt.id); !errors.Is(err, tt.err) {
			t.Errorf("Retire(%q): %v, want %v", tt.id, err, tt.err)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten keys file has mode %04o", fi.Mode().Perm())
	}
}

func TestConcurrentRotate(t *testing.T) {
	path := keysPath(t)
	files := []*File{mustOpen(t, path), mustOpen(t, path)}
	const each = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, f := range files {
		wg.Go(func() {
			for range each {
				if _, err := f.Rotate(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Rotate: %v", err)
	}
	final := mustOpen(t, path)
	if n := len(final.Ring().Keys()); n != 1+2*each {
		t.Fatalf("after %d concurrent rotations the file holds %d keys, want %d", 2*each, n, 1+2*each)
	}
}

func TestWatch(t *testing.T) {
	path := keysPath(t)
	writer := mustOpen(t, path, WithStagingDelay(0))
	changes := make(chan *Ring, 10)
	errs := make(chan error, 10)
	watcher := mustOpen(t, path,
		OnChange(func(r *Ring) { changes <- r }),
		OnError(func(err error) { errs <- err }))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- watcher.Watch(ctx, time.Millisecond) }()

	k, err := writer.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-changes:
		if r.Current().ID != k.ID {
			t.Fatalf("Watch swapped in %v, want current %s", r.Current(), k.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not pick up the rotation")
	}

	// A corrupt file is reported and the previous ring stays.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("OnError got %v, want ErrCorrupt", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not report the corrupt file")
	}
	if watcher.Ring().Current().ID != k.ID {
		t.Fatal("a corrupt file replaced the ring")
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
}

func TestWriteFailureKeepsRing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	f := mustOpen(t, path)
	before := f.Ring()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if _, err := f.Rotate(); err == nil || !strings.HasPrefix(err.Error(), "keyring: ") {
		t.Fatalf("Rotate in a read-only directory: %v", err)
	}
	if f.Ring() != before {
		t.Fatal("a failed Rotate changed the ring")
	}
}
