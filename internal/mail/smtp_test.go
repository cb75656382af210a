package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		name, in string
		want     SMTPConfig
		wantErr  string // substring; "" means success
	}{
		{"starttls default port", "smtp://user:pa%40ss@mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 587, Username: "user", Password: "pa@ss", TLS: TLSStartTLS}, ""},
		{"starttls explicit", "smtp://u:p@mail.example.com:2525?starttls=required", SMTPConfig{Host: "mail.example.com", Port: 2525, Username: "u", Password: "p", TLS: TLSStartTLS}, ""},
		{"smtps", "smtps://u:p@mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 465, Username: "u", Password: "p", TLS: TLSImplicit}, ""},
		{"uppercase scheme", "SMTPS://mail.example.com:4650", SMTPConfig{Host: "mail.example.com", Port: 4650, TLS: TLSImplicit}, ""},
		{"dev relay none", "smtp://localhost:1025?starttls=none", SMTPConfig{Host: "localhost", Port: 1025, TLS: InsecureTLSNone}, ""},
		{"dev relay insecure-none", "smtp://localhost:1025?starttls=insecure-none", SMTPConfig{Host: "localhost", Port: 1025, TLS: InsecureTLSNone}, ""},
		{"opportunistic", "smtp://relay:25?starttls=insecure-opportunistic", SMTPConfig{Host: "relay", Port: 25, TLS: InsecureTLSOpportunistic}, ""},
		{"timeout", "smtp://relay?timeout=10s", SMTPConfig{Host: "relay", Port: 587, Timeout: 10 * time.Second}, ""},
		{"ipv6", "smtp://[::1]:25", SMTPConfig{Host: "::1", Port: 25}, ""},
		{"trailing slash", "smtp://relay/", SMTPConfig{Host: "relay", Port: 587}, ""},
		{"user without password", "smtp://apikey@relay", SMTPConfig{Host: "relay", Port: 587, Username: "apikey"}, ""},
		{"empty", "", SMTPConfig{}, "empty"},
		{"http scheme", "http://relay", SMTPConfig{}, "scheme"},
		{"no scheme", "relay:25", SMTPConfig{}, "scheme"},
		{"opaque", "smtp:relay", SMTPConfig{}, "smtp://host:port"},
		{"no host", "smtp://:25", SMTPConfig{}, "host is missing"},
		{"port zero", "smtp://relay:0", SMTPConfig{}, "port"},
		{"port too big", "smtp://relay:70000", SMTPConfig{}, "port"},
		{"empty port", "smtp://relay:", SMTPConfig{}, "port"},
		{"path", "smtp://relay/inbox", SMTPConfig{}, "path"},
		{"fragment", "smtp://relay#x", SMTPConfig{}, "fragment"},
		{"unknown param", "smtp://relay?tls=off", SMTPConfig{}, "unknown parameter"},
		{"bad starttls", "smtp://relay?starttls=maybe", SMTPConfig{}, "starttls must be"},
		{"starttls on smtps", "smtps://relay?starttls=none", SMTPConfig{}, "does not apply"},
		{"repeated param", "smtp://relay?starttls=none&starttls=required", SMTPConfig{}, "2 times"},
		{"bad timeout", "smtp://relay?timeout=1h", SMTPConfig{}, "timeout"},
		{"password without user", "smtp://:secret@relay", SMTPConfig{}, "user name"},
		{"control char", "smtp://relay\r\n:25", SMTPConfig{}, "control"},
		{"encoded newline in user", "smtp://a%0Ab:p@relay", SMTPConfig{}, "control"},
		{"too long", "smtp://" + strings.Repeat("a", MaxSMTPURLLen) + ":25", SMTPConfig{}, "longer"},
		{"bad escape keeps password out", "smtp://user:s3cr%zzet@relay", SMTPConfig{}, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSMTPURL(%q) = %+v, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrSMTPURL) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q, want ErrSMTPURL containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "secret") {
					t.Fatalf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSMTPURL(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSMTPConfigRedactedAndInsecure(t *testing.T) {
	c, err := ParseSMTPURL("smtp://user:topsecret@relay:2525?starttls=none&timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	if strings.Contains(r, "topsecret") || !strings.Contains(r, "user:xxxxx@relay:2525") || !strings.Contains(r, "starttls=insecure-none") {
		t.Fatalf("Redacted() = %q", r)
	}
	if !c.Insecure() {
		t.Fatal("starttls=none must be Insecure")
	}
	back, err := ParseSMTPURL(r)
	if err != nil || back.TLS != c.TLS || back.Timeout != c.Timeout || back.Port != c.Port {
		t.Fatalf("Redacted() does not parse back: %+v, %v", back, err)
	}
	for _, u := range []string{"smtp://relay", "smtps://relay"} {
		c, _ := ParseSMTPURL(u)
		if c.Insecure() {
			t.Fatalf("%s reported Insecure", u)
		}
	}
}

func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{
		"smtp://user:pass@host:587", "smtps://host", "smtp://host?starttls=none&timeout=5s",
		"smtp://[::1]:25", "smtp://u:%zz@h", "smtp:opaque", "smtp://h:99999", "smtp://h#f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSMTPURL(s)
		if err != nil {
			if !errors.Is(err, ErrSMTPURL) {
				t.Fatalf("error not wrapping ErrSMTPURL: %v", err)
			}
			return
		}
		if c.Host == "" || c.Port < 1 || c.Port > 65535 || hasControl(c.Username) || hasControl(c.Password) {
			t.Fatalf("accepted a bad config %+v from %q", c, s)
		}
		// The password's place in the redacted form holds the mask, whatever
		// else (a user name equal to the password, say) shows there too.
		if c.Password != "" {
			r, err := ParseSMTPURL(c.Redacted())
			if err != nil || r.Password != "xxxxx" || r.Username != c.Username || r.Host != c.Host || r.Port != c.Port {
				t.Fatalf("Redacted of %q is %q (%+v, %v): the password is not masked", s, c.Redacted(), r, err)
			}
		}
	})
}

func TestResolveFrom(t *testing.T) {
	tests := []struct {
		setting, base, want string
		wantErr             bool
	}{
		{"", "https://auth.example.com", `"Gatehouse" <no-reply@auth.example.com>`, false},
		{"", "http://localhost:8080", `"Gatehouse" <no-reply@localhost>`, false},
		{"", "https://AUTH.Example.com:8443/base", `"Gatehouse" <no-reply@auth.example.com>`, false},
		{"", "http://127.0.0.1:8080", `"Gatehouse" <no-reply@[127.0.0.1]>`, false},
		{"Example Auth <auth@example.com>", "", `"Example Auth" <auth@example.com>`, false},
		{"auth@example.com", "", `<auth@example.com>`, false},
		{"x@example.com\r\nBcc: y@example.com", "", "", true},
		{"not an address", "", "", true},
		{"", "", "", true},
		{"", "/relative", "", true},
	}
	for _, tt := range tests {
		got, err := ResolveFrom(tt.setting, tt.base)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ResolveFrom(%q, %q) = %q, %v; want %q, error %v", tt.setting, tt.base, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrFrom) {
			t.Errorf("error %v does not wrap ErrFrom", err)
		}
	}
}

func testMessage(to string) Message {
	return Message{
		ID:      "msg-1",
		To:      to,
		Subject: "Confirm your email address",
		Text:    "Hello,\n\nopen this link:\n\nhttps://auth.example.com/verify-email?token=" + strings.Repeat("T", 80) + "\n",
		HTML:    `<p>Hello, <a href="https://auth.example.com/verify-email?token=T">link</a></p>`,
	}
}

func TestSMTPSenderModes(t *testing.T) {
	serverTLS, clientTLS := mustTLS(t)
	tests := []struct {
		name    string
		server  smtpOpts
		scheme  string // URL without host:port, "%s" for it
		wantTLS bool
		wantErr bool
	}{
		{"starttls required", smtpOpts{tls: serverTLS}, "smtp://%s", true, false},
		{"starttls required with auth", smtpOpts{tls: serverTLS, user: "relayuser", pass: "relay pass"}, "smtp://relayuser:relay%%20pass@%s", true, false},
		{"implicit tls with auth", smtpOpts{tls: serverTLS, implicit: true, user: "u", pass: "p"}, "smtps://u:p@%s", true, false},
		{"starttls required but not offered", smtpOpts{}, "smtp://%s", false, true},
		{"opportunistic without starttls", smtpOpts{}, "smtp://%s?starttls=insecure-opportunistic", false, false},
		{"opportunistic with starttls", smtpOpts{tls: serverTLS}, "smtp://%s?starttls=opportunistic", true, false},
		{"none on a dev relay", smtpOpts{}, "smtp://%s?starttls=none", false, false},
		{"wrong password", smtpOpts{tls: serverTLS, user: "u", pass: "p"}, "smtp://u:wrong@%s", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mustSMTPServer(t, tt.server)
			cfg, err := ParseSMTPURL(fmt.Sprintf(tt.scheme, srv.Addr))
			if err != nil {
				t.Fatal(err)
			}
			cfg.From = "Gatehouse <no-reply@auth.example.com>"
			cfg.TLSConfig = clientTLS
			cfg.Timeout = 5 * time.Second
			var logs bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			s, err := NewSMTPSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage("ada@example.com")
			err = s.Send(context.Background(), m)
			if strings.Contains(logs.String(), "token=") || strings.Contains(logs.String(), "pass") {
				t.Fatalf("the log shows a body or a password: %s", logs.String())
			}
			if tt.wantErr {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				if errors.Is(err, ErrPermanent) {
					t.Fatalf("error %v is marked permanent; configuration errors must be retried", err)
				}
				if len(srv.Messages()) != 0 {
					t.Fatal("a message arrived")
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if got.TLS != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", got.TLS, tt.wantTLS)
			}
			if tt.server.user != "" && got.Auth != tt.server.user {
				t.Errorf("authenticated as %q, want %q", got.Auth, tt.server.user)
			}
			if got.From != "no-reply@auth.example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
				t.Errorf("envelope %q -> %q", got.From, got.To)
			}
			p := mustParseMail(t, got.Raw)
			if p.Subject != m.Subject || p.Text != m.Text || p.HTML != m.HTML {
				t.Errorf("parsed %+v\nwant subject %q text %q html %q", p, m.Subject, m.Text, m.HTML)
			}
			if id := p.Header.Get("Message-Id"); id != "<msg-1@auth.example.com>" {
				t.Errorf("Message-ID = %q", id)
			}
			if p.Header.Get("Auto-Submitted") != "auto-generated" || p.Header.Get("User-Agent") != "" || p.Header.Get("X-Mailer") != "" {
				t.Errorf("headers: %v", p.Header)
			}
			if !strings.Contains(logs.String(), "mail sent") || !strings.Contains(logs.String(), "ada@example.com") {
				t.Errorf("log %q lacks the delivery line", logs.String())
			}
		})
	}
}

