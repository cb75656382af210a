package app

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// Helpers for the scaling tests: several instances, shared keys, stores,
// and private Redis and PostgreSQL servers that a test may stop and start.

// scaleLimits lift the per-IP limits: the scaling tests share one Redis
// (and so the limiters' counters) with every other test run on this machine.
var scaleLimits = []string{"--register-limit=100000/hour", "--login-ip-limit=100000/hour", "--login-limit=1000/hour"}

// scaleEmail is an address no other test uses, so that per-account limits
// and backoff kept in a shared Redis never carry over between runs.
func scaleEmail(t *testing.T, name string) string {
	t.Helper()
	return name + "-" + testenv.RandomHex(t, 6) + "@example.com"
}

// scaleServer starts an instance with the scaling tests' settings: its own
// keys file (with a postgres:// database the default would be the working
// directory) re-read every 100ms, lifted limits, then extra (a later flag
// wins).
func scaleServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--keys-file", filepath.Join(dir, "gatehouse.keys"), "--keys-reload=100ms"}, scaleLimits...)
	return startServerIn(t, dir, nil, append(args, extra...)...)
}

// startPair starts two instances, A and B, on their own ports, sharing one
// keys file and whatever backends extra names (database, session store).
func startPair(t *testing.T, extra ...string) (a, b *testServer) {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "shared.keys")
	args := append([]string{"--keys-file", keys}, extra...)
	a = scaleServer(t, args...)
	b = scaleServer(t, args...)
	return a, b
}

// on returns a browser for ts that starts with a copy of b's cookies (the
// session and CSRF cookies), as a load balancer sending the same browser to
// another instance would. The two browsers' jars are independent from then
// on.
func (b *browser) on(ts *testServer) *browser {
	b.t.Helper()
	nb := ts.browser()
	nb.ua = b.ua
	from, _ := url.Parse(b.ts.URL)
	to, _ := url.Parse(ts.URL)
	nb.c.Jar.SetCookies(to, b.c.Jar.Cookies(from))
	return nb
}

// withCookie returns a fresh browser for ts holding only a session cookie
// with this value.
func withCookie(ts *testServer, value string) *browser {
	nb := ts.browser()
	u, _ := url.Parse(ts.URL)
	nb.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse", Value: value}})
	return nb
}

func (b *browser) session() string {
	b.t.Helper()
	c := b.cookie("gatehouse")
	if c == nil {
		b.t.Fatal("no session cookie")
	}
	return c.Value
}

// wantSignedOut checks that b is an anonymous visitor: the dashboard sends
// it to the sign-in page.
func (b *browser) wantSignedOut(t *testing.T) {
	t.Helper()
	b.get("/dashboard").redirect(t, "/login?next=%2Fdashboard")
}

// wantSignedIn checks that b sees its dashboard.
func (b *browser) wantSignedIn(t *testing.T, email string) {
	t.Helper()
	b.get("/dashboard").want(t, 200, email)
}

// probe posts a harmless form with a CSRF token: ending a session that does
// not exist. 303 means the token was accepted, 403 refused; the session
// keeps its id either way.
func (b *browser) probe(token string) int {
	b.t.Helper()
	return b.post("/account/sessions/revoke", url.Values{"csrf_token": {token}, "session_id": {strings.Repeat("0", 64)}}).StatusCode
}

// tokenKeyID returns the id of the key that signed a CSRF token: the token
// is a one-time pad followed by the masked signature, whose bytes 1..4 are
// the key id.
func tokenKeyID(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw)%2 != 0 || len(raw) < 10 {
		t.Fatalf("not a CSRF token: %q", token)
	}
	half := len(raw) / 2
	id := make([]byte, 4)
	for i := range id {
		id[i] = raw[1+i] ^ raw[half+1+i]
	}
	return hex.EncodeToString(id)
}

// cookieKeyID returns the id of the key that sealed an encrypted session
// cookie: version byte, then the 4-byte key id.
func cookieKeyID(t *testing.T, value string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 5 {
		t.Fatalf("not a sealed cookie: %q", value)
	}
	return hex.EncodeToString(raw[1:5])
}

// handleOf is the public handle of a session token: hex SHA-256 of its bytes.
func handleOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		t.Fatalf("not a session token: %q", token)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

var (
	newKeyLine     = regexp.MustCompile(`new key ([0-9a-f]{8}) staged`)
	currentKeyLine = regexp.MustCompile(`(?m)^([0-9a-f]{8})\s.*current`)
)

// keyCLI runs `gatehouse keys CMD` against ts and returns the key id that
// re finds in its output.
func keyCLI(t *testing.T, ts *testServer, re *regexp.Regexp, cmd string) string {
	t.Helper()
	out := ts.mustCLI("", "keys", cmd)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys %s: %q", cmd, out)
	}
	return m[1]
}

// rotateKeys runs `gatehouse keys rotate` against ts and returns the new id.
func rotateKeys(t *testing.T, ts *testServer) string {
	t.Helper()
	return keyCLI(t, ts, newKeyLine, "rotate")
}

// currentKey returns the current key id from `gatehouse keys list`.
func currentKey(t *testing.T, ts *testServer) string {
	t.Helper()
	return keyCLI(t, ts, currentKeyLine, "list")
}

