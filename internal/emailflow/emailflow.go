// Package emailflow is the email feature: address verification, password
// reset, email change, the dev outbox page, security notices and new-device
// notices, all through the durable mail outbox. It imports the kit,
// internal/account, internal/db, internal/mail, internal/web and ring 1;
// never another feature or internal/app.
package emailflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/mail"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/session"
	"github.com/mileusna/useragent"
)

// Every mail goes through the durable outbox (internal/mail): a request only
// queues it, and the mail worker started by Start delivers it
// through SMTP (SMTP_URL) or, without SMTP in development mode, to the dev
// outbox shown at /dev/outbox. The one-time links carry tokens made and
// checked by account.EmailTokens; a token appears in the mailed link, in
// the hidden field of the page that link opens, and nowhere else.

// Config is what New needs.
type Config struct {
	// Kit is the server's page kit.
	Kit *kit.Kit
	// DB holds the outbox, the email tokens and the known devices.
	DB *db.DB
	// Keys makes the MAC of known devices.
	Keys keyring.Source
	// Dev shows mail at /dev/outbox when there is no SMTP relay.
	Dev bool
	// BaseURL is the public URL the links in mail point to.
	BaseURL *url.URL
	// SMTPURL is the relay (SMTP_URL); "" keeps mail in the outbox (or
	// the dev outbox with Dev).
	SMTPURL string
	// MailFrom is the sender address (MAIL_FROM); "" derives one.
	MailFrom string
	// ResetTTL and VerifyTTL are the lifetimes of reset links and of
	// verification and email change links.
	ResetTTL, VerifyTTL time.Duration
	// Now is the clock.
	Now func() time.Time
	// Log is the feature's logger.
	Log *slog.Logger
	// WorkerTweak, when set (by tests only), adjusts the mail worker before
	// it starts, e.g. to poll and retry within milliseconds.
	WorkerTweak func(w *mail.Worker)
}

// Feature holds the mailer and the email token flows.
type Feature struct {
	k       *kit.Kit
	c       Config
	log     *slog.Logger
	now     func() time.Time
	outbox  *mail.Outbox
	sender  mail.Sender
	dev     *mail.DevOutbox // nil unless mail stays in the process (no SMTP_URL, dev mode)
	smtp    bool
	tokens  *account.EmailTokens
	devices *account.Devices
	limits  emailLimits
}

// emailLimits are the feature's own rate limits, on top of the FORGOT_LIMIT
// per IP. Those that guard a mailbox rather than the server refuse
// silently: the requester's answer does not change.
type emailLimits struct {
	resend   ratelimit.Limit // verification mails asked for, per user (429)
	change   ratelimit.Limit // email change requests, per user (429; also bounds password guesses)
	redeem   ratelimit.Limit // token redemptions, per IP (429)
	forgot   ratelimit.Limit // reset mails, per account (silent)
	exists   ratelimit.Limit // "you already have an account" notices, per account (silent)
	interval time.Duration   // how often expired tokens are purged
}

var defaultEmailLimits = emailLimits{
	resend:   ratelimit.Limit{Rate: 3, Period: time.Hour, Burst: 3},
	change:   ratelimit.Limit{Rate: 5, Period: time.Hour, Burst: 5},
	redeem:   ratelimit.Limit{Rate: 30, Period: time.Minute, Burst: 30},
	forgot:   ratelimit.Limit{Rate: 5, Period: time.Hour, Burst: 5},
	exists:   ratelimit.Limit{Rate: 3, Period: time.Hour, Burst: 3},
	interval: time.Hour,
}

// errNoSMTP keeps mail queued in production when no SMTP_URL is set.
var errNoSMTP = errors.New("no SMTP relay configured (GATEHOUSE_SMTP_URL): the message stays queued")

// Settings named in errors.
const (
	settingSMTPURL  = "setting GATEHOUSE_SMTP_URL (--smtp-url)"
	settingMailFrom = "setting GATEHOUSE_MAIL_FROM (--mail-from)"
)

// New builds the feature: the outbox, and the sender SMTPURL and Dev
// choose. A setting that is not usable is an error naming it.
func New(cfg Config) (*Feature, error) {
	dialect := mail.SQLite
	if cfg.DB.Dialect() == db.Postgres {
		dialect = mail.Postgres
	}
	outbox, err := mail.NewOutbox(cfg.DB.Writer(), dialect)
	if err != nil {
		return nil, err
	}
	outbox.Now = cfg.Now
	e := &Feature{k: cfg.Kit, c: cfg, log: cfg.Log, now: cfg.Now, outbox: outbox, limits: defaultEmailLimits,
		tokens:  account.NewEmailTokens(cfg.Kit.Accounts(), cfg.DB.EmailTokens()),
		devices: account.NewDevices(cfg.DB.Devices(), keyring.NewMAC(cfg.Keys, "known-device"), cfg.Now),
	}
	switch {
	case cfg.SMTPURL != "":
		sc, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", settingSMTPURL, err)
		}
		if sc.Insecure() && !cfg.Dev && !emailLoopbackHost(sc.Host) {
			return nil, fmt.Errorf("%s: starttls=%s may send mail, with its one-time links, and the relay password in plain text to %s; use STARTTLS (the default) or smtps://, or --dev on your own machine",
				settingSMTPURL, sc.TLS, sc.Host)
		}
		if sc.From, err = mail.ResolveFromAs(cfg.MailFrom, cfg.BaseURL.String(), cfg.Kit.ProductName()); err != nil {
			return nil, fmt.Errorf("%s: %w", settingMailFrom, err)
		}
		sc.Logger = e.log.With("component", "smtp")
		s, err := mail.NewSMTPSender(sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", settingSMTPURL, err)
		}
		e.sender, e.smtp = s, true
	case cfg.Dev:
		// Development only: it logs every message in full, links included.
		e.dev = mail.NewDevOutbox(100, e.log.With("component", "dev-outbox"))
		e.dev.Now = cfg.Now
		e.sender = e.dev
	default:
		e.sender = mail.SenderFunc(func(context.Context, mail.Message) error { return errNoSMTP })
	}
	return e, nil
}

