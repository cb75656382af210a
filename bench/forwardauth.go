package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/proxytest"
)

// forwardAuthRules lets signed-in users through to app.example.com.
const forwardAuthRules = `default: deny
rules:
  - domains: [app.example.com, 127.0.0.1]
    policy: signed_in
`

// forwardAuth measures signed-in verdicts on GET /auth/forward (what
// Caddy and Traefik ask for every request) against a bare net/http handler
// that answers 200, served from this process, loaded just before and just
// after (paired, like the page scenarios).
func forwardAuth(dir, bin string) {
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(forwardAuthRules), 0o600); err != nil {
		panic(err)
	}
	srv := startGatehouse(dir, bin, "forwardauth", []string{"--access-rules", rules, "--trusted-proxies", "127.0.0.1/32"})
	defer srv.stop()
	cookie := srv.signIn()

	bare := "http://" + freeAddr()
	go func() {
		_ = http.ListenAndServe(strings.TrimPrefix(bare, "http://"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}))
	}()
	waitHTTP(bare + "/")

	hdr := map[string]string{
		"Cookie":             cookie,
		"Accept":             "text/html",
		"X-Forwarded-Method": "GET",
		"X-Forwarded-Proto":  "https",
		"X-Forwarded-Host":   "app.example.com",
		"X-Forwarded-Uri":    "/dashboard?tab=1",
	}
	before := wrk("  bare net/http 200, before", bare+"/", *conns, nil, "", false, "", *duration/2)
	r := wrk("GET /auth/forward, signed in (200 + Remote-Token)", srv.url+"/auth/forward", *conns, hdr, "", false, "", *duration)
	after := wrk("  bare net/http 200, after", bare+"/", *conns, nil, "", false, "", *duration/2)
	r.Base = (before.RPS + after.RPS) / 2
	r.Note = "baseline: bare net/http 200"
	results = append(results, r)

	// The latency nginx adds in front of the bare upstream, without and
	// with auth_request to Gatehouse (the documented configuration).
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		fmt.Println("forwardauth: no nginx (apt-get install nginx); skipping the nginx loads")
		return
	}
	signedIn := map[string]string{"Cookie": cookie}
	direct := wrk("  bare upstream, direct", bare+"/", *conns, nil, "", false, "", *duration/2)
	for _, tc := range []struct{ name, gatehouse string }{
		{"nginx -> bare upstream (no auth_request)", ""},
		{"nginx + auth_request -> bare upstream, signed in", strings.TrimPrefix(srv.url, "http://")},
	} {
		sub := filepath.Join(dir, "nginx-"+strconv.Itoa(len(results)))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			log.Fatal(err)
		}
		listen := freeAddr()
		args, err := proxytest.NginxConfig(sub, listen, tc.gatehouse, strings.TrimPrefix(bare, "http://"))
		if err != nil {
			log.Fatal(err)
		}
		cmd := start(nginx, args, nil)
		waitHTTP("http://" + listen + "/")
		res := wrk(tc.name, "http://"+listen+"/", *conns, signedIn, "", false, "", *duration)
		res.Base = direct.RPS
		res.Note = fmt.Sprintf("p50 +%s over the direct upstream", (res.P50 - direct.P50).Round(10*time.Microsecond))
		results = append(results, res)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
