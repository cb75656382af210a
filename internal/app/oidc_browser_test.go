package app

import (
	"crypto/rand"
	"encoding/hex"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is a small web application that signs its users in with
// Gatehouse through go-oidc and x/oauth2, as docs/oidc.md shows.
type relyingParty struct {
	srv      *httptest.Server
	conf     *oauth2.Config
	verifier *gooidc.IDTokenVerifier
	mu       sync.Mutex
	pending  map[string][2]string // state -> nonce, PKCE verifier
}

func newRelyingParty(t *testing.T, ts *testServer, flags ...string) *relyingParty {
	t.Helper()
	rp := &relyingParty{pending: map[string][2]string{}}
	mux := http.NewServeMux()
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	c := newRPAt(t, ts, rp.srv.URL+"/callback", flags...)
	rp.conf, rp.verifier = c.conf, c.provider.Verifier(&gooidc.Config{ClientID: c.id})
	random := func() string { b := make([]byte, 16); _, _ = rand.Read(b); return hex.EncodeToString(b) }
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<!doctype html><title>RP</title><a id="signin" href="/login">Sign in with Gatehouse</a>`))
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, v := random(), random(), oauth2.GenerateVerifier()
		rp.mu.Lock()
		rp.pending[state] = [2]string{nonce, v}
		rp.mu.Unlock()
		http.Redirect(w, r, rp.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), gooidc.Nonce(nonce)), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		p, ok := rp.pending[r.URL.Query().Get("state")]
		delete(rp.pending, r.URL.Query().Get("state"))
		rp.mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		tok, err := rp.conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(p[1]))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.verifier.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != p[0] {
			http.Error(w, "bad ID token", http.StatusBadGateway)
			return
		}
		var claims struct {
			Email string   `json:"email"`
			AMR   []string `json:"amr"`
		}
		_ = idt.Claims(&claims)
		_, _ = w.Write([]byte(`<!doctype html><title>RP</title><p id="hello">Hello ` + html.EscapeString(claims.Email) +
			`, signed in with ` + html.EscapeString(strings.Join(claims.AMR, " ")) + `</p>`))
	})
	return rp
}

// newRPAt registers a client with this redirect URI.
func newRPAt(t *testing.T, ts *testServer, redirect string, flags ...string) *rp {
	t.Helper()
	c := newRP(t, ts, append([]string{"--redirect-uri", redirect}, flags...)...)
	c.redirect = redirect
	c.conf.RedirectURL = redirect
	return c
}

// The journey of the issue: at a small relying-party app, "Sign in with
// Gatehouse"; Gatehouse asks the one-factor session for its second factor
// (the client requires two), then for consent; back at the app, signed in.
func TestOIDCBrowserJourney(t *testing.T) {
	ts := startServer(t)
	b, app, _ := enrolled(t, ts, "una@example.com") // signed in with the password only
	rp := newRelyingParty(t, ts, "--require-2fa")
	c := newChrome(t)
	cookie := b.cookie("gatehouse")
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	c.do("open Gatehouse", chromedp.Navigate(ts.URL+"/healthz"))
	c.eval(`document.cookie = "gatehouse=` + cookie.Value + `; path=/"; "ok"`)
	c.do("sign in at the app", chromedp.Navigate(rp.srv.URL+"/"), chromedp.Click(chromedp.CSS("#signin")), visible("#code"))
	if loc := c.location(); !strings.Contains(loc, "/login/step-up") {
		t.Fatalf("expected the step-up page, at %s", loc)
	}
	c.do("second factor", fill(`form[action="/login/step-up"] button[type=submit]`, "#code", app.code()), visible(`button[value="allow"]`))
	if h := c.text("h1"); !strings.Contains(h, "Test App") {
		t.Fatalf("consent page heading %q", h)
	}
	c.do("consent", chromedp.Click(chromedp.CSS(`button[value="allow"]`)), visible("#hello"))
	if got := c.text("#hello"); !strings.Contains(got, "Hello una@example.com") || !strings.Contains(got, "mfa") {
		t.Fatalf("back at the app: %q", got)
	}
	c.failOnCSP()
}