// emailLoopbackHost reports whether host names this machine.
func emailLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// AfterRegister runs after a registration attempt that passed validation.
// A new account gets a verification link; an address that already had one
// gets its owner a notice instead. Both paths generate a token, run one
// token transaction (rolled back for the notice) and queue one mail, so
// they cost the same.
func (e *Feature) AfterRegister(ctx context.Context, reg account.Registration) {
	u := reg.User
	ctx = context.WithoutCancel(ctx)
	if reg.Existing {
		if err := e.tokens.Decoy(ctx, account.TokenVerifyEmail, e.c.VerifyTTL); err != nil {
			e.log.Error("email: decoy token", "err", err)
		}
		if !e.allowQuietly(ctx, "email:exists:user:", u.ID, e.limits.exists) {
			return
		}
		_ = e.send(ctx, mail.AccountExists, u.Email, mail.Data{Link: e.link("/password/forgot", "")})
		return
	}
	if err := e.sendVerification(ctx, u); err != nil {
		e.log.Error("email: verification mail", "user", u.ID, "err", err)
	}
}

// AfterLogin runs after a successful sign-in (both factors). A sign-in from
// a device (browser family, OS, network prefix) the account has not used
// before gets its owner a notice, except for the account's first sign-in.
func (e *Feature) AfterLogin(ctx context.Context, r *http.Request, u account.User) {
	ctx = context.WithoutCancel(ctx)
	family, os := "", ""
	if ua := r.UserAgent(); ua != "" {
		p := useragent.Parse(ua)
		family, os = p.Name, p.OS
	}
	dev := account.NewDevice(family, os, e.k.ClientIP(r))
	notify, err := e.devices.SignedIn(ctx, u.ID, dev)
	if err != nil {
		e.log.Error("email: known devices", "user", u.ID, "err", err)
		return
	}
	if notify {
		_ = e.send(ctx, mail.NewDeviceSignIn, u.Email, mail.Data{When: e.now(), IP: e.k.IP(r), Device: emailDeviceText(r.UserAgent())})
	}
}

// AfterPasswordChange runs after the user changed the password: pending
// reset links die and the owner gets a notice.
func (e *Feature) AfterPasswordChange(ctx context.Context, u account.User) {
	var ip, ua string
	if sess := session.FromContext(ctx); sess != nil {
		ip, ua = sess.IP(), sess.UserAgent()
	}
	e.passwordChanged(context.WithoutCancel(ctx), u, ip, ua)
}

// securityNoticeKinds are the notices SecurityNotice sends with the
// generic security_notice template: kind -> title, body.
var securityNoticeKinds = map[string][2]string{
	"twofactor_reset":         {"Two-factor authentication was reset", "An administrator turned off two-factor authentication for your account."},
	"recovery_codes_replaced": {"New recovery codes", "A new set of recovery codes was made for your account; the old codes no longer work."},
	"sessions_revoked":        {"You were signed out everywhere", "Every session and API token of your account was ended."},
	"passkey_added":           {"A passkey was added", "A new passkey was added to your account: it can sign in without your password."},
	"passkey_removed":         {"A passkey was removed", "A passkey was removed from your account: it can no longer sign in."},
}

// SecurityNotice mails the account's owner a notice of a security event,
// such as "twofactor_enabled" or "twofactor_disabled".
func (e *Feature) SecurityNotice(ctx context.Context, u account.User, kind string) {
	ctx = context.WithoutCancel(ctx)
	data := mail.Data{When: e.now()}
	name := mail.SecurityNotice
	switch kind {
	case "twofactor_enabled":
		name = mail.TwoFactorEnabled
	case "twofactor_disabled":
		name = mail.TwoFactorDisabled
	default:
		tb, ok := securityNoticeKinds[kind]
		if !ok {
			e.log.Warn("email: unknown security notice kind", "kind", account.Sanitize(kind, 64))
			tb = [2]string{"Security notice", "A security setting of your account was changed."}
		}
		data.Title = tb[0]
		data.Body = tb[1] + " (" + e.now().UTC().Format("2006-01-02 15:04 UTC") + ")"
	}
	_ = e.send(ctx, name, u.Email, data)
}

