package web

import (
	"html/template"
	"net/url"
	"strings"
	"time"
)

// TwoFactorStatus is the data of the two-factor page (/account/2fa).
type TwoFactorStatus struct {
	// Enabled reports whether TOTP is on, since EnabledAt.
	Enabled   bool
	EnabledAt time.Time
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
}

// TwoFactorSetup is the data of the setup page: a new key, as a QR code
// and as text, waiting for its first code.
type TwoFactorSetup struct {
	// QRCode is a data: URI of a PNG made by the server from the key URI.
	QRCode template.URL
	// Secret is the key in base32, in groups of four, for typing.
	Secret string
	// Issuer and Account are the names an authenticator app shows.
	Issuer  string
	Account string
}

// TwoFactorCodes is the data of the page that shows recovery codes, once.
type TwoFactorCodes struct {
	Codes []string
	// JustEnabled is true right after two-factor sign-in was turned on.
	JustEnabled bool
}

// DownloadURL is a data: URL of the codes as a text file, for a download
// link: the codes are shown once and kept nowhere in clear, so there is
// no route that could serve them later. It holds only the codes (letters,
// digits and dashes) and fixed text.
func (c TwoFactorCodes) DownloadURL() template.URL {
	var b strings.Builder
	b.WriteString("Recovery codes: each one signs you in once in place of a code from your app.\n\n")
	for _, code := range c.Codes {
		b.WriteString(code + "\n")
	}
	return template.URL("data:text/plain;charset=utf-8," + url.PathEscape(b.String())) //nolint:gosec // fixed text and server-made codes
}

// StepUp is the data of the step-up page (/login/step-up), where a
// signed-in session that used one factor gives its second.
type StepUp struct {
	// Next is where the browser goes once the second factor is accepted.
	Next string
	// NoSecondFactor is true when the account has no second factor set up:
	// the page then says how to set one up instead of asking for a code.
	NoSecondFactor bool
}
