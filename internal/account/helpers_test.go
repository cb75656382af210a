package account_test

import (
	"context"
	"crypto/subtle"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/password"
)

var ctx = context.Background()

// fakeHasher is a cheap, observable PasswordHasher for rule tests. Hashes
// look like "fake$<version>$<password>"; a hash of an older version needs
// a rehash. The real argon2id pool is used in TestRealPasswordPackage.
type fakeHasher struct {
	version                  atomic.Int32
	hashes, verifies, dummys atomic.Int32
	busy                     atomic.Bool
}

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) {
	h.hashes.Add(1)
	if h.busy.Load() {
		return "", password.ErrBusy
	}
	return "fake$" + string(rune('0'+h.version.Load())) + "$" + pw, nil
}

func (h *fakeHasher) Verify(_ context.Context, pw, encoded string) (bool, error) {
	h.verifies.Add(1)
	if h.busy.Load() {
		return false, password.ErrBusy
	}
	parts := strings.SplitN(encoded, "$", 3)
	if len(parts) != 3 || parts[0] != "fake" {
		return false, password.ErrMalformedHash
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(pw)) != 1 {
		return false, password.ErrMismatch
	}
	return parts[1] != string(rune('0'+h.version.Load())), nil
}

func (h *fakeHasher) VerifyDummy(_ context.Context, pw string) error {
	h.dummys.Add(1)
	if h.busy.Load() {
		return password.ErrBusy
	}
	return password.ErrMismatch
}

// fakeClock is an injected clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	svc    *account.Service
	db     *db.DB
	hasher *fakeHasher
	clock  *fakeClock
}

var start = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	d := mustOpenDB(t)
	e := &env{db: d, hasher: &fakeHasher{}, clock: &fakeClock{t: start}}
	e.svc = account.NewService(account.Config{
		Users: d.Users(), Audit: d.Audit(), Hasher: e.hasher, Policy: password.Policy{}, Now: e.clock.Now,
	})
	return e
}

func mustOpenDB(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "g.db"), db.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var meta = account.Meta{IP: "198.51.100.7", UserAgent: "test-agent/1.0"}

const goodPassword = "correct horse battery staple"

func (e *env) mustRegister(t *testing.T, email, pw string) account.User {
	t.Helper()
	r, err := e.svc.Register(ctx, account.RegisterInput{Email: email, Password: pw, DisplayName: "N"}, meta)
	if err != nil || r.Existing {
		t.Fatalf("Register(%s) = %+v, %v", email, r, err)
	}
	return r.User
}

func (e *env) mustCreate(t *testing.T, email string, admin bool) account.User {
	t.Helper()
	u, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: email, Password: goodPassword, Admin: admin}, meta)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// events returns the audit events named name, newest first.
func (e *env) events(t *testing.T, name account.EventName) []account.Event {
	t.Helper()
	evs, err := e.svc.ListAudit(ctx, account.AuditFilter{Name: name, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (e *env) lastEvent(t *testing.T, name account.EventName) account.Event {
	t.Helper()
	evs := e.events(t, name)
	if len(evs) == 0 {
		t.Fatalf("no %s event", name)
	}
	return evs[0]
}

func fieldErrors(err error) map[string]string {
	var ve *account.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	return nil
}
