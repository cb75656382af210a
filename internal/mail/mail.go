// Package mail sends Gatehouse's transactional mail: address verification,
// password resets, email changes and security notices.
//
// # Pieces
//
//   - [Message] is one mail to one recipient, and [Sender] delivers it.
//   - [SMTPSender] delivers through an SMTP relay configured by a URL
//     ([ParseSMTPURL]): smtp://user:pass@host:587 with STARTTLS required by
//     default, or smtps://user:pass@host:465 with implicit TLS.
//   - [DevOutbox] is the Sender for development: it keeps the last messages
//     in memory for the /dev/outbox page and writes them, one-time links
//     included, to a logger. It must never be used in production.
//   - [Render] turns one of the embedded templates (verify_email,
//     password_reset, ...) into a Message with a plain-text and an HTML body.
//   - [Outbox] and [Worker] make delivery durable: a request only inserts a
//     row into the mail_outbox table (in its own transaction if it likes,
//     see [Outbox.EnqueueTx]) and a background Worker delivers it, so no
//     request ever waits on SMTP and no mail is lost while SMTP is down.
//
// # Delivery guarantees
//
// A message that [Outbox.Enqueue] accepted is delivered at least once, or
// given up on after [Worker.MaxAttempts] attempts or [Worker.MaxAge]
// (default 48 hours) and reported through the Worker's logger and its
// OnGiveUp hook. Several Workers, in one process or in several instances
// sharing a database, may run on the same table: a Worker claims one row at
// a time with a lease (locked_until plus a random claim token; on Postgres
// with FOR UPDATE SKIP LOCKED), so two Workers never send the same message
// at the same time. A duplicate is possible only when a Worker dies (or
// loses its database) after the SMTP server accepted a message but before
// the row was marked sent, or when one send outlasts the lease; the
// Message-ID header is derived from the row id, so a duplicate carries the
// same Message-ID.
//
// # Retries
//
// A failed attempt is retried after 30s, 1m, 2m, 4m, ... doubling up to a
// cap of one hour ([DefaultBackoff]). A permanent failure (the server
// rejected the recipient or the message with a 5xx reply, reported as
// [ErrPermanent]) is not retried.
//
// # Retention
//
// Mail bodies carry one-time links, so they are kept no longer than needed:
// as soon as a message is sent (or given up on) its subject stays but its
// bodies are erased, and the remaining row (recipient, times, attempts, last
// error) is deleted after [Worker.Retention] (default 7 days). The
// last_error column holds a bounded, sanitized error text that never
// contains a body.
//
// # Safety
//
// Every message is checked by [Message.Validate] before it is queued or
// sent: one recipient address, a subject without control characters (so CR
// and LF header injection is impossible) and bodies of bounded size.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the parts of a Message.
const (
	// MaxAddressLen is the longest recipient address accepted (RFC 5321).
	MaxAddressLen = 254
	// MaxSubjectLen is the longest subject accepted, in bytes.
	MaxSubjectLen = 200
	// MaxBodyLen is the longest text or HTML body accepted, in bytes.
	MaxBodyLen = 64 << 10
)

// Errors returned by Message.Validate and the Senders.
var (
	// ErrInvalidRecipient means the To address is empty, not a single
	// plain address, too long, or contains control characters.
	ErrInvalidRecipient = errors.New("mail: invalid recipient")
	// ErrInvalidSubject means the subject is empty, too long, or contains
	// control characters such as CR or LF.
	ErrInvalidSubject = errors.New("mail: invalid subject")
	// ErrInvalidBody means the text body is empty, a body is too long, or a
	// body is not valid UTF-8.
	ErrInvalidBody = errors.New("mail: invalid body")
	// ErrPermanent marks a delivery failure that retrying cannot fix, such
	// as a recipient the server rejected with a 5xx reply. The Worker gives
	// up on a message at once when its Sender returns an error wrapping it.
	ErrPermanent = errors.New("mail: permanent delivery failure")
)

// Message is one mail to one recipient.
type Message struct {
	// ID identifies the message: the outbox row id when the Worker
	// delivers it, or an id assigned by the DevOutbox. Optional for Send.
	ID string
	// Time is when the message was created (queued). Optional for Send.
	Time time.Time
	// To is the recipient: one plain address such as "ada@example.com".
	To string
	// Subject is a single line of text.
	Subject string
	// Text is the plain-text body; it is required.
	Text string
	// HTML is the optional HTML alternative of Text.
	HTML string
}

// Sender delivers a Message.
//
// Implementations must be safe for concurrent use and must return an error
// wrapping ErrPermanent for failures that retrying cannot fix.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SenderFunc adapts a function to the Sender interface.
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f(ctx, m).
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// Validate checks that m can be sent safely: one valid recipient address, a
// one-line subject, a text body, and sizes within the limits above. The
// errors wrap ErrInvalidRecipient, ErrInvalidSubject or ErrInvalidBody.
func (m Message) Validate() error {
	if err := validateAddress(m.To); err != nil {
		return err
	}
	if m.Subject == "" || len(m.Subject) > MaxSubjectLen || !utf8.ValidString(m.Subject) || hasControl(m.Subject) {
		return fmt.Errorf("%w: empty, longer than %d bytes, or containing control characters", ErrInvalidSubject, MaxSubjectLen)
	}
	if strings.TrimSpace(m.Text) == "" {
		return fmt.Errorf("%w: the text body is empty", ErrInvalidBody)
	}
	if len(m.Text) > MaxBodyLen || len(m.HTML) > MaxBodyLen {
		return fmt.Errorf("%w: a body is longer than %d bytes", ErrInvalidBody, MaxBodyLen)
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return fmt.Errorf("%w: a body is not valid UTF-8", ErrInvalidBody)
	}
	return nil
}

// validateAddress accepts exactly one bare address (no display name, no
// group, no control characters), as stored for an account.
func validateAddress(s string) error {
	if s == "" || len(s) > MaxAddressLen || !utf8.ValidString(s) || hasControl(s) {
		return fmt.Errorf("%w: empty, longer than %d bytes, or containing control characters", ErrInvalidRecipient, MaxAddressLen)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, " <>,;\"\\") {
		return fmt.Errorf("%w: not a single plain address", ErrInvalidRecipient)
	}
	return nil
}

// hasControl reports whether s contains a control character (CR, LF, TAB,
// NUL, DEL, C1 controls) or a Unicode line or paragraph separator.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
