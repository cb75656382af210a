package web

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func init() {
	samplePageData["admin_access"] = AdminAccess{File: "/etc/gatehouse/rules.yaml", LoadedAt: time.Unix(0, 0),
		Error: errors.New("rule 2: <b>bad</b>").Error(), ErrorAt: time.Unix(60, 0), Rules: []string{"domains a.example.com -> deny"},
		Default: "deny", CookieDomain: "example.com"}
	samplePageData["continue"] = Continue{URL: `https://app.example.com/?a=1&b="<x>"`}
}

func TestContinueEscapesTheURL(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 200, "continue", &Page{Title: "Continue", Data: samplePageData["continue"]}); err != nil {
		t.Fatal(err)
	}
	if body := rec.Body.String(); !strings.Contains(body, `href="https://app.example.com/?a=1&amp;b=%22%3cx%3e%22"`) {
		t.Fatalf("link not escaped:\n%s", body)
	}
}
