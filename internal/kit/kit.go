// Package kit is the page kit that every feature package's handlers share:
// rendering a page with its common data, error pages, form parsing and
// refusals, the request state (signed-in user, request id, logger, client
// address), sign-in and role checks, safe "next" handling and the session's
// authentication methods (amr).
//
// It may import the standard library, ring-1 packages, internal/account and
// internal/web; never internal/app or a feature package. internal/app builds
// one Kit and hands it to every feature.
package kit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/secheaders"
	"github.com/gatehouse/gatehouse/session"
)

// Config is what New needs. Every field but Metrics is required.
type Config struct {
	// Dev shows development-mode links in pages.
	Dev bool
	// Secure is true when the base URL is https (Secure CSRF cookie).
	Secure bool
	// Keys signs the CSRF tokens.
	Keys keyring.Source
	// Accounts reads users and records audit events.
	Accounts *account.Service
	// Sessions is the session manager (ending a user's sessions).
	Sessions *session.Manager
	// ClientAddr is the client's address: the socket peer, or what a
	// trusted proxy reports.
	ClientAddr func(*http.Request) netip.Addr
	// ExternalNext, if set, accepts an absolute `next` URL a sign-in may
	// return to (forward-auth's protected hosts) and returns it; see Next.
	ExternalNext func(next string) (string, bool)
	// Guard holds the shared limiters and the sign-in defences.
	Guard Guard
	// Metrics counts refusals and store errors; nil counts nothing.
	Metrics Metrics
	// Log is the base logger.
	Log *slog.Logger
	// Brand is the product name, logo and accent colour of the pages;
	// the zero value is Gatehouse's own.
	Brand web.Brand
	// TwoFactorOn reports whether a user signs in with a second factor,
	// for the account page; nil leaves it unsaid.
	TwoFactorOn func(ctx context.Context, u account.User) (bool, error)
}

// Metrics are the counters features feed through the kit.
type Metrics interface {
	// RateLimited counts one request refused by the named limit.
	RateLimited(limit string)
	// StoreError counts one failure of the named backing store
	// ("database", "session", "redis", "ratelimit").
	StoreError(store string)
}

// Kit is the page kit of one server, built once by internal/app.
type Kit struct {
	cfg    Config
	render *web.Renderer
	csrf   *csrf.Protector
}

// New builds the kit: the page renderer and the CSRF protection.
func New(c Config) (*Kit, error) {
	r, err := web.NewBrandedRenderer(c.Brand)
	if err != nil {
		return nil, err
	}
	k := &Kit{cfg: c, render: r}
	copts := []csrf.Option{
		csrf.WithErrorHandler(http.HandlerFunc(k.CSRFFailed)),
		// A token is bound to the session once there is one, so it changes
		// at sign-in and dies with the session.
		csrf.WithBinding(func(r *http.Request) string {
			if sess := session.FromContext(r.Context()); sess != nil && sess.UserID() != "" {
				return sess.Handle()
			}
			return ""
		}),
	}
	if !c.Secure {
		copts = append(copts, csrf.InsecureHTTPCookie())
	}
	k.csrf = csrf.New(c.Keys, copts...)
	return k, nil
}

// CSRF is the protector whose Handler guards the browser routes.
func (k *Kit) CSRF() *csrf.Protector { return k.csrf }

// Accounts is the account service the kit was built with.
func (k *Kit) Accounts() *account.Service { return k.cfg.Accounts }

// Sessions is the session manager the kit was built with.
func (k *Kit) Sessions() *session.Manager { return k.cfg.Sessions }

// ProductName is the name the pages and mail show (PRODUCT_NAME).
func (k *Kit) ProductName() string { return k.cfg.Brand.ProductName() }

// Static serves the embedded static files and the brand's theme and logo.
func (k *Kit) Static() http.Handler { return k.render.Static() }

// Dev reports whether the server runs in development mode.
func (k *Kit) Dev() bool { return k.cfg.Dev }

// RateLimited counts a refusal by the named limit in the metrics.
func (k *Kit) RateLimited(limit string) {
	if k.cfg.Metrics != nil {
		k.cfg.Metrics.RateLimited(limit)
	}
}

// StoreError counts a failure of the named backing store in the metrics.
func (k *Kit) StoreError(store string) {
	if k.cfg.Metrics != nil {
		k.cfg.Metrics.StoreError(store)
	}
}

