package app

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/mail"
)

// mailbox is a real SMTP server (emersion/go-smtp) inside the test
// process: Gatehouse delivers to it as to any relay, over plain text
// (starttls=insecure-none, allowed in dev mode).
type mailbox struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	got  []gotMail
	seen int // messages handed out by next
	wake chan struct{}
}

// gotMail is one received message, taken apart.
type gotMail struct {
	From    string
	To      []string
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

// newMailbox reserves an address for a mailbox without starting it, so a
// test can show what happens while the relay is down.
func newMailbox(t *testing.T) *mailbox {
	return &mailbox{t: t, addr: freeAddr(t), wake: make(chan struct{}, 1)}
}

func startMailbox(t *testing.T) *mailbox {
	mb := newMailbox(t)
	mb.start()
	return mb
}

// url is the SMTP_URL of the mailbox.
func (mb *mailbox) url() string { return "smtp://" + mb.addr + "?starttls=insecure-none&timeout=5s" }

func (mb *mailbox) start() {
	mb.t.Helper()
	l, err := net.Listen("tcp", mb.addr)
	if err != nil {
		mb.t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	go func() { _ = srv.Serve(l) }()
	mb.t.Cleanup(func() { _ = srv.Close() })
}

type mailSession struct {
	mb   *mailbox
	from string
	to   []string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *mailSession) Reset()                                      { s.from, s.to = "", nil }
func (s *mailSession) Logout() error                               { return nil }

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parseMail(s.mb.t, raw)
	m.From, m.To = s.from, s.to
	s.mb.mu.Lock()
	s.mb.got = append(s.mb.got, m)
	s.mb.mu.Unlock()
	select {
	case s.mb.wake <- struct{}{}:
	default:
	}
	return nil
}

// parseMail decodes the headers and the text and HTML parts.
func parseMail(t *testing.T, raw []byte) gotMail {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("read message: %v", err)
		return gotMail{}
	}
	g := gotMail{Header: m.Header}
	g.Subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	var walk func(ct, cte string, body io.Reader)
	walk = func(ct, cte string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Errorf("content type %q: %v", ct, err)
			return
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
			}
		}
		if strings.EqualFold(cte, "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		s := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch mt {
		case "text/plain":
			g.Text = s
		case "text/html":
			g.HTML = s
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return g
}

// all returns every message received so far.
func (mb *mailbox) all() []gotMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.got)
}

// next waits for the next message not yet handed out and checks that it
// goes to exactly to with a subject containing subject.
func (mb *mailbox) next(to, subject string) gotMail {
	mb.t.Helper()
	m := mb.nextAny()
	if len(m.To) != 1 || m.To[0] != to || !strings.Contains(m.Subject, subject) {
		mb.t.Fatalf("got mail to %v %q, want one to %s %q\n%s", m.To, m.Subject, to, subject, m.Text)
	}
	return m
}

// nextAny waits for the next message not yet handed out.
func (mb *mailbox) nextAny() gotMail {
	mb.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		mb.mu.Lock()
		if mb.seen < len(mb.got) {
			m := mb.got[mb.seen]
			mb.seen++
			mb.mu.Unlock()
			return m
		}
		mb.mu.Unlock()
		select {
		case <-mb.wake:
		case <-deadline:
			mb.t.Fatal("no mail arrived")
		}
	}
}

// none checks that no message arrived beyond those handed out, once the
// outbox of ts is empty.
func (mb *mailbox) none(ts *testServer) {
	mb.t.Helper()
	ts.drainMail()
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.seen < len(mb.got) {
		m := mb.got[mb.seen]
		mb.t.Fatalf("unexpected mail to %v: %q\n%s", m.To, m.Subject, m.Text)
	}
}

var mailLink = regexp.MustCompile(`(?m)^(https?://\S+)$`)

