package web

import "time"

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
