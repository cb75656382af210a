package account_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/password"
)

// cheapPool is the real argon2id pool with test-sized parameters.
func cheapPool(t *testing.T, memKiB uint32) *password.Pool {
	t.Helper()
	h, err := password.NewHasher(password.WithParams(password.Params{Memory: memKiB, Time: 1, Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return password.NewPool(h, password.WithWorkers(2))
}

func realService(d *db.DB, pool *password.Pool) *account.Service {
	return account.NewService(account.Config{Users: d.Users(), Audit: d.Audit(), Hasher: pool, Policy: password.Policy{}})
}

// The password package plugs in without an adapter, and a hash made with
// old parameters is upgraded at the next sign-in.
func TestRealPasswordPackage(t *testing.T) {
	d := mustOpenDB(t)
	old := realService(d, cheapPool(t, 64))
	reg, err := old.Register(ctx, account.RegisterInput{Email: "ada@example.com", Password: goodPassword}, meta)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Users().CredentialsByID(ctx, reg.User.ID)
	if !strings.HasPrefix(c.PasswordHash, "$argon2id$") || !strings.Contains(c.PasswordHash, "m=64,") {
		t.Fatalf("stored hash = %q", c.PasswordHash)
	}
	svc := realService(d, cheapPool(t, 128))
	for _, tc := range []struct{ email, pw string }{{"ada@example.com", "wrong password"}, {"nobody@example.com", goodPassword}} {
		if _, err := svc.Authenticate(ctx, tc.email, tc.pw, meta); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", tc.email, err)
		}
	}
	if _, err := svc.Authenticate(ctx, "ada@example.com", goodPassword, meta); err != nil {
		t.Fatal(err)
	}
	c, _ = d.Users().CredentialsByID(ctx, reg.User.ID)
	if !strings.Contains(c.PasswordHash, "m=128,") {
		t.Fatalf("hash not upgraded: %q", c.PasswordHash)
	}
	if _, err := svc.Authenticate(ctx, "ada@example.com", goodPassword, meta); err != nil {
		t.Fatalf("after upgrade: %v", err)
	}
	if _, err := svc.ChangePassword(ctx, reg.User.ID, goodPassword, "ada@example.com", meta); !strings.Contains((fieldErrors(err))[account.FieldNewPassword], "email") {
		t.Fatalf("ChangePassword(email as password) = %v", err)
	}
}

// The service rules hold on Postgres too (the repository suite in
// internal/db covers the storage details on both engines).
func TestServicePostgres(t *testing.T) {
	d, err := db.Open(ctx, testenv.PostgresSchemaURL(t), db.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := realService(d, cheapPool(t, 64))
	first, err := svc.Register(ctx, account.RegisterInput{Email: "pg@example.com", Password: goodPassword}, meta)
	if err != nil || first.Existing {
		t.Fatal(first, err)
	}
	dup, err := svc.Register(ctx, account.RegisterInput{Email: "PG@example.com", Password: "some other password"}, meta)
	if err != nil || !dup.Existing || dup.User.ID != first.User.ID {
		t.Fatalf("duplicate = %+v, %v", dup, err)
	}
	if _, err := svc.Authenticate(ctx, "pg@example.com", "some other password", meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("duplicate changed the password: %v", err)
	}
	u, err := svc.Authenticate(ctx, "pg@example.com", goodPassword, meta)
	if err != nil || u.ID != first.User.ID {
		t.Fatal(u, err)
	}
	evs, err := svc.ListAudit(ctx, account.AuditFilter{UserID: u.ID})
	if err != nil || len(evs) != 4 || evs[0].Name != account.EventLoginSuccess {
		t.Fatalf("audit = %+v, %v", evs, err)
	}
}
