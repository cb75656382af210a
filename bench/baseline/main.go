// Command baseline serves the dashboard page from a bare net/http handler:
// the same embedded template Gatehouse renders, with no middleware, session
// or database. The bench program measures Gatehouse against it.
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/internal/web"
)

func main() {
	addr := "127.0.0.1:18080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	r, err := web.NewRenderer()
	if err != nil {
		log.Fatal(err)
	}
	user := &web.UserView{ID: 1, Email: "bench@example.com", EmailVerified: true, CreatedAt: time.Now()}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := &web.Page{Title: "Dashboard", User: user, CSRFToken: "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4", Form: map[string]string{}}
		if err := r.Render(w, http.StatusOK, "dashboard", p); err != nil {
			http.Error(w, "render", 500)
		}
	})
	log.Fatal((&http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe())
}
