package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestHeaderCapIsWhatTheDocsSay: a request's line and headers may hold
// 16 KiB together (docs/security.md); net/http's own allowance beyond
// MaxHeaderBytes is taken into account.
func TestHeaderCapIsWhatTheDocsSay(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name  string
		bytes int
		want  int
	}{
		{"15 KiB of headers", 15 << 10, http.StatusOK},
		{"just over 16 KiB", 16<<10 + 512, http.StatusRequestHeaderFieldsTooLarge},
		{"20 KiB", 20 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", ts.URL+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", tt.bytes))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}
