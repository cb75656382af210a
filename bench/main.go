// Command bench measures Gatehouse under load with wrk and prints each
// scenario's throughput and latency as a ratio to a baseline measured in the
// same run: a bare net/http handler rendering the dashboard template, loaded
// just before and just after each page scenario. Run it from the repository
// root:
//
//	go run ./bench            # every scenario
//	go run ./bench -only core # just the foundation's scenarios
//
// The legacy group measures peak RSS during 200 concurrent sign-ins with
// Django-default argon2 hashes (go run ./bench -only legacy).
//
// It needs wrk (Debian package wrk); the store scenarios also need the local
// PostgreSQL and Redis (GATEHOUSE_TEST_POSTGRES_URL, GATEHOUSE_TEST_REDIS_URL).
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
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
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/password"
	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/argon2"
)

var (
	duration = flag.Duration("d", 10*time.Second, "duration of each load")
	conns    = flag.Int("c", 50, "connections for page loads")
	only     = flag.String("only", "", "run only these groups (comma-separated): core, stores, flood, api, legacy, forwardauth")
	keep     = flag.Bool("keep", false, "keep the temporary directory")
)

const (
	benchEmail = "bench@example.com"
	benchPass  = "quiet horses gallop at dawn"
)

type result struct {
	Name     string
	RPS      float64
	Base     float64 // the baseline's req/s measured around this scenario (paired loads)
	P50, P99 time.Duration
	Non2xx   int64
	OK       float64 // successful (2xx/3xx) requests per second
	Note     string
}

var results []result

func main() {
	log.SetFlags(0)
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("bench needs wrk: apt-get install wrk")
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "gatehouse")
	base := filepath.Join(dir, "baseline")
	build(bin, "./cmd/gatehouse")
	build(base, "./bench/baseline")
	fmt.Printf("machine: %d CPUs, %s, wrk -t2, %s per load\n\n", runtime.NumCPU(), runtime.Version(), *duration)

	baseAddr := freeAddr()
	bp := start(base, []string{baseAddr}, nil)
	defer func() { bp.Process.Kill(); bp.Wait() }()
	baselineURL = "http://" + baseAddr + "/"
	waitHTTP(baselineURL)
	results = append(results, wrk("(a) bare template page", baselineURL, *conns, nil, "", false, "", *duration))
	results[0].Base = results[0].RPS

	want := func(g string) bool { return *only == "" || strings.Contains(","+*only+",", ","+g+",") }
	if want("core") {
		core(dir, bin)
	}
	if want("stores") {
		stores(dir, bin)
	}
	if want("api") {
		api(dir, bin)
	}
	if want("flood") {
		flood(dir, bin)
	}
	if want("legacy") {
		legacy(dir, bin)
	}
	if want("forwardauth") {
		forwardAuth(dir, bin)
	}
	fmt.Println()
	fmt.Println("ratio: req/s over the baseline's req/s in the loads just before and after the scenario (paired),")
	fmt.Println("so that the machine's drift during the run does not move the ratio; (a) is the first baseline load.")
	fmt.Printf("%-52s %10s %10s %10s %10s %8s\n", "scenario", "req/s", "p50", "p99", "baseline", "ratio")
	for _, r := range results {
		ratio, base := "", ""
		if r.Base > 0 {
			ratio, base = fmt.Sprintf("%.0f%%", 100*r.RPS/r.Base), fmt.Sprintf("%.0f", r.Base)
		}
		if strings.HasPrefix(r.Name, "(d)") {
			ratio = r.Note
		}
		fmt.Printf("%-52s %10.0f %10s %10s %10s %8s", r.Name, r.RPS, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), base, ratio)
		if r.Non2xx > 0 {
			fmt.Printf("  (%d non-2xx/3xx)", r.Non2xx)
		}
		if r.Note != "" && !strings.HasPrefix(r.Name, "(d)") {
			fmt.Printf("  %s", r.Note)
		}
		fmt.Println()
	}
}

