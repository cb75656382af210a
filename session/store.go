package session

import (
	"context"
	"errors"
	"time"
)

// Errors returned by this package.
var (
	// ErrNotSupported is returned by Manager methods that need a power the
	// store lacks (listing or ending a user's sessions, sweeping).
	ErrNotSupported = errors.New("session: not supported by the store")
	// ErrNotFound is returned by Manager.RevokeOne when the handle names no
	// live session of that user.
	ErrNotFound = errors.New("session: no such session")
	// ErrTooLarge is returned when an encoded session exceeds MaxDataSize (or,
	// for cookie stores, the size a browser keeps).
	ErrTooLarge = errors.New("session: too large")
	// ErrInvalidData is returned when stored session data cannot be decoded.
	ErrInvalidData = errors.New("session: invalid data")
	// ErrResponseAborted is returned by the wrapped ResponseWriter's Write
	// after the session could not be saved and the error handler answered
	// instead of the handler.
	ErrResponseAborted = errors.New("session: response aborted after a store failure")
)

// Record is what a Store keeps for one session.
type Record struct {
	// UserID is the signed-in user, or "" for an anonymous session. It is
	// valid UTF-8 without NUL bytes (SQL text columns cannot hold NUL).
	UserID string
	// Data is the session's encoded state; stores treat it as opaque bytes.
	Data []byte
	// Expiry is the instant after which the record must no longer be found.
	Expiry time.Time
}

// Entry pairs a record with its id, as returned by UserLister.
type Entry struct {
	ID     string
	Record Record
}

// Store keeps session records by id. The id the Manager passes is the
// SHA-256 of the session token (64 lowercase hex characters), never the
// token itself.
//
// Implementations must be safe for concurrent use. A record whose Expiry is
// not after the store's current time must not be returned by Find.
type Store interface {
	// Find returns the live record with this id. An unknown or expired id
	// is found == false with a nil error; err is for store failures only.
	Find(ctx context.Context, id string) (rec Record, found bool, err error)
	// Save creates or replaces the record with this id.
	Save(ctx context.Context, id string, rec Record) error
	// Delete removes the record with this id; deleting an unknown id is not
	// an error.
	Delete(ctx context.Context, id string) error
}

// UserLister is implemented by stores that can list a user's sessions.
type UserLister interface {
	// FindByUser returns the live records of userID. Anonymous records
	// (UserID "") are never listed: FindByUser(ctx, "") returns nothing.
	FindByUser(ctx context.Context, userID string) ([]Entry, error)
}

// UserDeleter is implemented by stores that can end all of a user's sessions.
type UserDeleter interface {
	// DeleteByUser removes every record of userID except the one whose id
	// is exceptID ("" keeps none) and reports how many it removed (expired
	// records not yet swept may be counted). DeleteByUser(ctx, "", x)
	// removes nothing.
	DeleteByUser(ctx context.Context, userID, exceptID string) (int, error)
}

// Sweeper is implemented by stores whose expired records stay until removed.
type Sweeper interface {
	// DeleteExpired removes every expired record and reports how many.
	DeleteExpired(ctx context.Context) (int, error)
}

// CookieCodec is implemented by stores that keep the whole session in the
// cookie (such as session/cookiestore). When the Manager's store implements
// it, the Manager never calls Find, Save or Delete: it encodes the id and the
// record into the cookie value and decodes them from it.
type CookieCodec interface {
	Store
	// EncodeCookie returns the cookie value carrying id and rec, or an
	// error wrapping ErrTooLarge when it would not fit in a cookie.
	EncodeCookie(id string, rec Record) (string, error)
	// DecodeCookie returns the id and record carried by a cookie value.
	// Any invalid, tampered, truncated or expired value is ok == false.
	DecodeCookie(value string) (id string, rec Record, ok bool)
}
