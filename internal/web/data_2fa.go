package web

import (
	"html/template"
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

// StepUp is the data of the step-up page (/login/step-up), where a
// signed-in session that used one factor gives its second.
type StepUp struct {
	// Next is where the browser goes once the second factor is accepted.
	Next string
	// NoSecondFactor is true when the account has no second factor set up:
	// the page then says how to set one up instead of asking for a code.
	NoSecondFactor bool
}
