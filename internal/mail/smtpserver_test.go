package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message accepted by the test SMTP server.
type received struct {
	From string
	To   []string
	Raw  []byte
	Auth string // user name, when the client authenticated
	TLS  bool
}

// testSMTP is a real SMTP server (emersion/go-smtp) inside the test
// process. While down, it accepts connections and closes them at once.
type testSMTP struct {
	Addr string
	Host string
	Port int

	down     atomic.Bool
	mu       sync.Mutex
	msgs     []received
	got      chan received
	rejectTo string // RCPT TO this address gets a 550
	user     string // when set, AUTH PLAIN with user/pass is required
	pass     string
}

type smtpOpts struct {
	tls      *tls.Config // offered through STARTTLS, or implicit when implicit is set
	implicit bool
	user     string
	pass     string
	rejectTo string
}

func mustSMTPServer(t *testing.T, o smtpOpts) *testSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSMTP{got: make(chan received, 100), rejectTo: o.rejectTo, user: o.user, pass: o.pass}
	s.Addr = l.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port = mustAtoi(t, port)

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &testSession{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = o.tls == nil
	srv.ErrorLog = discardLogger{}
	if !o.implicit {
		srv.TLSConfig = o.tls
	}
	gate := &gateListener{Listener: l, s: s}
	var ln net.Listener = gate
	if o.implicit {
		ln = tls.NewListener(gate, o.tls)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// gateListener closes connections while the server is down.
type gateListener struct {
	net.Listener
	s *testSMTP
}

func (g *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if g.s.down.Load() {
			c.Close()
			continue
		}
		return c, nil
	}
}

func (s *testSMTP) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// waitMessage waits for the next message (only used with Run, which
// delivers in the background).
func (s *testSMTP) waitMessage(t *testing.T) received {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no message arrived")
		return received{}
	}
}

type testSession struct {
	s    *testSMTP
	tls  bool
	auth string
	cur  received
}

func (ss *testSession) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.user || password != ss.s.pass {
			return errors.New("bad credentials")
		}
		ss.auth = username
		return nil
	}), nil
}

func (ss *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && ss.auth == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = received{From: from}
	return nil
}

func (ss *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rejectTo != "" && to == ss.s.rejectTo {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Raw, ss.cur.Auth, ss.cur.TLS = b, ss.auth, ss.tls
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	select {
	case ss.s.got <- ss.cur:
	default:
	}
	return nil
}

func (ss *testSession) Reset()        { ss.cur = received{} }
func (ss *testSession) Logout() error { return nil }

// parsed is a received message taken apart.
type parsed struct {
	Header  netmail.Header
	Subject string
	Text    string
	HTML    string
}

// mustParseMail decodes the headers and the text and HTML parts.
func mustParseMail(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var p parsed
	p.Header = m.Header
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	var walk func(ct, cte string, body io.Reader)
	walk = func(ct, cte string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
			}
		}
		if strings.EqualFold(cte, "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch mt {
		case "text/plain":
			p.Text = s
		case "text/html":
			p.HTML = s
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return p
}

// mustTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func mustTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
