package account

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// EventName names a kind of security event.
type EventName string

// The audit event names. Later features add their own.
const (
	EventRegister       EventName = "register"
	EventLoginSuccess   EventName = "login.success"
	EventLoginFailure   EventName = "login.failure"
	EventLogout         EventName = "logout"
	EventLogoutAll      EventName = "logout.all"
	EventPasswordChange EventName = "password.change"
	EventCSRFRefused    EventName = "csrf.refused"
	EventAdminDisable   EventName = "admin.disable"
	EventAdminEnable    EventName = "admin.enable"
	EventRolesChange    EventName = "admin.roles"
	EventUserCreate     EventName = "user.create"
)

// Outcome says how a security event ended.
type Outcome string

// The outcomes.
const (
	// OutcomeSuccess: the operation was done.
	OutcomeSuccess Outcome = "success"
	// OutcomeFailure: refused because of the input (wrong password,
	// duplicate email, invalid token...).
	OutcomeFailure Outcome = "failure"
	// OutcomeDenied: refused because the actor lacks permission.
	OutcomeDenied Outcome = "denied"
	// OutcomeError: an internal error prevented the operation.
	OutcomeError Outcome = "error"
)

// Bounds on audit fields, in bytes, applied by [SanitizeEvent].
const (
	MaxAuditIP        = 64
	MaxAuditUserAgent = 512
	MaxAuditDetail    = 1024
	MaxAuditName      = 64
)

// Event is one entry of the audit trail. It never contains a password, a
// token or a cookie.
type Event struct {
	// ID is assigned by the store.
	ID int64
	// At is the UTC time of the event.
	At time.Time
	// UserID is the account the event is about; 0 if none (unknown email).
	UserID int64
	// ActorID is the account that acted, if different from UserID (an
	// admin); 0 if none.
	ActorID int64
	// Name is what happened; Outcome how it ended.
	Name    EventName
	Outcome Outcome
	// IP and UserAgent describe the client (from [Meta]).
	IP        string
	UserAgent string
	// Detail is free text for humans: a reason, an email as typed.
	Detail string
}

// String renders the event as one log line of key=value pairs, values
// quoted when they contain spaces. Text fields go through [Sanitize] (again,
// so a stored backslash escape shows as `\\x0a`): no event, sanitized or not,
// can span two lines.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "at=%s event=%s outcome=%s user=%d actor=%d ip=%s",
		e.At.UTC().Format(time.RFC3339Nano), e.Name, e.Outcome, e.UserID, e.ActorID, logValue(e.IP))
	fmt.Fprintf(&b, " ua=%s detail=%s", logValue(e.UserAgent), logValue(e.Detail))
	return b.String()
}

func logValue(s string) string {
	s = Sanitize(s, MaxAuditDetail)
	if s == "" || strings.ContainsAny(s, " \"=") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// AuditFilter selects events for [AuditStore.ListAudit]. Zero fields do not
// filter.
type AuditFilter struct {
	// UserID keeps events about this user (0: all).
	UserID int64
	// Name keeps events with this name ("": all).
	Name EventName
	// Since (inclusive) and Until (exclusive) bound At; zero: unbounded.
	Since, Until time.Time
	// Limit is the page size (default 50, at most 1000); Offset skips rows.
	Limit, Offset int
}

// Sanitize makes s safe to store and to print on one log line: invalid
// UTF-8 becomes U+FFFD; backslash becomes `\\`; control characters
// (including CR and LF), bidirectional controls and line or paragraph
// separators become `\xNN` or `\uNNNN` escapes; and the result is cut to at
// most max bytes on a rune boundary. An escaped newline is therefore always
// distinguishable from a typed backslash followed by "n".
func Sanitize(s string, max int) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || r == '\\' || unicode.IsControl(r) || isBidiOrSeparator(r) {
			clean = false
			break
		}
		i += size
	}
	if clean && len(s) <= max {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		var piece string
		switch {
		case r == utf8.RuneError && size <= 1:
			piece = "\uFFFD"
		case r == '\\':
			piece = `\\`
		case r < 0x80 && unicode.IsControl(r):
			piece = fmt.Sprintf(`\x%02x`, r)
		case unicode.IsControl(r) || isBidiOrSeparator(r):
			piece = fmt.Sprintf(`\u%04x`, r)
		default:
			piece = string(r)
		}
		if b.Len()+len(piece) > max {
			break
		}
		b.WriteString(piece)
	}
	return b.String()
}

// SanitizeEvent returns e with every text field passed through [Sanitize]
// with its bound, and At converted to UTC.
func SanitizeEvent(e Event) Event {
	e.At = e.At.UTC()
	e.Name = EventName(Sanitize(string(e.Name), MaxAuditName))
	e.Outcome = Outcome(Sanitize(string(e.Outcome), MaxAuditName))
	e.IP = Sanitize(e.IP, MaxAuditIP)
	e.UserAgent = Sanitize(e.UserAgent, MaxAuditUserAgent)
	e.Detail = Sanitize(e.Detail, MaxAuditDetail)
	return e
}
