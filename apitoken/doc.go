// Package apitoken issues and verifies short-lived OAuth 2.0 access tokens
// in the JWT profile of RFC 9068, signed with Ed25519 (JWS alg "EdDSA").
//
// It is a building block: it has no idea how keys are stored. An [Issuer]
// signs with the current key of a [KeySource]; a [Verifier] checks tokens
// against a [KeyLookup], which can be the same key source (through
// [LookupFromSource]), a fixed set ([StaticKeys]) or the published key set of
// a Gatehouse server fetched over HTTP ([RemoteKeySet]). [JWKSHandler] serves
// the public keys as a JSON Web Key Set (RFC 7517, RFC 8037).
//
// # Secure by default
//
// The verifier pins the algorithm to EdDSA and only ever hands Ed25519 public
// keys to the signature check, so "alg":"none", HMAC signed with a public key
// and RSA or ECDSA tokens cannot verify. It requires the "typ" header
// "at+jwt", the "exp", "iat", "iss", "aud", "sub", "jti" and "client_id"
// claims, an exact issuer and audience, and a "kid" that names a known key
// (looked up as a plain string, never used as a path or URL). Tokens whose
// header carries "jku", "x5u", "x5c", "x5t", "jwk", "crit" or "b64" are
// refused, because keys never come from the token itself. Tokens longer than
// [MaxTokenSize] are refused before any parsing.
//
// Every refusal is an error that matches [ErrInvalidToken] with errors.Is;
// a [*VerifyError] carries a short reason for logs. Callers should show only
// the generic message. [Middleware] does that for HTTP: it reads the token
// only from the "Authorization: Bearer" header and answers failures with 401,
// a WWW-Authenticate header (RFC 6750) and an RFC 9457 problem body.
package apitoken
