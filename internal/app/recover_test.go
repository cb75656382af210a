package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/kit"
)

// TestRecovererAnswersWithoutDetail checks that a panic becomes a plain 500
// page that shows nothing of the panic.
func TestRecovererAnswersWithoutDetail(t *testing.T) {
	h := kit.RequestID(slog.New(slog.NewTextHandler(io.Discard, nil)))(recoverer(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "Something went wrong on our side.")
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret detail /etc/gatehouse.keys SELECT * FROM users")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	if b := rec.Body.String(); strings.Contains(b, "secret") || strings.Contains(b, "SELECT") || strings.Contains(b, "goroutine") {
		t.Fatalf("panic detail leaked: %q", b)
	}
}
