// Package proxytest starts real reverse proxies (Debian's nginx and caddy)
// as child processes on free loopback ports, configured with exactly the
// files that docs/forward-auth.md documents, and a small upstream that
// echoes the request it received. It is imported only by _test.go files and
// imports only the standard library and internal/testenv.
//
// A missing proxy binary skips the test with a message, except under
// CI=true, where it fails (see testenv.Unavailable).
package proxytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The addresses the documented configurations use; the harness replaces
// them with the test's own.
const (
	// DocGatehouse is Gatehouse's address in the documented configurations.
	DocGatehouse = "127.0.0.1:8080"
	// DocUpstream is the app's address in the documented configurations.
	DocUpstream = "127.0.0.1:3000"
	// DocHost is the protected app's host name in the documented configurations.
	DocHost = "app.example.com"
)

// DocFile returns the path of a file under docs/forward-auth/ (nginx.conf,
// Caddyfile, traefik.yml, rules.yaml).
func DocFile(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "forward-auth", name)
}

// Proxy is a running reverse proxy.
type Proxy struct {
	// Addr is the loopback address it listens on.
	Addr string
	// Host is the Host header clients send: DocHost and the port.
	Host string
	// URL is "http://" + Host.
	URL string
	// Log returns what the proxy wrote to its error log and output so far.
	Log func() string
}

// Client returns an HTTP client that sends every request to the proxy,
// whatever the URL's host, and does not follow redirects.
func (p *Proxy) Client() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, p.Addr)
			},
			DisableKeepAlives: false,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Echo is what the upstream received, as it answers it (JSON).
type Echo struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// Upstream starts the app stand-in: it answers every request with 200 and
// the request's method, URI, host and headers as JSON (an Echo), with the
// header "X-Upstream: echo" so tests can tell it from the proxy's pages.
func Upstream(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "echo")
		_ = json.NewEncoder(w).Encode(Echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ReadEcho decodes the upstream's answer, failing the test when the
// response did not come from the upstream.
func ReadEcho(t testing.TB, resp *http.Response) Echo {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e Echo
	if resp.Header.Get("X-Upstream") != "echo" || json.Unmarshal(body, &e) != nil {
		t.Fatalf("response %d did not come from the upstream: %s", resp.StatusCode, body)
	}
	return e
}

// substitute replaces the documented addresses, refusing when one of them
// is missing (the documentation and the harness drifted apart).
func substitute(name string, data []byte, pairs ...string) ([]byte, error) {
	for i := 0; i < len(pairs); i += 2 {
		if !bytes.Contains(data, []byte(pairs[i])) {
			return nil, fmt.Errorf("%s no longer contains %q: update internal/proxytest", name, pairs[i])
		}
		data = bytes.ReplaceAll(data, []byte(pairs[i]), []byte(pairs[i+1]))
	}
	return data, nil
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		testenv.Unavailable(t, name, "PATH", fmt.Errorf("%w (apt-get install %s)", err, name))
	}
	return p
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	ch chan []byte
}

func newSyncBuffer() *syncBuffer {
	b := &syncBuffer{ch: make(chan []byte, 1)}
	b.ch <- nil
	return b
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	buf := <-b.ch
	if len(buf) < 1<<20 {
		buf = append(buf, p...)
	}
	b.ch <- buf
	return len(p), nil
}

func (b *syncBuffer) String() string {
	buf := <-b.ch
	b.ch <- buf
	return string(buf)
}

// start runs the proxy until the test ends and waits until it accepts
// connections on addr.
func start(t testing.TB, cmd *exec.Cmd, addr string, logs ...string) *Proxy {
	t.Helper()
	out := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	logText := func() string {
		s := out.String()
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil {
				s += string(data)
			}
		}
		return s
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited: %v\n%s", cmd.Path, err, logText())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", cmd.Path, addr, logText())
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	host := DocHost + ":" + port
	return &Proxy{Addr: addr, Host: host, URL: "http://" + host, Log: logText}
}

// Nginx starts nginx with the documented site configuration
// docs/forward-auth/nginx.conf, with Gatehouse at gatehouseAddr and the app
// at upstreamAddr ("127.0.0.1:port"). It runs as the test's user, in the
// foreground, with one process and everything under a temporary directory.
func Nginx(t testing.TB, gatehouseAddr, upstreamAddr string) *Proxy {
	t.Helper()
	bin := lookPath(t, "nginx")
	port := freePort(t)
	dir := t.TempDir()
	args, err := NginxConfig(dir, "127.0.0.1:"+port, gatehouseAddr, upstreamAddr)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, exec.Command(bin, args...), "127.0.0.1:"+port, filepath.Join(dir, "error.log"))
}

// NginxConfig writes into dir an nginx configuration that runs unprivileged
// in the foreground, one process, everything under dir, and serves the
// documented site (docs/forward-auth/nginx.conf) on listen with Gatehouse
// at gatehouseAddr and the app at upstreamAddr. With gatehouseAddr "" the
// site is a plain reverse proxy to the app instead (for comparisons). It
// returns nginx's arguments.
func NginxConfig(dir, listen, gatehouseAddr, upstreamAddr string) ([]string, error) {
	var site []byte
	if gatehouseAddr == "" {
		site = []byte("server {\n    listen " + listen + ";\n    location / {\n        proxy_pass http://" + upstreamAddr + ";\n    }\n}\n")
	} else {
		doc, err := os.ReadFile(DocFile("nginx.conf"))
		if err != nil {
			return nil, err
		}
		if site, err = substitute("nginx.conf", doc,
			"listen 80;", "listen "+listen+";",
			DocGatehouse, gatehouseAddr,
			DocUpstream, upstreamAddr); err != nil {
			return nil, err
		}
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, dir)
	for name, data := range map[string][]byte{"site.conf": site, "nginx.conf": []byte(main)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")}, nil
}

// Caddy starts caddy with the documented docs/forward-auth/Caddyfile, with
// Gatehouse at gatehouseAddr and the app at upstreamAddr. The site address
// becomes "http://app.example.com:port" and a global block turns off the
// admin endpoint and automatic HTTPS; the rest is the documented file.
func Caddy(t testing.TB, gatehouseAddr, upstreamAddr string) *Proxy {
	t.Helper()
	bin := lookPath(t, "caddy")
	site, err := os.ReadFile(DocFile("Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	site, err = substitute("Caddyfile", site,
		"\n"+DocHost+" {", "\nhttp://"+DocHost+":"+port+" {",
		DocGatehouse, gatehouseAddr,
		DocUpstream, upstreamAddr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	global := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n"
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, append([]byte(global), site...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", conf)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	return start(t, cmd, "127.0.0.1:"+port)
}

// Traefik returns the request headers Traefik's ForwardAuth middleware
// (v2 and v3, trustForwardHeader false) sends to the auth address for a
// client request to the protected app: the client's headers, without
// hop-by-hop ones, plus X-Forwarded-Method, -Proto, -Host, -Uri and -For.
// Traefik is not packaged in Debian; tests send this from a Go client.
func Traefik(client *http.Request, clientIP string) http.Header {
	h := client.Header.Clone()
	for _, hop := range []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(hop)
	}
	for name := range h {
		if strings.HasPrefix(name, "X-Forwarded-") {
			h.Del(name) // trustForwardHeader: false
		}
	}
	proto := "http"
	if client.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Method", client.Method)
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Host", client.Host)
	h.Set("X-Forwarded-Uri", client.URL.RequestURI())
	h.Set("X-Forwarded-For", clientIP)
	return h
}
