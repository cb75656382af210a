// Package session manages server-side web sessions securely by default.
//
// A Manager wraps handlers with Handler: it reads the session cookie, loads
// the session from a Store, puts it in the request context (FromContext)
// and saves it before the response header is written.
//
// Security properties:
//
//   - Tokens are 256 bits from crypto/rand, base64url in the cookie. Stores
//     only ever see SHA-256(token) as hex, the session's Handle, so a leaked
//     store is not a set of live cookies.
//   - The cookie is "__Host-gatehouse", Secure, HttpOnly, SameSite=Lax,
//     Path=/ unless InsecureCookie is given for plain-http development.
//   - Login and Renew issue a new token and delete the old record (no
//     session fixation); Destroy deletes the record at sign-out.
//   - Sessions end after IdleTimeout without activity or Lifetime after
//     sign-in, whichever comes first; "remember me" sessions last
//     RememberFor. Last-seen is written at most once per TouchInterval.
//   - Anonymous sessions holding nothing are neither stored nor given a
//     cookie, so unauthenticated floods write nothing.
//   - A store failure never makes a request look signed in or silently
//     anonymous: the error handler answers instead (503 by default).
//
// Stores implement Store; optional powers (UserLister, UserDeleter, Sweeper)
// are found by type assertion, and CookieCodec marks a store that keeps the
// whole session in the cookie. Every store should pass the conformance suite
// in session/sessiontest.
package session
