package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/api"
	"github.com/gatehouse/gatehouse/internal/cli"
)

// BenchmarkAPIMe measures GET /api/v1/me with a bearer token in process,
// through the whole handler chain (bench/ measures it over the network).
func BenchmarkAPIMe(b *testing.B) {
	dir := b.TempDir()
	args := append([]string{"--dev", "--database-url", "sqlite:" + filepath.Join(dir, "g.db"), "--access-log=false", "--log-level", "error"}, fastHashArgs...)
	cfg, _, err := parseConfig(args, func(string) string { return "" }, io.Discard, true)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	d, err := openDeps(ctx, cfg, newLogger(cfg, io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if _, err := d.db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	_, h, err := NewServer(d)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.accounts.CreateUser(ctx, account.CreateUserInput{Email: "bench@example.com", Password: goodPassword, Verified: true}, cli.Meta); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/token", strings.NewReader(`{"email":"bench@example.com","password":"`+goodPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tr api.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
