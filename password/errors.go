package password

import "errors"

// Errors returned by Hash, Verify, Identify and Pool. They may be wrapped
// with more detail; test for them with errors.Is.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrMalformedHash means the stored hash could not be parsed.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnsupportedHash means the hash is in a format or variant this
	// package does not verify.
	ErrUnsupportedHash = errors.New("password: unsupported hash")
	// ErrTooExpensive means the hash's work parameters exceed the Limits;
	// no hashing work was done.
	ErrTooExpensive = errors.New("password: hash parameters over limits")
	// ErrPasswordTooLong means the password is longer than MaxPasswordBytes;
	// no hashing work was done.
	ErrPasswordTooLong = errors.New("password: password too long")
	// ErrEmptyPassword means Hash was asked to hash the empty string.
	ErrEmptyPassword = errors.New("password: empty password")
	// ErrInvalidParams means a Params or Limits value given to NewHasher is
	// out of range.
	ErrInvalidParams = errors.New("password: invalid parameters")
	// ErrBusy means a Pool could not start the work before the caller's
	// context or the pool's maximum wait expired. Servers typically answer
	// 503 with Retry-After.
	ErrBusy = errors.New("password: busy")
	// ErrPolicy is wrapped by every *PolicyError.
	ErrPolicy = errors.New("password: does not meet policy")
)
