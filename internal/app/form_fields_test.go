package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormPostedToItsOwnURL: a field once in the query and once in the body
// (an HTML form without an action on /login?next=...) is not a repetition,
// and the body's value wins; a field twice in the body, or twice in the
// query, is still refused.
func TestFormPostedToItsOwnURL(t *testing.T) {
	ts := startServer(t)
	email := "fields@example.com"
	ts.browser().register(email, goodPassword)

	post := func(b *browser, target, body string) *response {
		req, _ := http.NewRequest("POST", ts.URL+target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", ts.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		return b.do(req)
	}
	creds := func(b *browser) string {
		return url.Values{"csrf_token": {b.token("/login")}, "email": {email}, "password": {goodPassword}}.Encode()
	}
	tests := []struct {
		name, target, extra string
		status              int
		location            string
	}{
		{"next in query and body", "/login?next=%2Faccount", "&next=%2Faccount", http.StatusSeeOther, "/account"},
		{"body wins over query", "/login?next=%2Fdashboard", "&next=%2Faccount%2Fsessions", http.StatusSeeOther, "/account/sessions"},
		{"next only in the query", "/login?next=%2Faccount", "", http.StatusSeeOther, "/account"},
		{"twice in the body", "/login", "&next=%2Faccount&next=%2Fdashboard", http.StatusBadRequest, ""},
		{"twice in the query", "/login?next=%2Faccount&next=%2Fdashboard", "", http.StatusBadRequest, ""},
		{"twice in the query, once in the body", "/login?next=%2Fa&next=%2Fb", "&next=%2Faccount", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ts.browser()
			r := post(b, tt.target, creds(b)+tt.extra)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.status, trim(r.body))
			}
			if tt.status == http.StatusBadRequest && !strings.Contains(r.body, "more than once") {
				t.Fatalf("400 without the reason:\n%s", trim(r.body))
			}
			if got := r.Header.Get("Location"); got != tt.location {
				t.Fatalf("Location %q, want %q", got, tt.location)
			}
		})
	}
}
