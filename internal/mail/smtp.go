package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode says how an SMTPSender protects its connection to the relay.
type TLSMode int

const (
	// TLSStartTLS (smtp://, the default) requires STARTTLS: a server that
	// does not offer it, or whose certificate does not verify, gets no mail.
	TLSStartTLS TLSMode = iota
	// TLSImplicit (smtps://) speaks TLS from the first byte.
	TLSImplicit
	// InsecureTLSOpportunistic (smtp://...?starttls=insecure-opportunistic)
	// uses STARTTLS when the server offers it and plain text otherwise, so
	// an attacker on the path can strip it. Only for relays you trust.
	InsecureTLSOpportunistic
	// InsecureTLSNone (smtp://...?starttls=insecure-none, or none) never
	// encrypts: for a local development relay (MailHog, Mailpit) only.
	InsecureTLSNone
)

// String returns the name of the mode as used in the URL.
func (m TLSMode) String() string {
	switch m {
	case TLSStartTLS:
		return "required"
	case TLSImplicit:
		return "implicit"
	case InsecureTLSOpportunistic:
		return "insecure-opportunistic"
	case InsecureTLSNone:
		return "insecure-none"
	}
	return "unknown"
}

// Defaults and limits of the SMTP configuration.
const (
	// DefaultSMTPTimeout bounds connecting to the relay and each command.
	DefaultSMTPTimeout = 30 * time.Second
	// MaxSMTPURLLen is the longest SMTP URL ParseSMTPURL accepts.
	MaxSMTPURLLen  = 2048
	minSMTPTimeout = time.Second
	maxSMTPTimeout = 5 * time.Minute
)

// ErrSMTPURL is wrapped by every error of ParseSMTPURL. Its messages never
// repeat the password.
var ErrSMTPURL = errors.New("mail: invalid SMTP URL")

// ErrFrom is wrapped by the errors of ResolveFrom and NewSMTPSender when the
// From address is unusable.
var ErrFrom = errors.New("mail: invalid From address")

// SMTPConfig configures an SMTPSender. ParseSMTPURL fills in the relay part;
// From, TLSConfig and Logger are set by the program.
type SMTPConfig struct {
	// Host and Port of the relay. Port defaults to 587 (smtp) or 465 (smtps).
	Host string
	Port int
	// Username and Password for SMTP AUTH; no AUTH when Username is empty.
	// The strongest mechanism the server offers is used, and credentials
	// are never sent over an unencrypted connection except to localhost.
	Username string
	Password string
	// TLS is how the connection is protected; the zero value requires
	// STARTTLS.
	TLS TLSMode
	// Timeout bounds the connection and each SMTP command
	// (DefaultSMTPTimeout when zero).
	Timeout time.Duration
	// From is the sender, e.g. "Gatehouse <no-reply@example.com>" (see
	// ResolveFrom). Required.
	From string
	// TLSConfig optionally overrides the TLS settings, e.g. to trust a
	// private CA. ServerName defaults to Host; the minimum version is
	// TLS 1.2.
	TLSConfig *tls.Config
	// Logger receives one line per delivery (message id and recipient,
	// never a body). Nil discards.
	Logger *slog.Logger
}

// Insecure reports whether the configuration may send mail, or
// credentials, in plain text. A production start should refuse it.
func (c SMTPConfig) Insecure() bool {
	return c.TLS == InsecureTLSOpportunistic || c.TLS == InsecureTLSNone
}

