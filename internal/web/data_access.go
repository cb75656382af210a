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

// Continue is the data of the page that moves a browser on to an app on
// another origin after a form (sign-in, step-up, sign-out).
type Continue struct {
	// URL is where the browser goes (an absolute URL checked by kit.Next).
	URL string
}
