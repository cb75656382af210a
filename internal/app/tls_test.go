package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns
// the file names and a pool trusting it.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSProductionStart serves HTTPS directly, in production mode (no
// --dev): cookies become __Host- and Secure, HSTS is sent, and TLS below
// 1.2 is refused.
func TestTLSProductionStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	addr := freeAddr(t)
	base := "https://" + addr
	args := []string{"--addr", addr, "--base-url", base, "--metrics-addr=", "--log-level", "warn",
		"--database-url", "sqlite:" + filepath.Join(dir, "g.db"), "--tls-cert", certFile, "--tls-key", keyFile}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := newSyncBuffer()
	go func() {
		done <- Run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, logs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no https: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Register and sign in over https.
	get := func(path string) (*http.Response, string) {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(path string, form url.Values) *http.Response {
		_, page := get("/login")
		form.Set("csrf_token", csrfField.FindStringSubmatch(page)[1])
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp, _ := get("/login")
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=31536000") || !strings.Contains(hsts, "includeSubDomains") {
		t.Errorf("HSTS = %q", hsts)
	}
	for _, c := range resp.Cookies() {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure {
			t.Errorf("cookie %s on https: %+v", c.Name, c)
		}
	}
	if r := post("/register", url.Values{"email": {"tls@example.com"}, "password": {goodPassword}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", r.StatusCode)
	}
	r := post("/login", url.Values{"email": {"tls@example.com"}, "password": {goodPassword}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.StatusCode)
	}
	var session *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "__Host-gatehouse" {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.Path != "/" || session.Domain != "" || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie on https: %+v", session)
	}
	if resp, body := get("/dashboard"); resp.StatusCode != 200 || !strings.Contains(body, "tls@example.com") {
		t.Fatalf("dashboard over https: %d", resp.StatusCode)
	}

	// Operational answers carry nosniff and HSTS too.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, _ := get(path)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s headers: %v", path, resp.Header)
		}
	}
	if resp, _ := get("/" + strings.Repeat("a", 9000)); resp.StatusCode != http.StatusRequestURITooLong ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("414: %d %v", resp.StatusCode, resp.Header)
	}

	// TLS 1.1 is refused, and so is every TLS 1.2 suite outside Mozilla's
	// intermediate profile (CBC, SHA-1 MACs, RSA key exchange).
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	for _, suite := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
		if err == nil {
			conn.Close()
			t.Errorf("TLS 1.2 with %s succeeded", tls.CipherSuiteName(suite))
		}
	}
	conn, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}})
	if err != nil {
		t.Errorf("TLS 1.2 with an AEAD suite: %v", err)
	} else {
		conn.Close()
	}
	// The refused handshakes above are logged once, not once each.
	eventually(t, 5*time.Second, "handshake failures logged", func() bool {
		return strings.Contains(logs.String(), "TLS handshake error")
	})
	if n := strings.Count(logs.String(), "TLS handshake error"); n != 1 {
		t.Errorf("%d handshake failures logged, want 1 (throttled):\n%s", n, logs.String())
	}
}

func TestServerErrorLogThrottlesHandshakes(t *testing.T) {
	var out strings.Builder
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	count := 0
	l := newServerErrorLog(slog.New(slog.NewTextHandler(&out, nil)), func() { count++ }, func() time.Time { return now })
	for i := 0; i < 100; i++ {
		l.Printf("http: TLS handshake error from 192.0.2.1:%d: EOF", 1000+i)
	}
	now = now.Add(handshakeLogEvery)
	l.Printf("http: TLS handshake error from 192.0.2.1:9999: EOF")
	l.Printf("http: superfluous response.WriteHeader call")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if count != 101 || len(lines) != 3 || !strings.Contains(lines[1], "not_logged_since_last=99") || !strings.Contains(lines[2], "superfluous") {
		t.Fatalf("count %d, lines:\n%s", count, out.String())
	}
}
