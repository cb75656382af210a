package app

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// flaskPython returns a Python with Flask and Authlib (Debian's
// python3-flask and python3-authlib), or skips (fails under CI=true).
func flaskPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import flask, authlib, requests").Run() == nil {
			return p
		}
	}
	testenv.Unavailable(t, "python3 with flask and authlib (apt-get install python3-flask python3-authlib)", "PATH", exec.ErrNotFound)
	return ""
}

// TestOIDCFlaskRP runs examples/flask-rp against a live Gatehouse: a user
// signs in at the Flask app through Gatehouse, consents, and is back at
// the app, signed in with their claims.
func TestOIDCFlaskRP(t *testing.T) {
	py := flaskPython(t)
	ts := startServer(t)
	b := oidcUser(t, ts, "flask@example.com", false)
	addr := freeAddr(t)
	app := "http://" + addr
	out := ts.mustCLI("", "client", "create", "--name", "Flask app", "--redirect-uri", app+"/callback", "--json")
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &cl); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "flask-rp", "app.py")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, script)
	cmd.Env = append(os.Environ(), "GATEHOUSE_URL="+ts.URL, "CLIENT_ID="+cl.ID, "CLIENT_SECRET="+cl.Secret,
		"FLASK_SECRET_KEY="+testenv.RandomHex(t, 32), "PORT="+strings.TrimPrefix(addr, "127.0.0.1:"))
	logs := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(app + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Flask app did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for start-up
	}

	get := func(u string) *response {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		return b.do(req)
	}
	abs := func(base, loc string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := u.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return ref.String()
	}
	// The app sends the user to Gatehouse.
	r := get(app + "/login")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), ts.URL+"/oidc/authorize?") {
		t.Fatalf("flask /login: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), logs.String())
	}
	r = get(r.Header.Get("Location")).want(t, http.StatusOK, "Flask app", "decision")
	m := formAction.FindStringSubmatch(r.body)
	r = b.post(html.UnescapeString(m[1]), url.Values{"csrf_token": {csrfField.FindStringSubmatch(r.body)[1]}, "decision": {"allow"}})
	loc := clientLocation(t, r)
	if !strings.HasPrefix(loc, app+"/callback?") {
		t.Fatalf("consent: %d %q", r.StatusCode, loc)
	}
	// Back at the app: it exchanges the code and verifies the ID token.
	r = get(loc)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("flask /callback: %d\n%s\n%s", r.StatusCode, trim(r.body), logs.String())
	}
	get(abs(app, r.Header.Get("Location"))).want(t, http.StatusOK, "flask@example.com", "groups: user")
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		t.Fatal("context cancelled early")
	}
}
