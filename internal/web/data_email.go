package web

import (
	"slices"
	"strings"
	"time"
)

// TokenForm is the data of the pages a one-time link opens (verify_email,
// reset, email_confirm): a form that posts the link's token back.
type TokenForm struct {
	// Token goes into the form's hidden field, and nowhere else.
	Token string
	// Email is the account's current address (empty when unknown).
	Email string
	// NewEmail is the address an email change link confirms.
	NewEmail string
}

// DevOutbox is the data of the development outbox page.
type DevOutbox struct {
	// SMTP is true when mail goes to an SMTP relay instead.
	SMTP     bool
	Messages []DevMail
}

// DevMail is one message in the development outbox.
type DevMail struct {
	ID      string
	To      string
	Subject string
	Text    string
	Time    time.Time
}

// Links are the http(s) URLs in the message's text, in order, so the dev
// outbox can make them clickable (the text itself stays plain).
func (m DevMail) Links() []string {
	var out []string
	for _, f := range strings.Fields(m.Text) {
		f = strings.TrimRight(f, ".,;:)>\"'")
		if (strings.HasPrefix(f, "https://") || strings.HasPrefix(f, "http://")) && len(f) <= 2048 && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