// link returns the one link on a line of its own in the text part, checks
// that the HTML part holds it too, and returns its path and query.
func (m gotMail) link(t *testing.T) string {
	t.Helper()
	ls := mailLink.FindAllStringSubmatch(m.Text, -1)
	if len(ls) != 1 {
		t.Fatalf("want one link in %q, found %d:\n%s", m.Subject, len(ls), m.Text)
	}
	u, err := url.Parse(ls[0][1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(ls[0][1], "&", "&amp;")+`"`) {
		t.Fatalf("the HTML part lacks the link:\n%s", m.HTML)
	}
	return u.RequestURI()
}

// token is the token of a mailed link.
func (m gotMail) token(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(m.link(t))
	tok := u.Query().Get("token")
	if len(tok) != 64 {
		t.Fatalf("link %s has no token", u)
	}
	return tok
}

// startEmailServer starts a server that mails through mb (nil: a fresh,
// running mailbox) and logs everything, so tests can check that no token
// reaches the log.
func startEmailServer(t *testing.T, mb *mailbox, extra ...string) (*testServer, *mailbox) {
	t.Helper()
	if mb == nil {
		mb = startMailbox(t)
	}
	args := append([]string{"--smtp-url", mb.url(), "--log-level", "debug"}, extra...)
	return startServer(t, args...), mb
}

// mustDeps opens a second set of dependencies on the server's database
// and keys, as an administration command would, with its own mail worker
// (stopped at the end of the test), for calling hooks directly.
func mustDeps(t *testing.T, ts *testServer) *deps {
	t.Helper()
	cfg, _, err := parseConfig(ts.args, ts.getenv, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDeps(t.Context(), cfg, newLogger(cfg, ts.logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.email.Start(func(_ string, f func(context.Context) error) { wg.Go(func() { _ = f(ctx) }) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		d.Close()
	})
	return d
}

// fastMailRetries makes the mail workers of the servers a test starts
// poll and retry within milliseconds, and counts their failed attempts.
func fastMailRetries(t *testing.T) *atomic.Int32 {
	var failed atomic.Int32
	mailWorkerTweak = func(w *mail.Worker) {
		w.PollInterval = 20 * time.Millisecond
		w.Backoff = func(int) time.Duration { failed.Add(1); return 20 * time.Millisecond }
	}
	t.Cleanup(func() { mailWorkerTweak = nil })
	return &failed
}

// waitFor polls cond until it holds (for background work such as delivery
// attempts, never for expiry).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sqlDB opens the server's database beside it, for checks only.
func (ts *testServer) sqlDB() *db.DB {
	ts.t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(ts.dir, "gatehouse.db"))
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { d.Close() })
	return d
}

// drainMail waits until the outbox holds no mail still to be sent.
func (ts *testServer) drainMail() {
	ts.t.Helper()
	d := ts.sqlDB()
	ob, err := mail.NewOutbox(d.SQL(), mail.SQLite)
	if err != nil {
		ts.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := ob.Pending(context.Background())
		if err != nil {
			ts.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("%d messages still queued", n)
		}
		time.Sleep(10 * time.Millisecond) // waiting for delivery, not for expiry
	}
}

var hiddenToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// openLink opens a mailed link as a user would, checks the page's headers
// and form, and returns the CSRF token of the form.
func (b *browser) openLink(link string) (csrf string) {
	b.t.Helper()
	r := b.get(link).want(b.t, 200)
	if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
		b.t.Errorf("GET %s: Referrer-Policy %q", r.Request.URL.Path, got)
	}
	if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
		b.t.Errorf("GET %s: Cache-Control %q", r.Request.URL.Path, got)
	}
	u, _ := url.Parse(link)
	if m := hiddenToken.FindStringSubmatch(r.body); m == nil || m[1] != u.Query().Get("token") {
		b.t.Fatalf("GET %s: the form does not carry the token:\n%s", r.Request.URL.Path, trim(r.body))
	}
	m := csrfField.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token on %s", r.Request.URL.Path)
	}
	return m[1]
}

// followLink opens a mailed link and submits its form to action, with
// the token from the page's hidden field and any extra fields.
func (b *browser) followLink(link, action string, fields ...string) *response {
	b.t.Helper()
	csrf := b.openLink(link)
	u, _ := url.Parse(link)
	form := url.Values{"csrf_token": {csrf}, "token": {u.Query().Get("token")}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.post(action, form)
}

// noSecrets checks that none of the tokens is in the log or the audit
// trail, whole or in part (selector or verifier).
func (ts *testServer) noSecrets(tokens ...string) {
	ts.t.Helper()
	logs := ts.logs.String()
	var audit strings.Builder
	rows, err := ts.sqlDB().SQL().Query("SELECT event, detail, user_agent FROM audit_events")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b, c string
		if err := rows.Scan(&a, &b, &c); err != nil {
			ts.t.Fatal(err)
		}
		audit.WriteString(a + " " + b + " " + c + "\n")
	}
	for _, tok := range tokens {
		for _, part := range []string{tok, tok[:22], tok[22:]} {
			if strings.Contains(logs, part) {
				ts.t.Errorf("a token is in the log")
			}
			if strings.Contains(audit.String(), part) {
				ts.t.Errorf("a token is in the audit trail")
			}
		}
	}
}