// Redacted returns the relay as a URL with the password replaced by "xxxxx",
// for logs and error messages.
func (c SMTPConfig) Redacted() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.TLS == TLSImplicit {
		u.Scheme = "smtps"
	}
	if c.Username != "" {
		if c.Password != "" {
			u.User = url.UserPassword(c.Username, "xxxxx")
		} else {
			u.User = url.User(c.Username)
		}
	}
	q := url.Values{}
	if c.TLS == InsecureTLSOpportunistic || c.TLS == InsecureTLSNone {
		q.Set("starttls", c.TLS.String())
	}
	if c.Timeout != 0 && c.Timeout != DefaultSMTPTimeout {
		q.Set("timeout", c.Timeout.String())
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ParseSMTPURL parses the relay URL of the SMTP_URL setting:
//
//	smtp://user:pass@host:587                    STARTTLS required (default port 587)
//	smtps://user:pass@host:465                   implicit TLS (default port 465)
//	smtp://host:1025?starttls=insecure-none      plain text, local dev relays only
//	smtp://host:25?starttls=insecure-opportunistic
//	...?timeout=10s                              connection and command timeout (1s to 5m)
//
// "none" and "opportunistic" are accepted as short forms. The user name and
// password are URL-decoded. Unknown parameters, paths and fragments are
// refused. Errors wrap ErrSMTPURL and never contain the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	if raw == "" {
		return c, fmt.Errorf("%w: empty", ErrSMTPURL)
	}
	if len(raw) > MaxSMTPURLLen {
		return c, fmt.Errorf("%w: longer than %d bytes", ErrSMTPURL, MaxSMTPURLLen)
	}
	if !utf8.ValidString(raw) || hasControl(raw) {
		return c, fmt.Errorf("%w: contains control characters or invalid UTF-8", ErrSMTPURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return c, fmt.Errorf("%w: %v", ErrSMTPURL, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		c.TLS, c.Port = TLSStartTLS, 587
	case "smtps":
		c.TLS, c.Port = TLSImplicit, 465
	default:
		return c, fmt.Errorf("%w: the scheme must be smtp or smtps", ErrSMTPURL)
	}
	if u.Opaque != "" {
		return c, fmt.Errorf("%w: write it as %s://host:port", ErrSMTPURL, strings.ToLower(u.Scheme))
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("%w: a path is not allowed", ErrSMTPURL)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return c, fmt.Errorf("%w: a fragment is not allowed", ErrSMTPURL)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, fmt.Errorf("%w: the host is missing", ErrSMTPURL)
	}
	if strings.ContainsAny(c.Host, " /\\@%") {
		return c, fmt.Errorf("%w: the host is not valid", ErrSMTPURL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("%w: the port must be between 1 and 65535", ErrSMTPURL)
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return c, fmt.Errorf("%w: the port is empty", ErrSMTPURL)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" {
			return c, fmt.Errorf("%w: a password needs a user name", ErrSMTPURL)
		}
		if hasControl(c.Username) || hasControl(c.Password) {
			return c, fmt.Errorf("%w: the credentials contain control characters", ErrSMTPURL)
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, fmt.Errorf("%w: the query is not valid", ErrSMTPURL)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return c, fmt.Errorf("%w: parameter %q given %d times", ErrSMTPURL, clip(name, 32), len(vals))
		}
		v := vals[0]
		switch name {
		case "starttls":
			if c.TLS == TLSImplicit {
				return c, fmt.Errorf("%w: starttls does not apply to smtps (implicit TLS)", ErrSMTPURL)
			}
			switch v {
			case "required":
				c.TLS = TLSStartTLS
			case "insecure-opportunistic", "opportunistic":
				c.TLS = InsecureTLSOpportunistic
			case "insecure-none", "none":
				c.TLS = InsecureTLSNone
			default:
				return c, fmt.Errorf("%w: starttls must be required, insecure-opportunistic or insecure-none", ErrSMTPURL)
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < minSMTPTimeout || d > maxSMTPTimeout {
				return c, fmt.Errorf("%w: timeout must be a duration between %v and %v", ErrSMTPURL, minSMTPTimeout, maxSMTPTimeout)
			}
			c.Timeout = d
		default:
			return c, fmt.Errorf("%w: unknown parameter %q (known: starttls, timeout)", ErrSMTPURL, clip(name, 32))
		}
	}
	return c, nil
}

// clip shortens s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// DefaultFromName is the display name of the default From address.
const DefaultFromName = "Gatehouse"

// ResolveFrom returns the From address to use: setting (the MAIL_FROM
// setting, such as "Example <auth@example.com>") when it is not empty,
// otherwise "Gatehouse <no-reply@HOST>" where HOST is the host of baseURL.
// Errors wrap ErrFrom.
func ResolveFrom(setting, baseURL string) (string, error) {
	return ResolveFromAs(setting, baseURL, DefaultFromName)
}

// ResolveFromAs is ResolveFrom with name (the product name) in place of
// "Gatehouse" in the derived address.
func ResolveFromAs(setting, baseURL, name string) (string, error) {
	if setting != "" {
		a, err := parseFrom(setting)
		if err != nil {
			return "", err
		}
		return a.String(), nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: cannot take a host from the base URL", ErrFrom)
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil {
			host = "[" + ip.String() + "]"
		} else {
			host = "[IPv6:" + ip.String() + "]"
		}
	}
	a, err := parseFrom((&netmail.Address{Name: name, Address: "no-reply@" + host}).String())
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

func parseFrom(s string) (*netmail.Address, error) {
	if len(s) > 2*MaxAddressLen || !utf8.ValidString(s) || hasControl(s) {
		return nil, fmt.Errorf("%w: too long or containing control characters", ErrFrom)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFrom, err)
	}
	if len(a.Address) > MaxAddressLen {
		return nil, fmt.Errorf("%w: the address is too long", ErrFrom)
	}
	return a, nil
}

// SMTPSender delivers mail through an SMTP relay, one connection per
// message. It is safe for concurrent use.
type SMTPSender struct {
	cfg    SMTPConfig
	from   *netmail.Address
	domain string
	log    *slog.Logger
}

// NewSMTPSender checks cfg and returns a Sender for it. It does not connect.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: host and port are required", ErrSMTPURL)
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit, InsecureTLSOpportunistic, InsecureTLSNone:
	default:
		return nil, fmt.Errorf("%w: unknown TLS mode %d", ErrSMTPURL, cfg.TLS)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrSMTPURL)
	}
	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	cfg.TLSConfig = tc
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &SMTPSender{cfg: cfg, from: from, domain: domain, log: log}, nil
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Send validates m and delivers it. A recipient or message that the server
// refuses with a 5xx reply gives an error wrapping ErrPermanent; any other
// failure (connection, TLS, authentication, 4xx) may succeed later.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecipient, err)
	}
	msg.Subject(m.Subject)
	when := m.Time
	if when.IsZero() {
		when = time.Now()
	}
	msg.SetDateWithValue(when)
	id := m.ID
	if !safeID.MatchString(id) {
		id = rand.Text()
	}
	msg.SetMessageIDWithValue(id + "@" + s.domain)
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.cfg.TLSConfig),
	}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case InsecureTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case InsecureTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		err = classify(err)
		s.log.LogAttrs(ctx, slog.LevelWarn, "mail delivery failed",
			slog.String("id", m.ID), slog.String("to", m.To), slog.String("relay", s.cfg.Host),
			slog.String("error", sanitizeError(err)))
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "mail sent",
		slog.String("id", m.ID), slog.String("to", m.To), slog.String("relay", s.cfg.Host))
	return nil
}

// classify wraps err with ErrPermanent when the server refused the
// recipient or the message itself with a 5xx reply.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		switch se.Reason {
		case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return fmt.Errorf("mail: smtp: %w: %w", ErrPermanent, err)
		}
	}
	return fmt.Errorf("mail: smtp: %w", err)
}
