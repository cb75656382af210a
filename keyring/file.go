package keyring

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// MaxFileSize bounds the size of a keys file read from disk.
const MaxFileSize = 1 << 20

// maxKeys bounds the number of keys in a keys file.
const maxKeys = 10000

// fileVersion is the version of the keys file format written by this
// package.
const fileVersion = 1

// DefaultWatchInterval is how often [File.Watch] re-reads the keys file when
// given no interval.
const DefaultWatchInterval = 30 * time.Second

// DefaultStagingDelay is how long a key added by [File.Rotate] stays staged
// by default: two reload intervals, so that every instance watching the file
// at DefaultWatchInterval has read the new key before anything is signed or
// sealed with it.
const DefaultStagingDelay = 2 * DefaultWatchInterval

// fileFormat is the JSON form of a keys file.
type fileFormat struct {
	Version int       `json:"version"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	ID      string     `json:"id"`
	Secret  string     `json:"secret"` // standard base64 of 32 bytes
	Created time.Time  `json:"created"`
	Retired *time.Time `json:"retired,omitempty"`
	// Activates is when a staged key starts signing; absent for keys that
	// signed from their creation (every key of files written before
	// two-phase rotation).
	Activates *time.Time `json:"activates,omitempty"`
}

// File is a keys file on disk and the ring most recently read from it. It
// is safe for concurrent use, and several processes may share one file:
// writes take an advisory lock and replace the file atomically, and readers
// pick up changes with [File.Reload] or [File.Watch].
type File struct {
	path     string
	now      func() time.Time
	stage    time.Duration
	onError  func(error)
	onChange func(*Ring)

	ring atomic.Pointer[Ring]
	mu   sync.Mutex // serializes reloads and writes in this process
	hash [sha256.Size]byte
}

// Option configures [Open].
type Option func(*File)

// WithClock sets the clock used to stamp created, activation and retired
// times and to decide when a staged key starts signing. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(f *File) { f.now = now }
}

// WithStagingDelay sets how long a key added by [File.Rotate] stays staged
// before it starts signing and encrypting; use at least twice the interval
// at which the instances sharing the file reload it (their [File.Watch]
// interval). d <= 0 makes Rotate's key current at once (one process, or
// tests). The default is [DefaultStagingDelay].
func WithStagingDelay(d time.Duration) Option {
	return func(f *File) { f.stage = d }
}

// OnError sets a function that [File.Watch] calls when a reload fails, for
// example because the file was replaced by a corrupt one; the previous ring
// stays in use. The default ignores the error.
func OnError(fn func(error)) Option {
	return func(f *File) { f.onError = fn }
}

// OnChange sets a function called with the new ring after a reload, rotation
// or retirement changed the keys.
func OnChange(fn func(*Ring)) Option {
	return func(f *File) { f.onChange = fn }
}

// Open reads the keys file at path, creating it with one fresh key if it
// does not exist. A new file has mode 0600 and is written atomically. Open
// refuses a file that group or others may access (fix: chmod 600), a file
// larger than [MaxFileSize], and a corrupt file or one without an active
// key.
func Open(path string, opts ...Option) (*File, error) {
	f := &File{path: path, now: time.Now, stage: DefaultStagingDelay}
	for _, o := range opts {
		o(f)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.reloadLocked()
	if errors.Is(err, fs.ErrNotExist) {
		err = f.create()
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// create writes a new keys file with one key, unless another process
// created it first, in which case it reads that one.
func (f *File) create() error {
	unlock, err := lockFile(f.path)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := readFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		r, err := newRing([]Key{generate(f.now(), nil)}, f.now())
		if err != nil {
			return err
		}
		return f.writeLocked(r)
	}
	if err != nil {
		return err
	}
	_, err = f.install(data)
	return err
}

// Path returns the path of the keys file.
func (f *File) Path() string { return f.path }

// Ring returns the keys most recently read or written, as of now: once a
// staged key's activation time has come it is a new snapshot in which that
// key is current, although the file has not changed.
func (f *File) Ring() *Ring {
	r := f.ring.Load()
	if r.next.IsZero() {
		return r
	}
	nr := r.at(f.now())
	if nr != r && !f.ring.CompareAndSwap(r, nr) {
		return f.ring.Load() // a reload or write got in first
	}
	return nr
}

// Reload re-reads the keys file and swaps in its keys if its content
// changed, reporting whether it did. On error the previous ring stays in
// use.
func (f *File) Reload() (changed bool, err error) {
	f.mu.Lock()
	changed, err = f.reloadLocked()
	f.mu.Unlock()
	if changed && f.onChange != nil {
		f.onChange(f.Ring())
	}
	return changed, err
}

func (f *File) reloadLocked() (bool, error) {
	data, err := readFile(f.path)
	if err != nil {
		return false, err
	}
	return f.install(data)
}

// install parses data and makes it the current ring if it differs from what
// was last installed.
func (f *File) install(data []byte) (bool, error) {
	sum := sha256.Sum256(data)
	if f.ring.Load() != nil && sum == f.hash {
		return false, nil
	}
	r, err := parse(data, f.now())
	if err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrCorrupt, f.path, err)
	}
	f.hash = sum
	f.ring.Store(r)
	return true, nil
}

// Watch reloads the keys file every interval (DefaultWatchInterval if
// interval <= 0) until ctx is done, so a rotation or retirement made by
// another process (a CLI, another instance sharing the file) takes effect
// without a restart. Errors go to the [OnError] function; the previous ring
// stays in use. Watch returns ctx.Err().
func (f *File) Watch(ctx context.Context, interval time.Duration) error {
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
			if _, err := f.Reload(); err != nil && f.onError != nil {
				f.onError(err)
			}
		}
	}
}

// Rotate adds a fresh key, staged for the staging delay (see
// [WithStagingDelay]): every instance that reloads the file meanwhile
// accepts what it signs or seals, but nothing is signed or sealed with it
// until its activation time (or [File.Activate]); then it becomes current,
// while the older active keys still verify and decrypt. The file is re-read
// and rewritten under an advisory lock, so concurrent rotations by other
// processes are kept.
func (f *File) Rotate() (Key, error) {
	var k Key
	err := f.update(func(r *Ring) (*Ring, error) {
		nr, nk, err := r.rotated(f.now(), f.stage)
		k = nk
		return nr, err
	})
	return k, err
}

// Activate makes the staged key id sign and encrypt from now on, without
// waiting for its activation time. Instances that have not re-read the file
// since the key was added will refuse what it signs until they do; activate
// early only when every instance has reloaded (or after a leak). It refuses
// an unknown, retired or already active key.
func (f *File) Activate(id string) (Key, error) {
	var k Key
	err := f.update(func(r *Ring) (*Ring, error) {
		nr, nk, err := r.activated(id, f.now())
		k = nk
		return nr, err
	})
	return k, err
}

// Retire marks the key with the given id retired: whatever it signed or
// sealed is refused from then on. Retire refuses an unknown or already
// retired id and the last active key. Retiring the current key while
// another is staged activates the staged one at once.
func (f *File) Retire(id string) error {
	return f.update(func(r *Ring) (*Ring, error) {
		return r.retired(id, f.now())
	})
}

// update applies change to the keys on disk under the file lock.
func (f *File) update(change func(*Ring) (*Ring, error)) error {
	f.mu.Lock()
	err := f.updateLocked(change)
	f.mu.Unlock()
	if err == nil && f.onChange != nil {
		f.onChange(f.Ring())
	}
	return err
}

func (f *File) updateLocked(change func(*Ring) (*Ring, error)) error {
	unlock, err := lockFile(f.path)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := f.reloadLocked(); err != nil {
		return err
	}
	r, err := change(f.Ring())
	if err != nil {
		return err
	}
	return f.writeLocked(r)
}

// writeLocked writes r to the keys file atomically: a 0600 temporary file
// in the same directory, synced, then renamed over the old file.
func (f *File) writeLocked(r *Ring) error {
	data, err := marshal(r)
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*.tmp") // O_EXCL, 0600
	if err != nil {
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("keyring: writing keys file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	f.hash = sha256.Sum256(data)
	f.ring.Store(r)
	return nil
}

// readFile reads a keys file, refusing one that is not a regular file, that
// group or others may access, or that is larger than MaxFileSize.
func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keyring: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; only its owner may read it; fix with: chmod 600 %s",
			ErrInsecureMode, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keyring: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, MaxFileSize)
	}
	return data, nil
}

// parse decodes and validates the content of a keys file.
func parse(data []byte, now time.Time) (*Ring, error) {
	var ff fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if ff.Version != fileVersion {
		return nil, fmt.Errorf("unsupported version %d (want %d)", ff.Version, fileVersion)
	}
	if len(ff.Keys) > maxKeys {
		return nil, fmt.Errorf("more than %d keys", maxKeys)
	}
	keys := make([]Key, 0, len(ff.Keys))
	for i, fk := range ff.Keys {
		secret, err := base64.StdEncoding.Strict().DecodeString(fk.Secret)
		if err != nil || len(secret) != SecretSize {
			return nil, fmt.Errorf("key %d (%q): secret is not base64 of %d bytes", i, fk.ID, SecretSize)
		}
		k := Key{ID: fk.ID, Created: fk.Created}
		copy(k.secret[:], secret)
		if fk.Retired != nil {
			if fk.Retired.IsZero() {
				return nil, fmt.Errorf("key %d (%q): zero retired time", i, fk.ID)
			}
			k.Retired = *fk.Retired
		}
		if fk.Activates != nil {
			if fk.Activates.IsZero() {
				return nil, fmt.Errorf("key %d (%q): zero activation time", i, fk.ID)
			}
			k.Activates = *fk.Activates
		}
		keys = append(keys, k)
	}
	r, err := newRing(keys, now)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// marshal encodes r as the content of a keys file.
func marshal(r *Ring) ([]byte, error) {
	ff := fileFormat{Version: fileVersion, Keys: make([]fileKey, len(r.keys))}
	for i, k := range r.keys {
		ff.Keys[i] = fileKey{
			ID:      k.ID,
			Secret:  base64.StdEncoding.EncodeToString(k.secret[:]),
			Created: k.Created,
		}
		if !k.Active() {
			t := k.Retired
			ff.Keys[i].Retired = &t
		}
		if !k.Activates.IsZero() {
			t := k.Activates
			ff.Keys[i].Activates = &t
		}
	}
	data, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keyring: encoding keys file: %w", err)
	}
	return append(data, '\n'), nil
}