func core(dir, bin string) {
	srv := startGatehouse(dir, bin, "core", nil)
	defer srv.stop()
	idle := srv.rss()
	cookie := srv.signIn()
	paired("(b) GET /login", srv.url+"/login", nil)
	paired("(c) GET /dashboard, signed in (SQLite sessions)", srv.url+"/dashboard", map[string]string{"Cookie": cookie})

	// (e) is measured just before and just after (d), like the paired
	// page loads, and (d) is compared with the mean.
	before := hashRate(*duration/2, srv.argon())
	csrfCookie, token := srv.loginForm()
	body := url.Values{"csrf_token": {token}, "email": {benchEmail}, "password": {benchPass}}.Encode()
	r := wrk("(d) POST /login, right password, 200 connections", srv.url+"/login", 200,
		map[string]string{"Cookie": csrfCookie, "Content-Type": "application/x-www-form-urlencoded"}, body, false, "", *duration)
	rate := (before + hashRate(*duration/2, srv.argon())) / 2
	results = append(results, result{Name: "(e) raw argon2id hashes, same settings", RPS: rate})
	r.Note = fmt.Sprintf("%.0f sign-ins/s = %.0f%% of (e)", r.OK, 100*r.OK/rate)
	results = append(results, r)
	peak := srv.peakRSS()
	results = append(results, result{Name: "RSS idle after start (MiB)", RPS: float64(idle) / 1024})
	results = append(results, result{Name: "RSS peak during 200 concurrent sign-ins (MiB)", RPS: float64(peak) / 1024})
}

func stores(dir, bin string) {
	pg := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	rd := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if rd == "" {
		rd = "redis://127.0.0.1:6379/0"
	}
	for _, tc := range []struct{ name, store string }{
		{"GET /dashboard, cookie store (SQLite accounts)", "cookie"},
		{"GET /dashboard, Redis store (SQLite accounts)", "redis"},
		{"GET /dashboard, Postgres store and accounts", "db-postgres"},
	} {
		args := []string{"--session-store", strings.TrimSuffix(tc.store, "-postgres"), "--redis-url", rd}
		if tc.store == "db-postgres" {
			schema, cleanup := pgSchema(pg)
			defer cleanup()
			args = append(args, "--database-url", schema)
		}
		srv := startGatehouse(dir, bin, tc.store, args)
		cookie := srv.signIn()
		paired(tc.name, srv.url+"/dashboard", map[string]string{"Cookie": cookie})
		srv.stop()
	}
}

func api(dir, bin string) {
	srv := startGatehouse(dir, bin, "api", nil)
	defer srv.stop()
	resp, err := http.Post(srv.url+"/api/v1/token", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, benchEmail, benchPass)))
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		fmt.Println("api: no access token (status", resp.Status, "); skipping GET /api/v1/me")
		return
	}
	paired("GET /api/v1/me, bearer token", srv.url+"/api/v1/me", map[string]string{"Authorization": "Bearer " + tok.AccessToken})
}

// flood measures /dashboard latency for signed-in users with and without
// 500 concurrent wrong-password sign-ins.
func flood(dir, bin string) {
	srv := startGatehouse(dir, bin, "flood", []string{"--login-limit", "10/hour", "--login-ip-limit", "100/hour"})
	defer srv.stop()
	cookie := srv.signIn()
	hdr := map[string]string{"Cookie": cookie}
	quiet := load("dashboard, 10 users, no flood", srv.url+"/dashboard", 10, hdr, "")
	csrfCookie, token := srv.loginForm()
	for _, spread := range []bool{false, true} {
		name := "one account"
		if spread {
			name = "many accounts"
		}
		var wg sync.WaitGroup
		wg.Add(1)
		var fl result
		go func() {
			defer wg.Done()
			fl = wrk("flood: 500 wrong sign-ins, "+name, srv.url+"/login", 500,
				map[string]string{"Cookie": csrfCookie, "Content-Type": "application/x-www-form-urlencoded"}, floodBody(token, spread), spread, token, *duration)
		}()
		time.Sleep(time.Second)
		under := load("dashboard, 10 users, flood on "+name, srv.url+"/dashboard", 10, hdr, "")
		wg.Wait()
		results = append(results, fl)
		results[len(results)-2].Note = fmt.Sprintf("p99 %.1fx quiet", float64(under.P99)/float64(max(quiet.P99, 1)))
	}
	results = append(results, result{Name: "RSS peak during the floods (MiB)", RPS: float64(srv.peakRSS()) / 1024})
}

// legacyUsers is how many users with Django-default argon2 hashes sign in
// at once in the legacy scenario.
const legacyUsers = 200

