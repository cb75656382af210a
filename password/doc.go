// Package password hashes, verifies and vets user passwords.
//
// New passwords are hashed with argon2id and stored as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// Verify also accepts hashes imported from other systems (bcrypt, Werkzeug,
// Django and passlib formats) and reports needsRehash=true for them, so an
// application can replace them with argon2id on the next successful login.
//
// Every parameter read from a stored hash is checked against [Limits] before
// any work is done, so a hostile or corrupt hash cannot make the server spend
// unbounded CPU time or memory ([ErrTooExpensive]).
//
// [Pool] bounds how many hashes run at once and how long callers wait for a
// turn ([ErrBusy]). [Policy] checks new passwords against rules after NIST
// SP 800-63B: length, a list of common passwords and the user's email.
//
// The package imports only the standard library, golang.org/x/crypto and
// golang.org/x/text; it is usable on its own in any Go program.
package password
