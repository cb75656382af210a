package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkRenderDashboard is the cost of the page alone: the baseline that
// the server's handler chain is measured against.
func BenchmarkRenderDashboard(b *testing.B) {
	r, err := NewRenderer()
	if err != nil {
		b.Fatal(err)
	}
	user := &UserView{ID: 1, Email: "bench@example.com", EmailVerified: true, CreatedAt: time.Now()}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			p := &Page{Title: "Dashboard", User: user, CSRFToken: "token", Form: map[string]string{}}
			if err := r.Render(rec, 200, "dashboard", p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
