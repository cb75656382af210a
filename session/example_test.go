package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/memstore"
)

func Example() {
	m, err := session.NewManager(memstore.New()) // secure defaults
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the credentials, then:
		s := session.FromContext(r.Context())
		s.Login("user-42", r.PostFormValue("remember") == "on")
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Destroy()
		s.AddFlash("You are signed out.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	h := m.Handler(mux)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/login", nil))
	c := w.Result().Cookies()[0]
	fmt.Println(w.Code, c.Name, c.Secure, c.HttpOnly, c.SameSite == http.SameSiteLaxMode)
	// Output: 303 __Host-gatehouse true true true
}

func ExampleInsecureCookie() {
	// Only for a development server on http://localhost.
	m, err := session.NewManager(memstore.New(), session.InsecureCookie())
	if err != nil {
		log.Fatal(err)
	}
	_ = m
}

func ExampleManager_List() {
	ctx := context.Background()
	m, _ := session.NewManager(memstore.New())
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Login("alice", false)
	}))
	for range 2 { // two browsers
		login.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	infos, _ := m.List(ctx, "alice")
	fmt.Println(len(infos))
	n, _ := m.RevokeAll(ctx, "alice", infos[0].Handle) // "sign out other sessions"
	fmt.Println(n)
	_ = m.RevokeOne(ctx, "alice", infos[0].Handle) // "end this one"
	infos, _ = m.List(ctx, "alice")
	fmt.Println(len(infos))
	// Output:
	// 2
	// 1
	// 0
}

func ExampleManager_RunSweeper() {
	m, _ := session.NewManager(memstore.New())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := m.RunSweeper(ctx, 10*time.Minute); err != nil {
			log.Print(err) // session.ErrNotSupported: the store expires records itself
		}
	}()
}

func ExampleSession_Renew() {
	h := func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		// The second factor was checked: raise the privilege with a new token.
		s.Remove("pending_2fa_user")
		s.Renew()
	}
	_ = h
}
