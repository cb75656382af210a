package sqlstore_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/session"
)

func loginHandler(user string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Login(user, false)
	})
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
func newRequest() *http.Request               { return httptest.NewRequest("GET", "/", nil) }
