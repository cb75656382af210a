package db_test

import (
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
)

// The OpenID Connect repository, run unchanged against both engines.
func TestOIDCSQLite(t *testing.T)   { runOIDCSuite(t, openSQLite) }
func TestOIDCPostgres(t *testing.T) { runOIDCSuite(t, openPostgres) }

func runOIDCSuite(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *db.DB)
	}{
		{"Clients", testOIDCClients},
		{"Tokens", testOIDCTokens},
		{"ConcurrentDeactivate", testOIDCConcurrentDeactivate},
		{"Transaction", testOIDCTransaction},
		{"Consents", testOIDCConsents},
		{"SigningKeys", testOIDCSigningKeys},
		{"DisableDeleteClient", testOIDCDisableDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func mustClient(t *testing.T, d *db.DB, id string) db.OIDCClient {
	t.Helper()
	h := sha256.Sum256([]byte("secret-" + id))
	c := db.OIDCClient{ID: id, SecretHash: h[:], Name: "App " + id, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		PostLogoutURIs: []string{"https://app.example/"}, Scopes: []string{"openid", "profile"}, Roles: []string{"admin"},
		Require2FA: true, CreatedAt: t0}
	if err := d.OIDC().InsertClient(ctx, c); err != nil {
		t.Fatalf("InsertClient(%s): %v", id, err)
	}
	return c
}

var oidcSeq atomic.Int64

func oidcTok(kind, req, client string, user int64) db.OIDCToken {
	h := sha256.Sum256([]byte{byte(oidcSeq.Add(1)), byte(oidcSeq.Load() >> 8)})
	return db.OIDCToken{Kind: kind, Signature: h[:], RequestID: req, ClientID: client, UserID: user, Active: true,
		RequestedAt: t0, ExpiresAt: t0.Add(time.Hour), Data: `{"k":"` + kind + `"}`}
}

func testOIDCClients(t *testing.T, d *db.DB) {
	o := d.OIDC()
	want := mustClient(t, d, "c1")
	pub := db.OIDCClient{ID: "c0", Name: "Native", RedirectURIs: []string{"http://127.0.0.1/cb"}, Public: true, Scopes: []string{"openid"}, CreatedAt: t0.Add(-time.Hour)}
	if err := o.InsertClient(ctx, pub); err != nil {
		t.Fatal(err)
	}
	if err := o.InsertClient(ctx, want); !errors.Is(err, db.ErrOIDCConflict) {
		t.Fatalf("duplicate InsertClient = %v, want ErrOIDCConflict", err)
	}
	got, err := o.Client(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || !slices.Equal(got.RedirectURIs, want.RedirectURIs) || !slices.Equal(got.Roles, want.Roles) ||
		!got.Require2FA || got.Public || got.SkipConsent || got.Disabled() || !got.CreatedAt.Equal(want.CreatedAt.Truncate(time.Microsecond)) ||
		string(got.SecretHash) != string(want.SecretHash) || !slices.Equal(got.PostLogoutURIs, want.PostLogoutURIs) {
		t.Fatalf("Client = %+v, want %+v", got, want)
	}
	if _, err := o.Client(ctx, "nope"); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("Client(nope) = %v", err)
	}
	all, err := o.Clients(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "c0" || !all[0].Public || all[0].SecretHash != nil {
		t.Fatalf("Clients = %+v, %v", all, err)
	}
	h := sha256.Sum256([]byte("new"))
	if err := o.SetClientSecret(ctx, "c1", h[:]); err != nil {
		t.Fatal(err)
	}
	if err := o.SetClientSecret(ctx, "c0", h[:]); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("SetClientSecret(public) = %v, want not found", err)
	}
	if got, _ := o.Client(ctx, "c1"); string(got.SecretHash) != string(h[:]) {
		t.Fatal("secret not replaced")
	}
}

func testOIDCTokens(t *testing.T, d *db.DB) {
	o := d.OIDC()
	mustClient(t, d, "c1")
	u := mustCreate(t, d, "a@example.com")
	a := oidcTok("refresh", "req1", "c1", u.ID)
	b := oidcTok("refresh", "req1", "c1", u.ID)
	c := oidcTok("access", "req1", "c1", u.ID)
	code := oidcTok("code", "req2", "c1", 0)
	for _, tk := range []db.OIDCToken{a, b, c, code} {
		if err := o.InsertToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.InsertToken(ctx, a); !errors.Is(err, db.ErrOIDCConflict) {
		t.Fatalf("duplicate InsertToken = %v", err)
	}
	got, err := o.Token(ctx, "refresh", a.Signature)
	if err != nil || got.Data != a.Data || got.UserID != u.ID || !got.Active || got.RequestID != "req1" || !got.ExpiresAt.Equal(a.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("Token = %+v, %v", got, err)
	}
	if _, err := o.Token(ctx, "access", a.Signature); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("Token(other kind) = %v", err)
	}
	if got, _ := o.Token(ctx, "code", code.Signature); got.UserID != 0 {
		t.Fatalf("code user = %d", got.UserID)
	}
	if ok, err := o.DeactivateToken(ctx, "refresh", a.Signature); !ok || err != nil {
		t.Fatalf("DeactivateToken = %v, %v", ok, err)
	}
	if ok, _ := o.DeactivateToken(ctx, "refresh", a.Signature); ok {
		t.Fatal("second DeactivateToken reported a change")
	}
	if n, err := o.DeactivateRequest(ctx, "refresh", "req1"); n != 1 || err != nil {
		t.Fatalf("DeactivateRequest = %d, %v; want 1 (b only)", n, err)
	}
	if n, err := o.DeactivateUser(ctx, u.ID, "other"); n != 0 || err != nil {
		t.Fatalf("DeactivateUser(other client) = %d, %v", n, err)
	}
	if n, err := o.DeactivateUser(ctx, u.ID, ""); n != 1 || err != nil {
		t.Fatalf("DeactivateUser = %d, %v; want 1 (the access token)", n, err)
	}
	if err := o.DeleteToken(ctx, "code", code.Signature); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Token(ctx, "code", code.Signature); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("deleted token = %v", err)
	}
	if n, err := o.DeleteExpiredTokens(ctx, t0.Add(2*time.Hour)); n != 3 || err != nil {
		t.Fatalf("DeleteExpiredTokens = %d, %v", n, err)
	}
}

func testOIDCConcurrentDeactivate(t *testing.T, d *db.DB) {
	o := d.OIDC()
	mustClient(t, d, "c1")
	tk := oidcTok("code", "r", "c1", 0)
	if err := o.InsertToken(ctx, tk); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if ok, err := o.DeactivateToken(ctx, "code", tk.Signature); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent deactivations succeeded, want 1", wins.Load())
	}
}