// eventually polls cond until it holds or within passes; it is for
// background work of another process (a keys reload, a restarted backend),
// never for expiry.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessionRow is one row of /account/sessions.
type sessionRow struct {
	Device, IP, Handle string
	Current, Remember  bool
}

var (
	rowRE    = regexp.MustCompile(`(?s)<tr>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>.*?name="session_id" value="([0-9a-f]{64})"`)
	tagRE    = regexp.MustCompile(`\s*<span[^>]*>[^<]*</span>`)
	spacesRE = regexp.MustCompile(`\s+`)
)

// sessionRows reads the sessions page of b.
func (b *browser) sessionRows(t *testing.T) []sessionRow {
	t.Helper()
	r := b.get("/account/sessions").want(t, 200, "Your sessions")
	var rows []sessionRow
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		rows = append(rows, sessionRow{
			Device:   strings.TrimSpace(spacesRE.ReplaceAllString(tagRE.ReplaceAllString(m[1], ""), " ")),
			IP:       strings.TrimSpace(m[2]),
			Handle:   m[3],
			Current:  strings.Contains(m[1], "this session"),
			Remember: strings.Contains(m[1], "remembered"),
		})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Current && !rows[j].Current })
	return rows
}

// A private backend is a server process this test started on its own port,
// so that the test may stop and restart it. The machine's shared services
// are never touched.
type privateBackend struct {
	t      *testing.T
	name   string
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	start  func() *exec.Cmd
	out    *syncBuffer
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

// run starts the process and waits until its port accepts connections.
func (p *privateBackend) run() {
	p.t.Helper()
	if p.cmd != nil {
		p.t.Fatalf("%s already running", p.name)
	}
	cmd := p.start()
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // never outlive the test binary
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	exited := make(chan struct{})
	p.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second)
		if err == nil {
			c.Close()
			if p.ready() {
				return
			}
		}
		select {
		case <-exited:
			p.cmd = nil
			p.t.Fatalf("%s exited at start:\n%s", p.name, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.stop(syscall.SIGKILL)
			p.t.Fatalf("%s did not start:\n%s", p.name, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether the backend answers its protocol, not just TCP.
func (p *privateBackend) ready() bool {
	if p.name == "postgres" {
		db, err := sql.Open("pgx", p.URL())
		if err != nil {
			return false
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return db.PingContext(ctx) == nil
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// stop sends sig to the process this test started (by its pid) and waits
// for it to exit.
func (p *privateBackend) stop(sig syscall.Signal) {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	cmd := p.cmd
	p.cmd = nil
	_ = cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.exited
	}
}

// startPrivateRedis runs redis-server on a spare port with an append-only
// file fsynced on every write in a temporary directory, so that data
// survives a kill and a restart.
func startPrivateRedis(t *testing.T) *privateBackend {
	t.Helper()
	bin := "/usr/bin/redis-server"
	if _, err := os.Stat(bin); err != nil {
		if p, err2 := exec.LookPath("redis-server"); err2 == nil {
			bin = p
		} else {
			testenv.Unavailable(t, "redis-server", "/usr/bin/redis-server or PATH", err)
		}
	}
	dir := t.TempDir()
	p := &privateBackend{t: t, name: "redis", port: freePort(t), out: newSyncBuffer()}
	p.start = func() *exec.Cmd {
		return exec.Command(bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--loglevel", "warning")
	}
	p.run()
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	return p
}

// URL is the redis:// address of a private Redis.
func (p *privateBackend) URL() string {
	if p.name == "redis" {
		return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// startPrivatePostgres initialises a cluster in a temporary directory and
// runs postgres on a spare port (TCP on 127.0.0.1 only, trust auth). As
// root, the server runs as the postgres (or nobody) user, since PostgreSQL
// refuses to run as root. Missing binaries skip the test, even under CI;
// binaries that are there but cannot start skip it too, except under CI.
func startPrivatePostgres(t *testing.T) *privateBackend {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("skipping: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
	}
	sort.Strings(bins)
	binDir := filepath.Dir(bins[len(bins)-1])
	unavailable := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...)
		if testenv.InCI() {
			t.Fatalf("private PostgreSQL is required under CI=true: %s", msg)
		}
		t.Skipf("skipping: cannot run a private PostgreSQL: %s", msg)
	}
	var cred *syscall.Credential
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
				break
			}
		}
		if cred == nil {
			unavailable("running as root and there is no postgres or nobody user to run the server as")
		}
	}
	// Not t.TempDir: its parents are private to root, and the server user
	// must reach its data directory.
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			unavailable("chown %s: %v", dir, err)
		}
	}
	env := []string{"LC_ALL=C", "LANG=C", "HOME=" + dir, "PATH=/usr/bin:/bin"}
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8")
	initdb.Env, initdb.Dir = env, dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		unavailable("initdb: %v\n%s", err, out)
	}
	p := &privateBackend{t: t, name: "postgres", port: freePort(t), out: newSyncBuffer()}
	p.start = func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", data, "-p", strconv.Itoa(p.port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
			"-c", "shared_buffers=16MB", "-c", "max_connections=50", "-c", "logging_collector=off")
		cmd.Env, cmd.Dir = env, dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	p.run()
	t.Cleanup(func() { p.stop(syscall.SIGINT) })
	return p
}
