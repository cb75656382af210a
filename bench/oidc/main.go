// Command oidc measures Gatehouse's OpenID Connect provider and prints a
// Markdown table for docs/benchmarks.md:
//
//   - code exchange at the token endpoint (codes per second, 4 workers),
//     against the raw RS256 signing rate of the same key (each exchange
//     signs an access token and an ID token);
//   - UserInfo with a valid token at 50 connections, against a bare
//     net/http handler answering a similar JSON body on the same machine.
//
// It runs Gatehouse in-process (app.Run) on SQLite in a temporary
// directory. Run it from the repository root: go run ./bench/oidc
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
	"golang.org/x/oauth2"
)

var (
	duration = flag.Duration("d", 5*time.Second, "duration of each load")
	conns    = flag.Int("c", 50, "connections for the UserInfo load")
	workers  = flag.Int("w", 4, "concurrent code exchanges")
)

const (
	email    = "bench@example.com"
	password = "quiet horses gallop at dawn"
	redirect = "http://127.0.0.1:9/cb"
)

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func run(args []string, stdin string) string {
	var out, errb bytes.Buffer
	if err := app.Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errb); err != nil {
		log.Fatalf("gatehouse %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gatehouse-oidc-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := freeAddr()
	base := "http://" + addr
	dbURL := "sqlite:" + filepath.Join(dir, "g.db")
	keysFile := filepath.Join(dir, "keys")
	args := []string{"--dev", "--addr", addr, "--base-url", base, "--metrics-addr=", "--log-level", "error", "--access-log=false",
		"--database-url", dbURL, "--keys-file", keysFile, "--argon2-memory=1024", "--argon2-time=1"}
	run(append(args, "user", "create", "--email", email, "--verified"), password+"\n")
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	_ = json.Unmarshal([]byte(run(append(args, "client", "create", "--name", "Bench", "--redirect-uri", redirect, "--skip-consent", "--json"), "")), &cl)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, os.Stderr)
	}()
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 400 {
			log.Fatal("gatehouse did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, _ := browser.Get(base + "/login")
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	tok := csrfField.FindSubmatch(body)
	form := url.Values{"csrf_token": {string(tok[1])}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	if resp, err := browser.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		log.Fatalf("sign-in: %v %v", resp, err)
	}
	conf := &oauth2.Config{ClientID: cl.ID, ClientSecret: cl.Secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oidc/authorize", TokenURL: base + "/oidc/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "email", "groups"}}
	code := func() (string, string) {
		v := oauth2.GenerateVerifier()
		resp, err := browser.Get(conf.AuthCodeURL("bench-state-123", oauth2.S256ChallengeOption(v)))
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		c := loc.Query().Get("code")
		if c == "" {
			log.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return c, v
	}

	// Code exchange: codes are made ahead in batches (each lives 60 s);
	// only the token requests are timed.
	var exchanged atomic.Int64
	var lastTok *oauth2.Token
	var mu sync.Mutex
	var timed time.Duration
	for timed < *duration {
		type pair struct{ code, v string }
		batch := make([]pair, 200)
		for i := range batch {
			batch[i].code, batch[i].v = code()
		}
		next := atomic.Int64{}
		start := time.Now()
		var wg sync.WaitGroup
		for range *workers {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if int(i) >= len(batch) {
						return
					}
					t, err := conf.Exchange(context.Background(), batch[i].code, oauth2.VerifierOption(batch[i].v))
					if err != nil {
						log.Fatalf("exchange: %v", err)
					}
					exchanged.Add(1)
					mu.Lock()
					lastTok = t
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		timed += time.Since(start)
	}
	exchangeRate := float64(exchanged.Load()) / timed.Seconds()

	// Raw RS256 signing with the same key, on as many goroutines.
	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		log.Fatal(err)
	}
	kf, err := keyring.Open(keysFile)
	if err != nil {
		log.Fatal(err)
	}
	key := providerKey(d, kf)
	signRate := signingRate(key, *workers, *duration)

	// UserInfo at 50 connections versus a bare handler.
	uiRate, uiP50, uiP99 := load(base+"/oidc/userinfo", "Bearer "+lastTok.AccessToken, *conns, *duration)
	bare := bareServer(lastTok.AccessToken)
	bareRate, bareP50, bareP99 := load(bare+"/userinfo", "Bearer "+lastTok.AccessToken, *conns, *duration)

	fmt.Printf("| scenario | rate | baseline | ratio | p50 | p99 |\n|---|---|---|---|---|---|\n")
	fmt.Printf("| code exchange (%d workers) | %.0f/s | RS256 signing %.0f/s (2 per exchange: %.0f/s) | %.2f | | |\n",
		*workers, exchangeRate, signRate, signRate/2, exchangeRate/(signRate/2))
	fmt.Printf("| UserInfo, %d connections | %.0f req/s | bare handler %.0f req/s | %.2f | %v (bare %v) | %v (bare %v) |\n",
		*conns, uiRate, bareRate, uiRate/bareRate, uiP50, bareP50, uiP99, bareP99)
	fmt.Printf("\n(%d CPUs, %s each)\n", numCPU(), *duration)
	cancel()
	<-done
}

// providerKey opens the provider's current RS256 key as internal/oidc
// stores it (PKCS #8, sealed by the keyring for "oidc-rs256-key" with the
// kid as additional data), without importing the feature package.
func providerKey(d *db.DB, kf *keyring.File) *rsa.PrivateKey {
	kid := kf.Ring().Current().ID + "-rs256"
	keys, err := d.OIDC().SigningKeys(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range keys {
		if k.KID != kid {
			continue
		}
		der, err := keyring.NewAEAD(kf, "oidc-rs256-key").Open(k.Sealed, []byte(kid))
		if err != nil {
			log.Fatal(err)
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			log.Fatal(err)
		}
		return pk.(*rsa.PrivateKey)
	}
	log.Fatalf("no signing key %s", kid)
	return nil
}

func signingRate(key *rsa.PrivateKey, workers int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			msg := []byte("header.payload")
			for time.Now().Before(deadline) {
				h := sha256.Sum256(msg)
				if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:]); err != nil {
					log.Fatal(err)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// bareServer answers a fixed JSON body to a request with the right bearer
// token: what UserInfo costs without verification, storage or the user.
func bareServer(tok string) string {
	addr := freeAddr()
	body := []byte(`{"sub":"1","name":"Bench","preferred_username":"bench@example.com","email":"bench@example.com","email_verified":true,"groups":["user"]}` + "\n")
	go func() {
		_ = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+tok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		}))
	}()
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// load sends GETs with the Authorization header on c keep-alive
// connections for d and returns the rate of 200 answers and latencies.
func load(target, auth string, c int, d time.Duration) (float64, time.Duration, time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(d)
	var ok, bad atomic.Int64
	lat := make([][]time.Duration, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header.Set("Authorization", auth)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = append(lat[i], time.Since(t0))
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() > 0 {
		log.Printf("%s: %d failed requests", target, bad.Load())
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) == 0 {
		return 0, 0, 0
	}
	p := func(q float64) time.Duration { return all[int(q*float64(len(all)-1))].Round(10 * time.Microsecond) }
	return float64(ok.Load()) / d.Seconds(), p(0.5), p(0.99)
}

func numCPU() int { return runtime.NumCPU() }