func TestSMTPSenderRejectedRecipientIsPermanent(t *testing.T) {
	srv := mustSMTPServer(t, smtpOpts{rejectTo: "gone@example.com"})
	s := mustSender(t, srv)
	err := s.Send(context.Background(), testMessage("gone@example.com"))
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("Send = %v, want ErrPermanent", err)
	}
}

func TestSMTPSenderRefusesInjection(t *testing.T) {
	srv := mustSMTPServer(t, smtpOpts{})
	s := mustSender(t, srv)
	tests := []struct {
		name string
		edit func(*Message)
		want error
	}{
		{"CRLF in subject", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, ErrInvalidSubject},
		{"LF in subject", func(m *Message) { m.Subject = "Hi\nBcc: eve@example.com" }, ErrInvalidSubject},
		{"CRLF in recipient", func(m *Message) { m.To = "ada@example.com\r\nBcc: eve@example.com" }, ErrInvalidRecipient},
		{"two recipients", func(m *Message) { m.To = "ada@example.com, eve@example.com" }, ErrInvalidRecipient},
		{"display name", func(m *Message) { m.To = "Eve <eve@example.com>" }, ErrInvalidRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage("ada@example.com")
			tt.edit(&m)
			if err := s.Send(context.Background(), m); !errors.Is(err, tt.want) {
				t.Fatalf("Send = %v, want %v", err, tt.want)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages arrived", n)
	}
}

func TestNewSMTPSenderChecks(t *testing.T) {
	tests := []struct {
		name string
		cfg  SMTPConfig
		want error
	}{
		{"no from", SMTPConfig{Host: "relay", Port: 587}, ErrFrom},
		{"from with CRLF", SMTPConfig{Host: "relay", Port: 587, From: "a@b.c\r\nBcc: x@y.z"}, ErrFrom},
		{"no host", SMTPConfig{Port: 587, From: "a@b.c"}, ErrSMTPURL},
		{"bad mode", SMTPConfig{Host: "relay", Port: 587, From: "a@b.c", TLS: 42}, ErrSMTPURL},
	}
	for _, tt := range tests {
		if _, err := NewSMTPSender(tt.cfg); !errors.Is(err, tt.want) {
			t.Errorf("%s: NewSMTPSender = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// mustSender returns a plain-text SMTPSender for a test server.
func mustSender(t *testing.T, srv *testSMTP) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(SMTPConfig{
		Host: srv.Host, Port: srv.Port, TLS: InsecureTLSNone, Timeout: 5 * time.Second,
		From: "Gatehouse <no-reply@auth.example.com>", TLSConfig: &tls.Config{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
