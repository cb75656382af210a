// Package cookiestore keeps the whole session in an encrypted cookie, so the
// server stores nothing.
//
// Pass a Store to session.NewManager: it implements session.CookieCodec, so
// the Manager puts the sealed record in the cookie instead of a token, and
// never calls Find, Save or Delete. The cookie is sealed with an AEAD (such
// as keyring.NewAEAD(keys, "session-cookie")): tampered, truncated, spliced,
// oversized or expired cookies simply give an anonymous session.
//
// What a cookie store cannot do:
//
//   - List a user's sessions, or revoke one or all of them: the Manager's
//     List, RevokeOne and RevokeAll return session.ErrNotSupported.
//   - Destroy on the server: sign-out deletes the cookie in the browser, but
//     a copy of it stays valid until it expires (the idle timeout or
//     lifetime). To end copies early, the app keeps a per-user "valid after"
//     time and treats a session whose AuthAt (or CreatedAt) is earlier as
//     signed out.
//   - Hold much: the sealed value must fit MaxValueSize bytes.
package cookiestore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/session"
)

// AEAD seals and opens cookie payloads. keyring.AEAD implements it.
type AEAD interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// MaxValueSize bounds the cookie value, leaving room for the cookie's name
// and attributes within the 4096 bytes browsers keep for one cookie.
const MaxValueSize = 3900

// maxUserID bounds the user id carried in a cookie.
const maxUserID = 1024

// ErrTooLarge is returned by EncodeCookie when the sealed session would not
// fit in a cookie. It matches session.ErrTooLarge too.
var ErrTooLarge = fmt.Errorf("cookiestore: %w for a cookie", session.ErrTooLarge)

// DefaultPurpose is the additional data bound into every sealed cookie.
const DefaultPurpose = "gatehouse session cookie v1"

const (
	version    = 1
	idBytes    = 32
	headerSize = 1 + idBytes + 8
)

// Store is a session store in an encrypted cookie. It is safe for
// concurrent use if its AEAD is.
type Store struct {
	aead AEAD
	ad   []byte
	now  func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// Now sets the clock used to reject expired cookies (default time.Now).
func Now(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Purpose sets the additional data bound into the seal, so that cookies of
// different apps sharing keys cannot be swapped (default DefaultPurpose).
func Purpose(p string) Option { return func(s *Store) { s.ad = []byte(p) } }

// New returns a Store sealing cookies with aead.
func New(aead AEAD, opts ...Option) (*Store, error) {
	if aead == nil {
		return nil, errors.New("cookiestore: nil AEAD")
	}
	s := &Store{aead: aead, ad: []byte(DefaultPurpose), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, errors.New("cookiestore: nil clock")
	}
	return s, nil
}

var _ session.CookieCodec = (*Store)(nil)

// Find always reports not found: the session lives in the cookie, which the
// Manager decodes with DecodeCookie.
func (s *Store) Find(context.Context, string) (session.Record, bool, error) {
	return session.Record{}, false, nil
}

// Save returns session.ErrNotSupported: nothing is kept on the server.
func (s *Store) Save(context.Context, string, session.Record) error {
	return session.ErrNotSupported
}

// Delete does nothing: nothing is kept on the server, so a copied cookie
// stays valid until it expires.
func (s *Store) Delete(context.Context, string) error { return nil }

// EncodeCookie seals id and rec into a cookie value (base64url). The
// plaintext is: version 1, the 32-byte id, the expiry in Unix milliseconds
// (8 bytes, big-endian), the user id with a uvarint length, then the data.
func (s *Store) EncodeCookie(id string, rec session.Record) (string, error) {
	rawID, err := hex.DecodeString(id)
	if err != nil || !session.ValidHandle(id) {
		return "", errors.New("cookiestore: id is not a session handle")
	}
	if len(rec.UserID) > maxUserID {
		return "", fmt.Errorf("%w: user id of %d bytes", ErrTooLarge, len(rec.UserID))
	}
	// Refuse early what cannot fit, before sealing.
	if n := base64.RawURLEncoding.EncodedLen(headerSize + binary.MaxVarintLen64 + len(rec.UserID) + len(rec.Data)); n > 2*MaxValueSize {
		return "", fmt.Errorf("%w: %d bytes of data", ErrTooLarge, len(rec.Data))
	}
	pt := make([]byte, 0, headerSize+binary.MaxVarintLen64+len(rec.UserID)+len(rec.Data))
	pt = append(pt, version)
	pt = append(pt, rawID...)
	pt = binary.BigEndian.AppendUint64(pt, uint64(rec.Expiry.UnixMilli()))
	pt = binary.AppendUvarint(pt, uint64(len(rec.UserID)))
	pt = append(pt, rec.UserID...)
	pt = append(pt, rec.Data...)
	sealed, err := s.aead.Seal(pt, s.ad)
	if err != nil {
		return "", fmt.Errorf("cookiestore: seal: %w", err)
	}
	v := base64.RawURLEncoding.EncodeToString(sealed)
	if len(v) > MaxValueSize {
		return "", fmt.Errorf("%w: %d bytes sealed, limit %d", ErrTooLarge, len(v), MaxValueSize)
	}
	return v, nil
}

// DecodeCookie opens a cookie value. Anything oversized, malformed,
// tampered with, sealed for another purpose or expired is ok == false.
func (s *Store) DecodeCookie(value string) (id string, rec session.Record, ok bool) {
	if len(value) == 0 || len(value) > MaxValueSize {
		return "", session.Record{}, false
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return "", session.Record{}, false
	}
	pt, err := s.aead.Open(sealed, s.ad)
	if err != nil || len(pt) < headerSize || pt[0] != version {
		return "", session.Record{}, false
	}
	rawID, rest := pt[1:1+idBytes], pt[1+idBytes:]
	exp := int64(binary.BigEndian.Uint64(rest))
	rest = rest[8:]
	if exp <= s.now().UnixMilli() {
		return "", session.Record{}, false
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxUserID || n > uint64(len(rest)-k) {
		return "", session.Record{}, false
	}
	rest = rest[k:]
	rec = session.Record{
		UserID: string(rest[:n]),
		Data:   append([]byte(nil), rest[n:]...),
		Expiry: time.UnixMilli(exp),
	}
	return hex.EncodeToString(rawID), rec, true
}
