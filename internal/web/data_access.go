package web

import "time"

// AdminAccess is the data of the forward-auth rules page (/admin/access).
type AdminAccess struct {
	// File is ACCESS_RULES; "" when it is not set (every request refused).
	File string
	// LoadedAt is when the rules in force were read.
	LoadedAt time.Time
	// Error is the last reload's error, "" when the file is what is in
	// force; ErrorAt is when it happened.
	Error   string
	ErrorAt time.Time
	// Rules describe the rules in force, in order; Default the policy
	// when none matches.
	Rules   []string
	Default string
	// CookieDomain is COOKIE_DOMAIN, "" when the cookie is host-only.
	CookieDomain string
}