// legacy imports legacyUsers users whose hashes are Django's argon2 default
// (m=102400 KiB, t=2, p=8: 100 MiB each), then signs them all in at once,
// each client retrying after a 503 until it is signed in (or
// legacyDeadline passes), and reports the server's peak RSS: first with the
// default memory budget, then with the budget lifted (count-only admission,
// as before issue 15), both with 8 hash workers so that the difference
// shows on a small machine.
func legacy(dir, bin string) {
	salt := []byte("legacysalt123456")
	key := argon2.IDKey([]byte(benchPass), salt, 2, 102400, 8, 32)
	hash := "argon2$argon2id$v=19$m=102400,t=2,p=8$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	var file bytes.Buffer
	for i := range legacyUsers {
		fmt.Fprintf(&file, "{\"email\":\"django%d@example.com\",\"password_hash\":%q}\n", i, hash)
	}
	for _, tc := range []struct{ name, budget string }{
		{"default budget (8 workers: 8 x 19 + 128 MiB)", "0"},
		{"budget lifted (count only, 8 workers)", "1000000"},
	} {
		srv := startGatehouse(dir, bin, "legacy-"+tc.budget, []string{"--hash-workers", "8", "--hash-memory-budget", tc.budget})
		path := filepath.Join(dir, "legacy-"+tc.budget, "users.jsonl")
		if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
			log.Fatal(err)
		}
		if out, err := srv.cli("", "user", "import", path); err != nil {
			log.Fatalf("import: %v\n%s", err, out)
		}
		idle := srv.rss()
		start := time.Now()
		var ok, busy atomic.Int64
		var mu sync.Mutex
		other := map[int]int{}
		var wg sync.WaitGroup
		for i := range legacyUsers {
			wg.Go(func() {
				for time.Since(start) < legacyDeadline {
					code := srv.signInAs(fmt.Sprintf("django%d@example.com", i), benchPass)
					switch code {
					case http.StatusSeeOther:
						ok.Add(1)
						return
					case http.StatusServiceUnavailable:
						busy.Add(1)
						time.Sleep(time.Second) // a client honouring Retry-After, roughly
						continue
					}
					mu.Lock()
					other[code]++
					mu.Unlock()
					return
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		peak := srv.peakRSS()
		srv.stop()
		results = append(results, result{Name: fmt.Sprintf("%d Django-argon2 sign-ins, %s: peak RSS (MiB)", legacyUsers, tc.name), RPS: float64(peak) / 1024,
			Note: fmt.Sprintf("idle %.0f MiB; %d signed in (upgraded) in %s, %d answers 503 retried, other %v", float64(idle)/1024, ok.Load(),
				took.Round(time.Second), busy.Load(), other)})
	}
}

// legacyDeadline bounds the legacy scenario's sign-in phase.
const legacyDeadline = 15 * time.Minute

func floodBody(token string, spread bool) string {
	return url.Values{"csrf_token": {token}, "email": {benchEmail}, "password": {"wrong password guess"}}.Encode()
}

// --- processes -----------------------------------------------------------

type gatehouse struct {
	cmd  *exec.Cmd
	url  string
	args []string
	bin  string
}

func startGatehouse(dir, bin, name string, extra []string) *gatehouse {
	addr := freeAddr()
	sub := filepath.Join(dir, name)
	os.MkdirAll(sub, 0o700)
	args := []string{"--dev", "--addr", addr, "--base-url", "http://" + addr, "--metrics-addr=", "--log-level", "warn",
		"--database-url", "sqlite:" + filepath.Join(sub, "g.db"), "--keys-file", filepath.Join(sub, "keys"),
		"--login-limit", "1000000/s", "--login-ip-limit", "1000000/s"}
	args = append(args, extra...)
	g := &gatehouse{url: "http://" + addr, args: args, bin: bin}
	out, err := g.cli(benchPass+"\n", "user", "create", "--email", benchEmail, "--verified")
	if err != nil {
		log.Fatalf("seed user: %v\n%s", err, out)
	}
	g.cmd = start(bin, args, nil)
	waitHTTP(g.url + "/healthz")
	return g
}

func (g *gatehouse) cli(stdin string, cmd ...string) (string, error) {
	c := exec.Command(g.bin, append(append([]string{}, g.args...), cmd...)...)
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	return string(out), err
}

func (g *gatehouse) stop() {
	g.cmd.Process.Signal(os.Interrupt)
	g.cmd.Wait()
}

func (g *gatehouse) argon() password.Params {
	return password.DefaultParams()
}

func (g *gatehouse) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

func (g *gatehouse) rss() int64     { return g.status("VmRSS") }
func (g *gatehouse) peakRSS() int64 { return g.status("VmHWM") }

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginForm returns the CSRF cookie header and a token for POST /login.
func (g *gatehouse) loginForm() (cookie, token string) {
	resp, err := http.Get(g.url + "/login")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := tokenRE.FindSubmatch(body)
	if m == nil {
		log.Fatal("no csrf token on /login")
	}
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; "), string(m[1])
}

// signInAs signs email in with a fresh client and returns the answer's
// status (303 on success).
func (g *gatehouse) signInAs(email, pw string) int {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(g.url + "/login")
	if err != nil {
		return 0
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := tokenRE.FindSubmatch(body)
	if m == nil {
		return resp.StatusCode
	}
	resp, err = c.PostForm(g.url+"/login", url.Values{"csrf_token": {string(m[1])}, "email": {email}, "password": {pw}})
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signIn returns a Cookie header of a signed-in session.
func (g *gatehouse) signIn() string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(g.url + "/login")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := tokenRE.FindSubmatch(body)
	resp, err = c.PostForm(g.url+"/login", url.Values{"csrf_token": {string(m[1])}, "email": {benchEmail}, "password": {benchPass}})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		log.Fatalf("sign-in: %s", resp.Status)
	}
	u, _ := url.Parse(g.url)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

func build(out, pkg string) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("build %s: %v", pkg, err)
	}
}

func start(bin string, args []string, env []string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return cmd
}

func waitHTTP(u string) {
	for i := 0; i < 200; i++ {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s did not answer", u)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func pgSchema(base string) (string, func()) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		log.Fatal(err)
	}
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		log.Fatalf("postgres: %v", err)
	}
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() { db.Exec("DROP SCHEMA " + name + " CASCADE"); db.Close() }
}

// hashRate hashes with argon2id on every CPU for d and returns hashes/s.
func hashRate(d time.Duration, p password.Params) float64 {
	h, err := password.NewHasher(password.WithParams(p))
	if err != nil {
		log.Fatal(err)
	}
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				h.Hash(benchPass)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// --- wrk -----------------------------------------------------------------

const luaTemplate = `
wrk.method = "%s"
wrk.body = %q
%s
local counter = 0
request = function()
  %s
  return wrk.format()
end
done = function(summary, latency, requests)
  local non = summary.errors.status
  io.write(string.format("RESULT %%f %%d %%d %%d %%d\n", summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), non, summary.requests))
end
`

func load(name, target string, c int, headers map[string]string, body string) result {
	r := wrk(name, target, c, headers, body, false, "", *duration)
	results = append(results, r)
	return r
}

// baselineURL is the bare template page, served for the whole run.
var baselineURL string

// paired measures a page against the baseline: the baseline for half the
// duration, the page for the duration, the baseline again for half. The
// machine's speed drifts over a run (other tenants, thermal limits); the
// mean of the loads around the page is the fair comparison.
func paired(name, target string, headers map[string]string) result {
	before := wrk("  baseline, before", baselineURL, *conns, nil, "", false, "", *duration/2)
	r := wrk(name, target, *conns, headers, "", false, "", *duration)
	after := wrk("  baseline, after", baselineURL, *conns, nil, "", false, "", *duration/2)
	r.Base = (before.RPS + after.RPS) / 2
	results = append(results, r)
	return r
}

func wrk(name, target string, c int, headers map[string]string, body string, spread bool, token string, d time.Duration) result {
	method := "GET"
	if body != "" {
		method = "POST"
	}
	var hdr strings.Builder
	for k, v := range headers {
		fmt.Fprintf(&hdr, "wrk.headers[%q] = %q\n", k, v)
	}
	per := ""
	if spread {
		// Every request guesses at another account.
		per = fmt.Sprintf(`counter = counter + 1
  wrk.body = "csrf_token=%s&password=wrong+password+guess&email=victim" .. counter .. "%%40example.com"`, url.QueryEscape(token))
	}
	script, _ := os.CreateTemp("", "wrk-*.lua")
	fmt.Fprintf(script, luaTemplate, method, body, hdr.String(), per)
	script.Close()
	defer os.Remove(script.Name())
	cmd := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", c), "-d"+d.String(), "--timeout", "10s", "-s", script.Name(), target)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("wrk %s: %v\n%s", name, err, out.String())
	}
	r := result{Name: name}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var p50, p99, total int64
		if n, _ := fmt.Sscanf(sc.Text(), "RESULT %f %d %d %d %d", &r.RPS, &p50, &p99, &r.Non2xx, &total); n == 5 {
			r.P50, r.P99 = time.Duration(p50)*time.Microsecond, time.Duration(p99)*time.Microsecond
			if total > 0 {
				r.OK = r.RPS * float64(total-r.Non2xx) / float64(total)
			}
		}
	}
	fmt.Printf("%-52s %8.0f req/s  p50 %-10s p99 %-10s non-2xx/3xx %d\n", name, r.RPS, r.P50, r.P99, r.Non2xx)
	return r
}