// Start starts the outbox delivery loop, and the sweeper of
// expired email tokens.
func (e *Feature) Start(run func(name string, f func(context.Context) error)) {
	w := &mail.Worker{Outbox: e.outbox, Sender: e.sender, Logger: e.log.With("component", "mail"), Now: e.now,
		OnGiveUp: e.gaveUp}
	if e.c.WorkerTweak != nil {
		e.c.WorkerTweak(w)
	}
	if !e.smtp && !e.c.Dev {
		e.log.Warn("GATEHOUSE_SMTP_URL is not set: mail (verification, password reset, notices) is queued but not sent until it is")
	}
	run("mail worker", w.Run)
	run("email token sweeper", e.sweep)
}

// sweep deletes expired email tokens now and then.
func (e *Feature) sweep(ctx context.Context) error {
	t := time.NewTicker(e.limits.interval)
	defer t.Stop()
	for {
		if _, err := e.tokens.Purge(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("email: purge expired tokens", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// gaveUp audits a message the worker could not deliver.
func (e *Feature) gaveUp(ctx context.Context, f mail.Failure) {
	_ = e.k.Accounts().Record(ctx, account.Event{Name: "mail.undeliverable", Outcome: account.OutcomeError,
		Detail: "to " + f.To + ": " + f.Subject + " after " + fmt.Sprint(f.Attempts) + " attempts: " + f.Err})
}

// send renders a template and queues the mail for to, which must be an
// address stored for the account. data.Email defaults to to.
func (e *Feature) send(ctx context.Context, name, to string, data mail.Data) error {
	if data.Email == "" {
		data.Email = to
	}
	if data.AppName == "" {
		data.AppName = e.k.ProductName()
	}
	m, err := mail.Render(name, data)
	if err == nil {
		m.To = to
		_, err = e.outbox.Enqueue(ctx, m)
	}
	if err != nil {
		// Never the message: its body may hold a one-time link.
		e.log.Error("email: mail not queued", "template", name, "to", to, "err", err)
		return fmt.Errorf("queue %s mail: %w", name, err)
	}
	return nil
}

// decoySend does the work of send, rendering the mail and inserting it
// into the outbox, in a transaction that it rolls back: for the paths that
// must cost what sending costs, yet send nothing.
func (e *Feature) decoySend(ctx context.Context, name, to string, data mail.Data) {
	if data.Email == "" {
		data.Email = to
	}
	if data.AppName == "" {
		data.AppName = e.k.ProductName()
	}
	m, err := mail.Render(name, data)
	if err != nil {
		return
	}
	m.To = to
	tx, err := e.c.DB.Writer().BeginTx(ctx, nil)
	if err != nil {
		return
	}
	defer tx.Rollback()
	_, _ = e.outbox.EnqueueTx(ctx, tx, m)
}

// sendVerification mails u a fresh verification link (older ones die).
func (e *Feature) sendVerification(ctx context.Context, u account.User) error {
	tok, err := e.tokens.Issue(ctx, account.TokenVerifyEmail, u, u.Email, e.c.VerifyTTL)
	if err != nil {
		return err
	}
	return e.send(ctx, mail.VerifyEmail, u.Email, mail.Data{Link: e.link("/verify-email", tok), ExpiresIn: e.c.VerifyTTL})
}

// passwordChanged voids u's reset links and mails the notice.
func (e *Feature) passwordChanged(ctx context.Context, u account.User, ip, ua string) {
	if err := e.tokens.VoidResetTokens(ctx, u.ID); err != nil {
		// They are void anyway: issued before the password change.
		e.log.Warn("email: void reset tokens", "user", u.ID, "err", err)
	}
	_ = e.send(ctx, mail.PasswordChanged, u.Email, mail.Data{When: e.now(), IP: ip, Device: emailDeviceText(ua)})
}

// link is an absolute URL under the base URL, with the token as its query.
func (e *Feature) link(path, token string) string {
	u := url.URL{Scheme: e.c.BaseURL.Scheme, Host: e.c.BaseURL.Host, Path: path}
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return u.String()
}

// allowQuietly consumes one event of a per-user limit that guards a
// mailbox; a refusal only skips the mail. A limiter failure skips it too.
func (e *Feature) allowQuietly(ctx context.Context, prefix string, userID int64, l ratelimit.Limit) bool {
	res, err := e.k.Limiter().Allow(ctx, prefix+fmt.Sprint(userID), l)
	if err != nil {
		e.log.Error("rate limiter failed", "err", err)
		return false
	}
	return res.Allowed
}

// emailDeviceText describes a user agent for a notice, such as "Firefox 128 on
// Linux".
func emailDeviceText(ua string) string {
	if ua == "" {
		return ""
	}
	b, o := kit.DescribeAgent(ua)
	return b + " on " + o
}

// Outbox is the durable outbox mail is queued in.
func (e *Feature) Outbox() *mail.Outbox { return e.outbox }