// Page returns the common data of a page for this request: title, CSRF
// token, nonce, the signed-in user and the session's flashes.
func (k *Kit) Page(r *http.Request, title string) *web.Page {
	p := &web.Page{
		Title:     title,
		CSRFToken: k.csrf.Token(r),
		Nonce:     secheaders.Nonce(r.Context()),
		Dev:       k.cfg.Dev,
		Form:      map[string]string{},
		Errors:    map[string]string{},
		Path:      r.URL.Path,
	}
	if u, ok := UserFrom(r.Context()); ok {
		p.User = userView(u)
		if !u.EmailVerified() {
			p.Banner = "Please confirm your email address: " + u.Email + " is not confirmed yet. Open the link we mailed you."
			p.BannerMail = true
		}
	}
	if sess := session.FromContext(r.Context()); sess != nil {
		for _, f := range sess.Flashes() {
			kind, text, ok := strings.Cut(f, ":")
			if !ok {
				kind, text = "info", f
			}
			fl := web.Flash{Kind: kind, Text: text}
			if kind == flashMail {
				fl.Kind, fl.Mail = "success", true
			}
			p.Flashes = append(p.Flashes, fl)
		}
	}
	return p
}

// AccountPage is Page for the account page: its Data says whether
// two-factor sign-in is on (web.AccountData).
func (k *Kit) AccountPage(r *http.Request, title string) *web.Page {
	p := k.Page(r, title)
	var d web.AccountData
	if u, ok := UserFrom(r.Context()); ok && k.cfg.TwoFactorOn != nil {
		on, err := k.cfg.TwoFactorOn(r.Context(), u)
		d.TwoFactorKnown, d.TwoFactorOn = err == nil, on
	}
	p.Data = d
	return p
}

// flashMail is the kind of a flash saying that mail was sent.
const flashMail = "mail"

// MailFlash queues a success message saying that mail was sent; in
// development mode the page links it to the dev outbox.
func MailFlash(r *http.Request, text string) { Flash(r, flashMail, text) }

func userView(u account.User) *web.UserView {
	return &web.UserView{
		ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, EmailVerified: u.EmailVerified(),
		IsAdmin: u.IsAdmin(), CreatedAt: u.CreatedAt, AvatarURL: AvatarURL(u),
	}
}

// AvatarURL is the URL of the user's picture, or "" when there is none.
func AvatarURL(u account.User) string {
	if u.AvatarID == "" || !account.ValidAvatarID(u.AvatarID) {
		return ""
	}
	return "/avatars/" + u.AvatarID
}

// Flash queues a message of kind ("success", "info", "error") for the next
// page of this session.
func Flash(r *http.Request, kind, text string) {
	if sess := session.FromContext(r.Context()); sess != nil {
		sess.AddFlash(kind + ":" + text)
	}
}

// Show renders the page name with status. Pages are never cached: most
// show account data.
func (k *Kit) Show(w http.ResponseWriter, r *http.Request, status int, name string, p *web.Page) {
	secheaders.NoStore(w)
	if err := k.render.Render(w, status, name, p); err != nil {
		Logger(r.Context()).Error("render", "page", name, "err", err)
		plainError(w, http.StatusInternalServerError)
	}
}

var statusMessages = map[int]string{
	http.StatusBadRequest:            "The request could not be understood.",
	http.StatusForbidden:             "You do not have access to this page.",
	http.StatusNotFound:              "There is no page at this address.",
	http.StatusMethodNotAllowed:      "This page does not accept that kind of request.",
	http.StatusRequestEntityTooLarge: "What you sent is too large.",
	http.StatusUnsupportedMediaType:  "That kind of content is not accepted here.",
	http.StatusTooManyRequests:       "Too many attempts.",
	http.StatusInternalServerError:   "Something went wrong on our side. Please try again.",
	http.StatusServiceUnavailable:    "The service is busy or briefly unavailable.",
}

// statusTitles are the headings of the error pages, in plain language.
var statusTitles = map[int]string{
	http.StatusBadRequest:            "That request could not be read",
	http.StatusForbidden:             "No access",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Not possible here",
	http.StatusRequestEntityTooLarge: "Too large",
	http.StatusUnsupportedMediaType:  "Not accepted",
	http.StatusTooManyRequests:       "Too many attempts",
	http.StatusInternalServerError:   "Something went wrong",
	http.StatusServiceUnavailable:    "Temporarily unavailable",
}

