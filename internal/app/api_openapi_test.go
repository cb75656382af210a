package app

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/api"
)

// Each documented route is really served (neither 404 nor 405).
func TestAPIOpenAPIRoutesServed(t *testing.T) {
	ts := startServer(t)
	for _, rt := range api.Routes() {
		r := apiCall(t, ts, rt.Method, rt.Path, "")
		if r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d", rt.Method, rt.Path, r.StatusCode)
		}
	}
}
