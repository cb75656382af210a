package accessrule

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often Watcher.Run polls the rules file.
const DefaultWatchInterval = 2 * time.Second

// rehashEvery is how often the file is read and hashed even when its
// modification time and size did not change (an edit within the same
// second that keeps the size).
const rehashEvery = 30 * time.Second

// Load reads and parses a rules file, refusing one that is not a regular
// file or is larger than MaxFileBytes.
func Load(path string) (*Rules, error) {
	data, _, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

func readFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("accessrule: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("accessrule: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalid, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("accessrule: reading %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, path, MaxFileBytes)
	}
	return data, fi, nil
}

// Status is what a Watcher knows about its file, for /readyz and the admin
// page.
type Status struct {
	// Path is the rules file.
	Path string
	// LoadedAt is when the rules in force were read.
	LoadedAt time.Time
	// Err is the last reload's error, nil after a successful reload. While
	// it is set, the last good rules stay in force.
	Err error
	// ErrAt is when Err happened.
	ErrAt time.Time
}

// Watcher holds the rules of a file and re-reads the file when it changes.
// A file that becomes invalid keeps the last good rules in force and
// reports the error in Status until a valid file replaces it.
type Watcher struct {
	path     string
	now      func() time.Time
	onReload func(*Rules, error)

	rules atomic.Pointer[Rules]

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	goodHash [sha256.Size]byte // of the rules in force
	seenHash [sha256.Size]byte // of the content last read
	hashedAt time.Time
	status   Status
	newErr   bool // set by checkLocked when the error is a new one
}

// WatchOption configures a Watcher.
type WatchOption func(*Watcher)

// WithClock sets the clock used for timestamps and the periodic re-hash.
func WithClock(now func() time.Time) WatchOption { return func(w *Watcher) { w.now = now } }

// OnReload sets a function called after every reload that changed the
// rules (err nil) or failed with a new error (rules are the ones still in
// force), for logs: a file that stays broken is reported once.
func OnReload(fn func(rules *Rules, err error)) WatchOption {
	return func(w *Watcher) { w.onReload = fn }
}

// NewWatcher loads the rules file at path. An invalid or unreadable file
// is an error: the server must not start without rules.
func NewWatcher(path string, opts ...WatchOption) (*Watcher, error) {
	w := &Watcher{path: path, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	data, fi, err := readFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w.install(rs, data, fi)
	return w, nil
}

func (w *Watcher) install(rs *Rules, data []byte, fi os.FileInfo) {
	now := w.now()
	w.rules.Store(rs)
	w.goodHash = sha256.Sum256(data)
	w.seenHash = w.goodHash
	w.hashedAt = now
	w.modTime, w.size = fi.ModTime(), fi.Size()
	w.status = Status{Path: w.path, LoadedAt: now}
}

// Rules returns the rules in force.
func (w *Watcher) Rules() *Rules { return w.rules.Load() }

// Status returns the file's status.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Check polls the file once: when its modification time or size changed,
// or rehashEvery has passed, it is read, and parsed if its content (by
// SHA-256) changed. It reports whether the rules changed; on error the
// previous rules stay in force and Status reports the error.
func (w *Watcher) Check() (changed bool, err error) {
	w.mu.Lock()
	w.newErr = false
	rs, changed, err := w.checkLocked()
	newErr := w.newErr
	w.mu.Unlock()
	if (changed || newErr) && w.onReload != nil {
		w.onReload(rs, err)
	}
	return changed, err
}

func (w *Watcher) checkLocked() (*Rules, bool, error) {
	now := w.now()
	fi, err := os.Stat(w.path)
	if err == nil && fi.ModTime().Equal(w.modTime) && fi.Size() == w.size && now.Sub(w.hashedAt) < rehashEvery {
		return w.Rules(), false, w.status.Err
	}
	fail := func(err error) (*Rules, bool, error) {
		if w.status.Err == nil || w.status.Err.Error() != err.Error() {
			w.status.ErrAt = now
			w.newErr = true
		}
		w.status.Err = err
		return w.Rules(), false, err
	}
	var data []byte
	if err != nil {
		err = fmt.Errorf("accessrule: %w", err)
	} else {
		data, fi, err = readFile(w.path)
	}
	if err != nil {
		w.modTime, w.size = time.Time{}, -1 // read again next time
		return fail(err)
	}
	w.hashedAt, w.modTime, w.size = now, fi.ModTime(), fi.Size()
	sum := sha256.Sum256(data)
	switch sum {
	case w.goodHash:
		w.seenHash = sum
		w.status.Err = nil
		return w.Rules(), false, nil
	case w.seenHash:
		return w.Rules(), false, w.status.Err
	}
	w.seenHash = sum
	rs, err := Parse(data)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", w.path, err))
	}
	w.install(rs, data, fi)
	return rs, true, nil
}

// Run calls Check every interval (DefaultWatchInterval if interval <= 0)
// until ctx is done, and returns ctx.Err().
func (w *Watcher) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			_, _ = w.Check()
		}
	}
}

// Ready returns the last reload error, nil when the rules in force are the
// file's current content.
func (w *Watcher) Ready() error {
	st := w.Status()
	if st.Err != nil {
		return errors.Join(errors.New("accessrule: rules file is broken; the last good rules stay in force"), st.Err)
	}
	return nil
}