func testOIDCTransaction(t *testing.T, d *db.DB) {
	o := d.OIDC()
	mustClient(t, d, "c1")
	a, b := oidcTok("access", "r", "c1", 0), oidcTok("access", "r", "c1", 0)
	tctx, err := o.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.InsertToken(tctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Token(tctx, "access", a.Signature); err != nil {
		t.Fatalf("read inside the transaction: %v", err)
	}
	if err := o.Rollback(tctx); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Token(ctx, "access", a.Signature); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("rolled-back insert visible: %v", err)
	}
	tctx, _ = o.BeginTx(ctx)
	if err := o.InsertToken(tctx, b); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(tctx); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Token(ctx, "access", b.Signature); err != nil {
		t.Fatalf("committed insert: %v", err)
	}
	if err := o.Commit(ctx); err == nil {
		t.Fatal("Commit without a transaction succeeded")
	}
}

func testOIDCConsents(t *testing.T, d *db.DB) {
	o := d.OIDC()
	mustClient(t, d, "c1")
	mustClient(t, d, "c2")
	u := mustCreate(t, d, "a@example.com")
	if _, err := o.Consent(ctx, u.ID, "c1"); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("Consent before = %v", err)
	}
	for i, c := range []string{"c1", "c2", "c1"} {
		err := o.SaveConsent(ctx, db.OIDCConsent{UserID: u.ID, ClientID: c, Scopes: []string{"openid", c}, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
	}
	cs, err := o.Consents(ctx, u.ID)
	if err != nil || len(cs) != 2 || cs[0].ClientID != "c1" || !slices.Equal(cs[0].Scopes, []string{"openid", "c1"}) {
		t.Fatalf("Consents = %+v, %v", cs, err)
	}
	tk := oidcTok("refresh", "r", "c1", u.ID)
	other := oidcTok("refresh", "r2", "c2", u.ID)
	_ = o.InsertToken(ctx, tk)
	_ = o.InsertToken(ctx, other)
	if err := o.RevokeConsent(ctx, u.ID, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Consent(ctx, u.ID, "c1"); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("Consent after revoke = %v", err)
	}
	if got, _ := o.Token(ctx, "refresh", tk.Signature); got.Active {
		t.Fatal("revoking consent left the client's refresh token active")
	}
	if got, _ := o.Token(ctx, "refresh", other.Signature); !got.Active {
		t.Fatal("revoking consent of c1 deactivated c2's token")
	}
}

func testOIDCSigningKeys(t *testing.T, d *db.DB) {
	o := d.OIDC()
	k := db.OIDCSigningKey{KID: "abcd1234-rs256", Sealed: []byte("sealed"), CreatedAt: t0}
	if ok, err := o.InsertSigningKey(ctx, k); !ok || err != nil {
		t.Fatalf("InsertSigningKey = %v, %v", ok, err)
	}
	if ok, err := o.InsertSigningKey(ctx, db.OIDCSigningKey{KID: k.KID, Sealed: []byte("other"), CreatedAt: t0}); ok || err != nil {
		t.Fatalf("second InsertSigningKey = %v, %v; want false, nil", ok, err)
	}
	ks, err := o.SigningKeys(ctx)
	if err != nil || len(ks) != 1 || string(ks[0].Sealed) != "sealed" {
		t.Fatalf("SigningKeys = %+v, %v", ks, err)
	}
}

func testOIDCDisableDelete(t *testing.T, d *db.DB) {
	o := d.OIDC()
	mustClient(t, d, "c1")
	u := mustCreate(t, d, "a@example.com")
	tk := oidcTok("access", "r", "c1", u.ID)
	_ = o.InsertToken(ctx, tk)
	_ = o.SaveConsent(ctx, db.OIDCConsent{UserID: u.ID, ClientID: "c1", Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0})
	if err := o.DisableClient(ctx, "c1", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.DisableClient(ctx, "c1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, _ := o.Client(ctx, "c1")
	if !c.DisabledAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("DisabledAt = %v, want the first disabling", c.DisabledAt)
	}
	if got, _ := o.Token(ctx, "access", tk.Signature); got.Active {
		t.Fatal("disabling left a token active")
	}
	if err := o.DisableClient(ctx, "nope", t0); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("DisableClient(nope) = %v", err)
	}
	if err := o.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := o.DeleteClient(ctx, "c1"); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatalf("second DeleteClient = %v", err)
	}
	if _, err := o.Token(ctx, "access", tk.Signature); !errors.Is(err, db.ErrOIDCNotFound) {
		t.Fatal("deleting the client kept its tokens")
	}
	if cs, _ := o.Consents(ctx, u.ID); len(cs) != 0 {
		t.Fatal("deleting the client kept its consents")
	}
}
