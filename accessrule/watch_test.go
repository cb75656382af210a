package accessrule_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func writeRules(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	mtime := clock.t
	writeRules(t, path, "default: deny\n", mtime)
	var reloads []error
	w, err := accessrule.NewWatcher(path, accessrule.WithClock(clock.now), accessrule.OnReload(func(_ *accessrule.Rules, err error) {
		reloads = append(reloads, err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if w.Rules().Default != accessrule.Deny || w.Ready() != nil || !w.Status().LoadedAt.Equal(clock.t) {
		t.Fatalf("initial state: %+v", w.Status())
	}
	if changed, err := w.Check(); changed || err != nil {
		t.Fatalf("unchanged file: %v %v", changed, err)
	}

	// A valid change is picked up.
	mtime = mtime.Add(time.Second)
	clock.t = clock.t.Add(2 * time.Second)
	writeRules(t, path, "default: public\n", mtime)
	if changed, err := w.Check(); !changed || err != nil || w.Rules().Default != accessrule.Public {
		t.Fatalf("valid change: %v %v %v", changed, err, w.Rules().Default)
	}

	// A broken file keeps the last good rules and says why.
	mtime = mtime.Add(time.Second)
	clock.t = clock.t.Add(2 * time.Second)
	brokenAt := clock.t
	writeRules(t, path, "default: public\nrulez: []\n", mtime)
	if changed, err := w.Check(); changed || !errors.Is(err, accessrule.ErrInvalid) {
		t.Fatalf("broken file: %v %v", changed, err)
	}
	if w.Rules().Default != accessrule.Public || w.Ready() == nil || !w.Status().ErrAt.Equal(brokenAt) {
		t.Fatalf("after a broken file: %v %+v", w.Rules().Default, w.Status())
	}
	clock.t = clock.t.Add(time.Minute) // re-hash: same broken content, same error, same time
	if _, err := w.Check(); !errors.Is(err, accessrule.ErrInvalid) || !w.Status().ErrAt.Equal(brokenAt) {
		t.Fatalf("still broken: %v %+v", err, w.Status())
	}

	// An edit that keeps mtime and size is found by the periodic re-hash.
	mtime = mtime.Add(time.Second)
	writeRules(t, path, "default: signed_in\n", mtime)
	clock.t = clock.t.Add(2 * time.Second)
	if changed, err := w.Check(); !changed || err != nil || w.Ready() != nil {
		t.Fatalf("fixed file: %v %v", changed, err)
	}
	writeRules(t, path, "default: two_factor", mtime) // same size (no newline), same mtime
	if changed, _ := w.Check(); changed {
		t.Fatal("re-read before the re-hash interval")
	}
	clock.t = clock.t.Add(31 * time.Second)
	if changed, err := w.Check(); !changed || err != nil || w.Rules().Default != accessrule.TwoFactor {
		t.Fatalf("re-hash: %v %v", changed, err)
	}

	// A removed file is an error, the rules stay; restoring it clears it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Check(); err == nil || w.Rules().Default != accessrule.TwoFactor {
		t.Fatalf("removed file: %v", err)
	}
	writeRules(t, path, "default: two_factor", mtime)
	if changed, err := w.Check(); changed || err != nil || w.Ready() != nil {
		t.Fatalf("restored file: %v %v", changed, err)
	}
	// Broken, back to the good content, then broken the same way again.
	for i, content := range []string{"default: nope", "default: two_factor", "default: nope"} {
		mtime = mtime.Add(time.Second)
		writeRules(t, path, content, mtime)
		if _, err := w.Check(); (err == nil) != (i == 1) {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if len(reloads) != 7 {
		t.Fatalf("OnReload called %d times: %v", len(reloads), reloads)
	}
}

func TestNewWatcherRefusesBrokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if _, err := accessrule.NewWatcher(path); err == nil {
		t.Fatal("missing file accepted")
	}
	writeRules(t, path, "default: maybe\n", time.Now())
	if _, err := accessrule.NewWatcher(path); !errors.Is(err, accessrule.ErrInvalid) {
		t.Fatalf("broken file: %v", err)
	}
	if _, err := accessrule.NewWatcher(dir); !errors.Is(err, accessrule.ErrInvalid) {
		t.Fatalf("directory: %v", err)
	}
}