// ErrorPage answers status with the error page. msg is for users, never an
// internal detail; "" uses the status's standard message. When the
// response carries Retry-After, the page says how long to wait.
func (k *Kit) ErrorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if msg == "" {
		msg = statusMessages[status]
	}
	if wait := RetryText(w.Header().Get("Retry-After")); wait != "" && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		msg = strings.TrimSuffix(strings.TrimSuffix(msg, " Please try again in a moment."), " Please wait a little and try again.")
		msg += " " + wait
	}
	title := statusTitles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	p := &web.Page{Title: title, Error: msg, Dev: k.cfg.Dev, Path: r.URL.Path,
		CSRFToken: k.csrf.Token(r), Nonce: secheaders.Nonce(r.Context()), Data: web.ErrorData{Status: status}}
	if u, ok := UserFrom(r.Context()); ok {
		p.User = userView(u)
	}
	k.Show(w, r, status, "error", p)
}

// RetryText turns a Retry-After value in seconds into a sentence for
// people: "Try again in 6 minutes." It is "" for anything else.
func RetryText(retryAfter string) string {
	secs, err := strconv.ParseInt(strings.TrimSpace(retryAfter), 10, 64)
	if err != nil || secs < 0 {
		return ""
	}
	switch {
	case secs <= 1:
		return "Try again in a second."
	case secs < 60:
		return fmt.Sprintf("Try again in %d seconds.", secs)
	case secs < 3600:
		return fmt.Sprintf("Try again in %s.", plural((secs+59)/60, "minute"))
	case secs < 48*3600:
		return fmt.Sprintf("Try again in %s.", plural((secs+3599)/3600, "hour"))
	default:
		return fmt.Sprintf("Try again in %s.", plural((secs+86399)/86400, "day"))
	}
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// plainError is the last resort when even the error page cannot render.
func plainError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}

// Unavailable answers 503 with Retry-After when a backend (database,
// Redis) failed; the error is only logged. A client that went away gets
// nothing.
func (k *Kit) Unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	Logger(r.Context()).Error("backend unavailable", "err", err)
	w.Header().Set("Retry-After", "5")
	k.ErrorPage(w, r, http.StatusServiceUnavailable, "")
}

// Fail maps an error from the domain to a response: a busy hasher 503
// (Retry-After 2), forbidden 403, not found 404, anything else 503.
func (k *Kit) Fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		return // the client went away
	case errors.Is(err, password.ErrBusy):
		w.Header().Set("Retry-After", "2")
		k.ErrorPage(w, r, http.StatusServiceUnavailable, "The server is busy. Please try again in a moment.")
	case errors.Is(err, account.ErrForbidden), errors.Is(err, account.ErrCannotDisableSelf):
		k.ErrorPage(w, r, http.StatusForbidden, "")
	case errors.Is(err, account.ErrNotFound):
		k.ErrorPage(w, r, http.StatusNotFound, "")
	default:
		k.Unavailable(w, r, err)
	}
}

// CSRFFailed answers a request the CSRF protection refused (403), and
// audits it.
func (k *Kit) CSRFFailed(w http.ResponseWriter, r *http.Request) {
	reason := csrf.FailureReason(r)
	var uid int64
	if u, ok := UserFrom(r.Context()); ok {
		uid = u.ID
	}
	detail := r.Method + " " + r.URL.Path
	if reason != nil {
		detail += ": " + reason.Error()
	}
	_ = k.cfg.Accounts.Record(r.Context(), account.Event{Name: account.EventCSRFRefused, Outcome: account.OutcomeDenied,
		UserID: uid, IP: k.IP(r), UserAgent: r.UserAgent(), Detail: detail})
	k.ErrorPage(w, r, http.StatusForbidden, "This form has expired or was sent from another site. Go back, reload the page and try again.")
}

// ErrCSRFToken wraps the reason CheckCSRFToken refused a token.
var ErrCSRFToken = errors.New("kit: csrf check failed")

// CheckCSRFToken checks token for r exactly as the CSRF middleware would
// had the token come in the X-CSRF-Token header: for handlers that read
// their own (multipart) body. A refusal wraps ErrCSRFToken and the csrf
// package's reason.
func (k *Kit) CheckCSRFToken(r *http.Request, token string) error {
	if token == "" {
		return fmt.Errorf("%w: %w", ErrCSRFToken, csrf.ErrTokenMissing)
	}
	c := r.Clone(r.Context())
	c.Body = http.NoBody
	c.Header.Set(csrf.HeaderName, token)
	if err := k.csrf.Check(c); err != nil {
		return fmt.Errorf("%w: %w", ErrCSRFToken, err)
	}
	return nil
}
